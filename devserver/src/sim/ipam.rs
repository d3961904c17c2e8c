//! SIMULATION: pod IP address management for the simulated kubelet.
//!
//! Every simulated pod gets its own address in 127.0.0.0/8, so the process (and the controller
//! under test, on the same machine) can reach each pod's simulated bitcoind on the same port, as
//! it would reach real pod IPs. Allocation starts at 127.0.0.2 (127.0.0.1 is the "node", the
//! hostIP) and takes the lowest free address.
//!
//! Invariant: an address is held by at most one pod in the whole process, even across several
//! simulations (tests run in parallel threads): a process-wide set records the addresses in use.
//! When the caller knows the port the pod will listen on, the allocator also skips addresses
//! where that port is already bound (another process on the machine), by binding it; the bound
//! socket is kept for the pod ([`Ipam::take_listener`]) so no other process can take the port
//! between allocation and the simulated program's start.

use super::PodKey;
use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;
use std::time::Instant;

/// Addresses (as u32) held by any simulation in this process.
static IN_USE: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

const FIRST: u32 = u32::from_be_bytes([127, 0, 0, 2]);
const LAST: u32 = u32::from_be_bytes([127, 255, 255, 254]);

/// What the kubelet remembers about a pod it runs.
#[derive(Clone, Debug)]
pub struct PodRecord {
    /// The pod's uid; a new uid under the same name is a new pod (new address, new start).
    pub uid: String,
    /// The pod's address.
    pub ip: Ipv4Addr,
    /// When the pod started (status.startTime, containers' startedAt).
    pub started_at: String,
    /// When the simulated readiness probe first succeeds.
    pub ready_at: Instant,
    /// When the pod last turned Ready (the Ready condition's lastTransitionTime).
    pub ready_since: Option<String>,
    /// Container restarts (bumped by `SimHandle::restart_node`).
    pub restarts: i32,
}

