//! Hostile and careless clients (see `devserver::limits`), each bounded in time and on loopback:
//! bodies over the limit are refused before they are read, an anonymous client cannot make the
//! server buffer a body, slow and idle connections are closed within their timeouts, the
//! in-flight cap answers 429 with Retry-After, objects and history are bounded in bytes, big
//! requests do not stall small ones, 2,000 watches are held at once, and running out of file
//! descriptors neither spins the accept loop nor keeps the server from recovering.

use devserver::DevServer;
use devserver::limits::LimitSettings;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn short_timeouts() -> LimitSettings {
    LimitSettings {
        header_read_timeout: Duration::from_millis(300),
        tls_handshake_timeout: Duration::from_millis(300),
        body_timeout: Duration::from_millis(300),
        ..Default::default()
    }
}

/// Sends `head` (and nothing else) and returns the status line of the answer.
async fn status_line(addr: SocketAddr, head: &str) -> String {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(head.as_bytes()).await.expect("send");
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf))
        .await
        .expect("answered in time")
        .expect("read");
    String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or_default().to_string()
}

/// Waits for the server to close `tcp`; returns how long that took.
async fn closed_within(tcp: &mut TcpStream, limit: Duration) -> Duration {
    let start = Instant::now();
    let mut buf = vec![0u8; 4096];
    loop {
        match tokio::time::timeout(limit, tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return start.elapsed(),
            Ok(Ok(_)) => continue, // an answer (e.g. 408) before the close
            Err(_) => panic!("the connection was still open after {limit:?}"),
        }
    }
}

#[tokio::test]
async fn a_declared_body_over_the_limit_is_refused_before_it_is_sent() {
    let server = DevServer::builder().start().await.expect("server");
    let head = "POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\n\
                Content-Type: application/json\r\nContent-Length: 62914560\r\n\r\n";
    let started = Instant::now();
    assert!(status_line(server.addr(), head).await.contains(" 413 "));
    assert!(started.elapsed() < Duration::from_secs(2), "answered without waiting for 60 MB");
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_cut_off_at_the_limit() {
    let server = DevServer::builder()
        .limits(LimitSettings { max_request_body_bytes: 64 * 1024, ..Default::default() })
        .start()
        .await
        .expect("server");
    let mut tcp = TcpStream::connect(server.addr()).await.expect("connect");
    let head = "POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\n\
                Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    tcp.write_all(head.as_bytes()).await.expect("head");
    let chunk = vec![b'x'; 16 * 1024];
    let mut answer = Vec::new();
    for _ in 0..64 {
        let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
        if tcp.write_all(&frame).await.is_err() {
            break; // the server already answered and closed
        }
        let mut buf = vec![0u8; 4096];
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(20), tcp.read(&mut buf)).await
            && n > 0
        {
            answer.extend_from_slice(&buf[..n]);
            break;
        }
    }
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("Request entity too large: limit is 65536"), "{text}");
}

#[tokio::test]
async fn a_body_that_never_arrives_times_out() {
    let server = DevServer::builder().limits(short_timeouts()).start().await.expect("server");
    let head = "POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\n\
                Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"kind\":";
    let started = Instant::now();
    let line = status_line(server.addr(), head).await;
    assert!(line.contains(" 504 "), "{line}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn slow_headers_and_idle_keep_alive_connections_are_closed() {
    let server = DevServer::builder().limits(short_timeouts()).start().await.expect("server");
    // Headers that never finish.
    let mut slow = TcpStream::connect(server.addr()).await.expect("connect");
    slow.write_all(b"GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\n").await.expect("send");
    let took = closed_within(&mut slow, Duration::from_secs(5)).await;
    assert!(took < Duration::from_secs(2), "slow headers held for {took:?}");
    // A connection that never sends anything.
    let mut silent = TcpStream::connect(server.addr()).await.expect("connect");
    let took = closed_within(&mut silent, Duration::from_secs(5)).await;
    assert!(took < Duration::from_secs(2), "a silent connection held for {took:?}");
    // A kept-alive connection after one answered request.
    let mut idle = TcpStream::connect(server.addr()).await.expect("connect");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("send");
    let took = closed_within(&mut idle, Duration::from_secs(5)).await;
    assert!(took < Duration::from_secs(2), "an idle keep-alive connection held for {took:?}");
}

#[tokio::test]
async fn a_tls_handshake_that_never_happens_is_cut_off() {
    let server = DevServer::builder().tls(true).limits(short_timeouts()).start().await.expect("server");
    let mut tcp = TcpStream::connect(server.addr()).await.expect("connect");
    let took = closed_within(&mut tcp, Duration::from_secs(5)).await;
    assert!(took < Duration::from_secs(2), "a silent TLS connection held for {took:?}");
}

#[tokio::test]
async fn an_anonymous_client_gets_401_without_sending_its_body() {
    let server = DevServer::builder().tls(true).start().await.expect("server");
    let ca = server.ca_pem().expect("ca").to_string();
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(ca.as_bytes()) {
        roots.add(cert.expect("ca pem")).expect("root");
    }
    let config =
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("tls versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = TcpStream::connect(server.addr()).await.expect("connect");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name").to_owned();
    let mut tls = connector.connect(name, tcp).await.expect("handshake");
    let head = "POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\n\
                Content-Type: application/json\r\nContent-Length: 2000000\r\n\r\n";
    tls.write_all(head.as_bytes()).await.expect("send");
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(3), tls.read(&mut buf))
        .await
        .expect("401 before the body is sent")
        .expect("read");
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 401"), "{text}");
}

