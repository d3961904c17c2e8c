//! What Services allocate, as kube-apiserver's allocators hand it out: cluster IPs from the
//! service range (`10.0.0.0/24`, the reference control plane's `--service-cluster-ip-range`;
//! `10.0.0.1` is the `kubernetes` Service's) and node ports from `30000-32767`. Dynamic picks are
//! random and prefer the upper part of each range, leaving the lower band for values clients
//! choose, as kube-apiserver's allocators do.
//!
//! The allocations are an index of the stored Services (rebuilt from the store at start, kept
//! current after every Service write) plus short-lived claims for writes in flight, so a pick
//! never needs the store while a transaction holds it.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The service range's network address and prefix length.
const SERVICE_NETWORK: (Ipv4Addr, u32) = (Ipv4Addr::new(10, 0, 0, 0), 24);
/// The node port range.
pub const NODE_PORTS: std::ops::RangeInclusive<u32> = 30000..=32767;
/// How long a value handed out stays reserved for the write that asked for it.
const CLAIM: Duration = Duration::from_secs(30);

/// One allocatable value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Resource {
    /// A cluster IP.
    Ip(Ipv4Addr),
    /// A node port (also health-check node ports).
    Port(u32),
}

/// Why a requested value cannot be had.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Outside the range.
    OutOfRange,
    /// Another Service holds it.
    Taken,
}

#[derive(Default)]
struct Inner {
    /// Value -> the Service (`namespace/name`) holding it.
    owners: HashMap<Resource, String>,
    /// Values handed out to writes not yet stored.
    claims: HashMap<Resource, (String, Instant)>,
}

/// The cluster IPs and node ports in use.
#[derive(Default)]
pub struct Allocations {
    inner: Mutex<Inner>,
}

/// The cluster IP range as (first usable, last usable) host numbers.
fn host_range() -> (u32, u32) {
    let (net, bits) = SERVICE_NETWORK;
    let base = u32::from(net);
    let size = 1u32 << (32 - bits);
    (base + 1, base + size - 2)
}

/// Whether `ip` is in the service range (network and broadcast addresses excluded).
pub fn in_service_range(ip: Ipv4Addr) -> bool {
    let (first, last) = host_range();
    (first..=last).contains(&u32::from(ip))
}

impl Allocations {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the index with what `services` hold: (`namespace/name`, its values).
    pub fn rebuild(&self, services: impl IntoIterator<Item = (String, Vec<Resource>)>) {
        let mut inner = self.lock();
        inner.owners.clear();
        for (owner, held) in services {
            for r in held {
                inner.owners.insert(r, owner.clone());
            }
        }
    }

    /// Records that Service `owner` now holds exactly `held` (nothing once it is deleted); its
    /// claims are settled by the write.
    pub fn set(&self, owner: &str, held: Vec<Resource>) {
        let mut inner = self.lock();
        inner.owners.retain(|_, o| o != owner);
        inner.claims.retain(|_, (o, _)| o != owner);
        for r in held {
            inner.owners.insert(r, owner.to_string());
        }
    }

    /// Reserves `r` for `owner`, as asked for by the client.
    pub fn claim(&self, owner: &str, r: Resource) -> Result<(), Refused> {
        let in_range = match &r {
            Resource::Ip(ip) => in_service_range(*ip),
            Resource::Port(p) => NODE_PORTS.contains(p),
        };
        if !in_range {
            return Err(Refused::OutOfRange);
        }
        let mut inner = self.lock();
        inner.expire_claims();
        if !inner.free_for(&r, owner) {
            return Err(Refused::Taken);
        }
        inner.claims.insert(r, (owner.to_string(), Instant::now()));
        Ok(())
    }

    /// A free cluster IP for `owner`, reserved for it.
    pub fn allocate_ip(&self, owner: &str) -> Option<Ipv4Addr> {
        let (first, last) = host_range();
        match self.allocate(owner, (first, last), (16, 256), |n| Resource::Ip(Ipv4Addr::from(n)))? {
            Resource::Ip(ip) => Some(ip),
            Resource::Port(_) => None,
        }
    }

    /// A free node port for `owner`, reserved for it.
    pub fn allocate_port(&self, owner: &str) -> Option<u32> {
        match self.allocate(owner, (*NODE_PORTS.start(), *NODE_PORTS.end()), (32, 128), Resource::Port)? {
            Resource::Port(p) => Some(p),
            Resource::Ip(_) => None,
        }
    }