/// The address table of one simulation.
#[derive(Default)]
pub struct Ipam {
    pods: Mutex<HashMap<PodKey, PodRecord>>,
    /// Sockets bound at allocation, waiting for the pod's program (dropped with the record).
    listeners: Mutex<HashMap<PodKey, std::net::TcpListener>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Ipam {
    /// The record of a running pod with this uid, allocating an address for a new pod (or a new
    /// uid under an old name). `None` when 127.0.0.0/8 is exhausted.
    pub fn ensure(&self, key: &PodKey, uid: &str, port: Option<u16>, ready_at: Instant) -> Option<PodRecord> {
        let mut pods = lock(&self.pods);
        if let Some(rec) = pods.get(key) {
            if rec.uid == uid {
                return Some(rec.clone());
            }
            release(rec.ip);
            pods.remove(key);
            lock(&self.listeners).remove(key);
        }
        let (ip, listener) = allocate(port)?;
        if let Some(l) = listener {
            lock(&self.listeners).insert(key.clone(), l);
        }
        let rec =
            PodRecord { uid: uid.to_string(), ip, started_at: super::now(), ready_at, ready_since: None, restarts: 0 };
        pods.insert(key.clone(), rec.clone());
        Some(rec)
    }

    /// Updates a record in place (e.g. the time it turned Ready).
    pub fn update(&self, key: &PodKey, f: impl FnOnce(&mut PodRecord)) {
        if let Some(rec) = lock(&self.pods).get_mut(key) {
            f(rec);
        }
    }

    /// The address of a pod the kubelet runs.
    pub fn ip_of(&self, key: &PodKey) -> Option<IpAddr> {
        lock(&self.pods).get(key).map(|r| IpAddr::V4(r.ip))
    }

    /// Counts a container restart.
    pub fn count_restart(&self, key: &PodKey) {
        self.update(key, |r| r.restarts += 1);
    }

    /// The socket bound for this pod at `addr` when its address was allocated, once.
    pub fn take_listener(&self, key: &PodKey, addr: std::net::SocketAddr) -> Option<std::net::TcpListener> {
        let mut listeners = lock(&self.listeners);
        let matches = listeners.get(key).and_then(|l| l.local_addr().ok()) == Some(addr);
        if matches { listeners.remove(key) } else { None }
    }

    /// Frees the addresses of pods that no longer exist (keys not in `alive`).
    pub fn retain(&self, alive: &dyn Fn(&PodKey, &PodRecord) -> bool) {
        let mut gone = Vec::new();
        lock(&self.pods).retain(|k, r| {
            let keep = alive(k, r);
            if !keep {
                tracing::debug!(pod = %k, ip = %r.ip, "simulated kubelet: released pod IP");
                release(r.ip);
                gone.push(k.clone());
            }
            keep
        });
        let mut listeners = lock(&self.listeners);
        for k in gone {
            listeners.remove(&k);
        }
    }

    /// Frees every address (the simulation stops).
    pub fn release_all(&self) {
        for (_, rec) in lock(&self.pods).drain() {
            release(rec.ip);
        }
        lock(&self.listeners).clear();
    }
}

fn allocate(port: Option<u16>) -> Option<(Ipv4Addr, Option<std::net::TcpListener>)> {
    let mut in_use = lock(&IN_USE);
    let mut n = FIRST;
    while n <= LAST {
        let last_octet = n & 0xff;
        if last_octet != 0 && last_octet != 255 && !in_use.contains(&n) {
            let ip = Ipv4Addr::from(n);
            let reserved = match port {
                Some(port) => match std::net::TcpListener::bind((ip, port)) {
                    Ok(l) => Some(Some(l)),
                    Err(_) => None,
                },
                None => Some(None),
            };
            if let Some(listener) = reserved {
                in_use.insert(n);
                return Some((ip, listener));
            }
        }
        n += 1;
    }
    None
}

fn release(ip: Ipv4Addr) {
    lock(&IN_USE).remove(&u32::from(ip));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_distinct_and_reused_after_release() {
        let ipam = Ipam::default();
        let now = Instant::now();
        let a = ipam.ensure(&PodKey::new("ns", "a"), "u1", None, now).expect("a");
        let b = ipam.ensure(&PodKey::new("ns", "b"), "u2", None, now).expect("b");
        assert_ne!(a.ip, b.ip);
        assert!(a.ip.is_loopback() && b.ip.is_loopback());
        assert_ne!(a.ip, Ipv4Addr::new(127, 0, 0, 1));
        // same uid: same record; new uid under the same name: a new pod
        assert_eq!(ipam.ensure(&PodKey::new("ns", "a"), "u1", None, now).expect("a").ip, a.ip);
        let a2 = ipam.ensure(&PodKey::new("ns", "a"), "u3", None, now).expect("a2");
        assert_eq!(a2.uid, "u3");
        // A known port is reserved by binding it, and handed out once.
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let key = PodKey::new("ns", "c");
        let c = ipam.ensure(&key, "u4", Some(port), now).expect("c");
        let addr = std::net::SocketAddr::from((c.ip, port));
        assert!(std::net::TcpListener::bind(addr).is_err(), "reserved until taken");
        assert!(ipam.take_listener(&key, std::net::SocketAddr::from((c.ip, port.wrapping_add(1)))).is_none());
        let taken = ipam.take_listener(&key, addr).expect("reserved socket");
        assert_eq!(taken.local_addr().ok(), Some(addr));
        assert!(ipam.take_listener(&key, addr).is_none(), "only once");
        ipam.retain(&|k, _| k.name != "b");
        assert!(ipam.ip_of(&PodKey::new("ns", "b")).is_none());
        assert!(!lock(&IN_USE).contains(&u32::from(b.ip)));
        ipam.release_all();
        assert!(ipam.ip_of(&PodKey::new("ns", "a")).is_none());
    }
}