#[tokio::test]
async fn the_in_flight_cap_answers_429_with_retry_after() {
    let server = DevServer::builder()
        .limits(LimitSettings { max_mutating_requests_inflight: 1, ..Default::default() })
        .start()
        .await
        .expect("server");
    server.faults().latency(Duration::from_millis(500));
    let body = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"NAME"}}"#;
    let request = |name: &str| {
        let body = body.replace("NAME", name);
        format!(
            "POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let addr = server.addr();
    let (first, second) = (request("a"), request("b"));
    let slow = tokio::spawn(async move { status_line(addr, &first).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(second.as_bytes()).await.expect("send");
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(2), tcp.read(&mut buf)).await.expect("answer").expect("read");
    let text = String::from_utf8_lossy(&buf[..n]).to_lowercase();
    assert!(text.starts_with("http/1.1 429"), "{text}");
    assert!(text.contains("retry-after: 1"), "{text}");
    assert!(text.contains("toomanyrequests"), "{text}");
    // Reads have their own pool: a GET still goes through while the write is in flight.
    let get = status_line(addr, "GET /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(get.contains(" 200 "), "{get}");
    assert!(slow.await.expect("first").contains(" 201 "), "the request in flight is served");
}

#[tokio::test]
async fn objects_over_the_size_limit_are_refused_like_etcd_does() {
    let server = DevServer::builder().start().await.expect("server");
    let api: Api<ConfigMap> = Api::namespaced(server.client().expect("client"), "default");
    // ConfigMap validation (1 MiB of values) answers first, as in kube-apiserver.
    let mut big = ConfigMap::default();
    big.metadata.name = Some("big".into());
    big.data = Some(BTreeMap::from([("k".to_string(), "x".repeat(1100 * 1024))]));
    let err = api.create(&PostParams::default(), &big).await.expect_err("too big");
    assert!(err.to_string().contains("Too long: may not be more than 1048576 bytes"), "{err}");
    // Growing an object by patches stops at the store's limit (etcd's 1.5 MiB) with its message.
    let small = DevServer::builder()
        .limits(LimitSettings { max_object_bytes: 200 * 1024, ..Default::default() })
        .start()
        .await
        .expect("server");
    let api: Api<ConfigMap> = Api::namespaced(small.client().expect("client"), "default");
    let mut created = ConfigMap::default();
    created.metadata.name = Some("grow".into());
    api.create(&PostParams::default(), &created).await.expect("create");
    let mut grown = None;
    for i in 0..10 {
        let patch = serde_json::json!({"data": {format!("k{i}"): "y".repeat(50 * 1024)}});
        if let Err(e) = api.patch("grow", &PatchParams::default(), &Patch::Merge(patch)).await {
            grown = Some((i, e.to_string()));
            break;
        }
    }
    let (at, msg) = grown.expect("the store refuses an object over its limit");
    assert!(at >= 3 && msg.contains("etcdserver: request is too large"), "{at}: {msg}");
}

#[tokio::test]
async fn history_is_bounded_in_bytes() {
    let server = DevServer::builder().history_bytes_limit(4 * 1024 * 1024).start().await.expect("server");
    let api: Api<ConfigMap> = Api::namespaced(server.client().expect("client"), "default");
    for i in 0..20 {
        let patch = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"},
            "data": {"k": format!("{i}{}", "z".repeat(900 * 1024))}});
        api.patch("big", &PatchParams::apply("t").force(), &Patch::Apply(patch)).await.expect("patch");
    }
    let (events, bytes) = server.history_size("/configmaps");
    assert!(bytes <= 4 * 1024 * 1024, "{events} events hold {bytes} bytes");
    assert!(events >= 2, "the newest events stay resumable");
}

/// Two creates of ConfigMaps with 50,000 keys each (with their managedFields close to the 1.5 MiB object limit) must not
/// stall an unrelated GET: heavy decoding runs off the async workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_requests_do_not_stall_small_ones() {
    let server = DevServer::builder().start().await.expect("server");
    let client = server.client().expect("client");
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut small = ConfigMap::default();
    small.metadata.name = Some("small".into());
    api.create(&PostParams::default(), &small).await.expect("small");
    let big = |name: &str| {
        let mut c = ConfigMap::default();
        c.metadata.name = Some(name.to_string());
        c.data = Some((0..50_000).map(|i| (format!("k{i}"), "v".to_string())).collect());
        c
    };
    let (a, b) = (big("big-a"), big("big-b"));
    // The big writers are other processes in real life: their own runtime here, so encoding
    // their requests does not occupy the server's workers.
    let writer_config = server.client_config();
    let writes = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async move {
            let client = kube::Client::try_from(writer_config).expect("client");
            let (api_a, api_b): (Api<ConfigMap>, Api<ConfigMap>) =
                (Api::namespaced(client.clone(), "default"), Api::namespaced(client, "default"));
            let started = Instant::now();
            let pp = PostParams::default();
            let (ra, rb) = tokio::join!(api_a.create(&pp, &a), api_b.create(&pp, &b));
            ra.expect("big-a");
            rb.expect("big-b");
            started.elapsed()
        })
    });
    let mut worst = Duration::ZERO;
    let mut gets = 0;
    while !writes.is_finished() {
        let started = Instant::now();
        api.get("small").await.expect("get");
        worst = worst.max(started.elapsed());
        gets += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = writes.join().expect("writes");
    println!("two 50,000-key creates took {took:?}; {gets} GETs meanwhile, the slowest {worst:?}");
    assert!(gets > 0);
    assert!(worst < Duration::from_millis(100), "a GET waited {worst:?} behind two big creates");
}