    /// A random free value of `first..=last` in the upper band, then in the lower band when the
    /// upper is full. The lower band is kept for values clients choose: `1/step` of the range,
    /// at least 16 values and at most `max` (kube-apiserver's split: 1/16 up to 256 for IPs,
    /// 1/32 up to 128 for node ports).
    fn allocate(
        &self,
        owner: &str,
        (first, last): (u32, u32),
        (step, max): (u32, u32),
        make: impl Fn(u32) -> Resource,
    ) -> Option<Resource> {
        use rand::Rng;
        let size = last - first + 1;
        let band = (size / step).clamp(16, max).min(size);
        let mut inner = self.lock();
        inner.expire_claims();
        let mut rng = rand::rng();
        for (lo, hi) in [(first + band, last), (first, first + band - 1)] {
            if lo > hi {
                continue;
            }
            let span = hi - lo + 1;
            let start = rng.random_range(0..span);
            for i in 0..span {
                let r = make(lo + (start + i) % span);
                if inner.free_for(&r, owner) {
                    inner.claims.insert(r.clone(), (owner.to_string(), Instant::now()));
                    return Some(r);
                }
            }
        }
        None
    }
}

impl Inner {
    /// Drops the claims of writes that never came (once per pick, not per value tried).
    fn expire_claims(&mut self) {
        let now = Instant::now();
        self.claims.retain(|_, (_, at)| now.duration_since(*at) < CLAIM);
    }

    /// Whether `r` is neither held nor claimed by a Service other than `owner`.
    fn free_for(&self, r: &Resource, owner: &str) -> bool {
        self.owners.get(r).is_none_or(|o| o == owner) && self.claims.get(r).is_none_or(|(o, _)| o == owner)
    }
}

/// What the stored Service `svc` holds: its cluster IPs, node ports and health-check node port.
pub fn held_by(svc: &serde_json::Value) -> Vec<Resource> {
    use serde_json::Value;
    let spec = |f: &str| svc.pointer(&format!("/spec/{f}"));
    let ips = spec("clusterIPs").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str);
    let ports = spec("ports").and_then(Value::as_array).into_iter().flatten().filter_map(|p| p.get("nodePort"));
    let health = spec("healthCheckNodePort");
    ips.filter_map(|ip| ip.parse().ok().map(Resource::Ip))
        .chain(ports.chain(health).filter_map(Value::as_u64).filter_map(|p| u32::try_from(p).ok()).map(Resource::Port))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_are_free_in_range_and_prefer_the_upper_band() {
        let a = Allocations::default();
        a.set("default/kubernetes", vec![Resource::Ip(Ipv4Addr::new(10, 0, 0, 1))]);
        let mut seen = std::collections::HashSet::new();
        for i in 0..238 {
            let ip = a.allocate_ip(&format!("ns/s{i}")).unwrap();
            assert!(in_service_range(ip) && u32::from(ip) > u32::from(Ipv4Addr::new(10, 0, 0, 16)), "{ip}");
            assert!(seen.insert(ip), "{ip} twice");
        }
        // The upper band is full: the lower one is used, never 10.0.0.1 (held) nor .0/.255.
        let ip = a.allocate_ip("ns/last").unwrap();
        assert!(u32::from(ip) <= u32::from(Ipv4Addr::new(10, 0, 0, 16)) && ip != Ipv4Addr::new(10, 0, 0, 1), "{ip}");
        let port = a.allocate_port("ns/p").unwrap();
        assert!((30086..=32767).contains(&port), "{port}"); // 2768 / 32 = 86 kept below
    }

    #[test]
    fn claims_refuse_what_another_service_holds_or_asked_for() {
        let a = Allocations::default();
        a.set("ns/a", vec![Resource::Port(30444)]);
        assert_eq!(a.claim("ns/b", Resource::Port(30444)), Err(Refused::Taken));
        assert_eq!(a.claim("ns/a", Resource::Port(30444)), Ok(()));
        assert_eq!(a.claim("ns/b", Resource::Port(80)), Err(Refused::OutOfRange));
        assert_eq!(a.claim("ns/b", Resource::Ip(Ipv4Addr::new(10, 9, 0, 1))), Err(Refused::OutOfRange));
        assert_eq!(a.claim("ns/b", Resource::Ip(Ipv4Addr::new(10, 0, 0, 200))), Ok(()));
        assert_eq!(a.claim("ns/c", Resource::Ip(Ipv4Addr::new(10, 0, 0, 200))), Err(Refused::Taken));
        // Once the Service is gone, its values are free again.
        a.set("ns/a", Vec::new());
        assert_eq!(a.claim("ns/c", Resource::Port(30444)), Ok(()));
    }
}