/// 2,000 watches open at once (each its own connection, as 2,000 informers would hold), and a
/// change reaches every one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_watches_are_held_and_all_see_a_change() {
    const WATCHES: usize = 2_000;
    let server = DevServer::builder().start().await.expect("server");
    let addr = server.addr();
    let started = Instant::now();
    let mut streams = Vec::with_capacity(WATCHES);
    for _ in 0..WATCHES {
        let mut tcp = TcpStream::connect(addr).await.expect("connect");
        tcp.write_all(
            b"GET /api/v1/namespaces/default/configmaps?watch=true&resourceVersion=1 HTTP/1.1\r\nHost: x\r\n\r\n",
        )
        .await
        .expect("send");
        streams.push(tcp);
    }
    let mut seen = 0usize;
    let api: Api<ConfigMap> = Api::namespaced(server.client().expect("client"), "default");
    let mut c = ConfigMap::default();
    c.metadata.name = Some("ping".into());
    api.create(&PostParams::default(), &c).await.expect("create");
    for tcp in &mut streams {
        let mut got = Vec::new();
        let mut buf = vec![0u8; 8192];
        while !String::from_utf8_lossy(&got).contains("\"name\":\"ping\"") {
            let n = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut buf))
                .await
                .expect("the event arrives")
                .expect("read");
            assert!(n > 0, "a watch was closed");
            got.extend_from_slice(&buf[..n]);
        }
        assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));
        seen += 1;
    }
    println!("{seen} watches held and notified in {:?}", started.elapsed());
    assert_eq!(seen, WATCHES);
}

/// Out of file descriptors: the accept loop backs off instead of spinning a core, and the server
/// serves again once descriptors are free. Runs the binary under `ulimit -n 64` (bash).
#[cfg(target_os = "linux")]
#[tokio::test]
async fn running_out_of_file_descriptors_neither_spins_nor_sticks() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    let mut child = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "ulimit -n 64 && exec {} --addr 127.0.0.1:0 --kubeconfig-out {}",
            env!("CARGO_BIN_EXE_devserver"),
            kubeconfig.display()
        ))
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("bash runs the devserver");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stdout = child.stdout.take().expect("stdout");
    let child = Kill(child);
    let mut lines = std::io::BufReader::new(stdout).lines();
    let url = loop {
        let line = lines.next().expect("the devserver starts").expect("line");
        if let Some(url) = line.strip_prefix("devserver listening on http://") {
            break url.to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let addr: SocketAddr = url.parse().expect("address");
    let cpu = |pid: u32| -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
        let fields: Vec<&str> = stat.rsplit_once(')').expect("comm").1.split_whitespace().collect();
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
    };
    // Hold more connections than the server has descriptors.
    let mut held = Vec::new();
    for _ in 0..120 {
        held.push(TcpStream::connect(addr).await.expect("connect (the kernel accepts into the backlog)"));
    }
    let pid = child.0.id();
    let before = cpu(pid);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ticks = cpu(pid) - before; // clock ticks, 100 per second
    assert!(ticks < 40, "the server used {ticks} ticks in 2 s while out of descriptors (spinning)");
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if status_line(addr, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.contains(" 200 ") {
            break;
        }
        assert!(Instant::now() < deadline, "the server did not recover after descriptors were freed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
