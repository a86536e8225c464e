//! Hostile clients against the real binary, each bounded in count and time
//! and talking only to loopback: many connections at once, idle connections
//! past the cap, slow heads and bodies, `Expect: 100-continue` without a
//! body, unfinished chunked bodies, oversized heads, ambiguous framing,
//! running out of file descriptors, and SIGTERM with all of these stalled.
//! Meanwhile a normal client must still be served.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::*;

/// A kept-alive `GET path` (no `Connection: close`).
fn keep_alive_get(addr: &str, path: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.into_bytes()
}

fn open(addr: &str) -> TcpStream {
    let stream = connect(addr, Duration::from_secs(5)).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    stream
}

/// Bytes until the server closes the connection (or `within` passes), and
/// whether it did close.
fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (Vec<u8>, bool) {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
        match stream.read(&mut buf) {
            Ok(0) => return (got, true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (got, true),
            Err(_) => {}
        }
    }
    (got, false)
}

fn assert_healthy_quickly(srv: &TestServer, what: &str) {
    let started = Instant::now();
    let r = send_raw(
        srv.addr(),
        &build_request(srv.addr(), "GET", "/health", &[], None),
        Duration::from_secs(3),
    )
    .unwrap_or_else(|e| panic!("{what}: a normal client got no answer: {e}"));
    r.assert_status(200, what);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{what}: a normal client waited {:?}",
        started.elapsed()
    );
}

/// Requests that stall: a head never finished, a body never sent, an
/// `Expect: 100-continue` whose body never comes, a chunked body never ended.
fn stalled_clients(addr: &str) -> Vec<TcpStream> {
    let heads: [&[u8]; 4] = [
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ",
        b"POST /oauth/provider/token HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\ngrant_type=",
        b"POST /oauth/provider/token HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n",
        b"POST /oauth/provider/token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n40\r\ngrant_type=",
    ];
    let mut stalled = Vec::new();
    // Twice over: more stalled requests than the server has workers.
    for _ in 0..2 {
        for head in heads {
            let mut stream = open(addr);
            stream.write_all(head).expect("write stalled head");
            stalled.push(stream);
        }
    }
    stalled
}

#[test]
fn keep_alive_connections_opened_at_once_are_all_answered_within_a_second() {
    let srv = TestServer::start();
    let mut streams: Vec<TcpStream> = (0..64).map(|_| open(srv.addr())).collect();
    let started = Instant::now();
    for stream in &mut streams {
        stream
            .write_all(&keep_alive_get(srv.addr(), "/health", &[]))
            .expect("write request");
    }
    for (n, stream) in streams.iter_mut().enumerate() {
        stream
            .set_read_timeout(Some(Duration::from_secs(1)))
            .expect("timeout");
        let r = read_response(stream).unwrap_or_else(|e| panic!("connection {n}: {e}"));
        r.assert_status(200, &format!("connection {n}"));
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "64 answers took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_thousand_keep_alive_connections_are_all_answered() {
    let srv = TestServer::start();
    let mut streams: Vec<TcpStream> = (0..1024).map(|_| open(srv.addr())).collect();
    for stream in &mut streams {
        stream
            .write_all(&keep_alive_get(srv.addr(), "/.well-known/jwks.json", &[]))
            .expect("write request");
    }
    let mut answered = 0;
    for stream in &mut streams {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        if read_response(stream).is_ok_and(|r| r.status == 200) {
            answered += 1;
        }
    }
    assert_eq!(answered, 1024, "keep-alive connections answered");
}

#[test]
fn a_4_kib_answer_on_a_kept_alive_connection_does_not_wait_for_a_delayed_ack() {
    let srv = TestServer::start();
    let admin = srv.api().admin_login().access_token;
    for n in 0..24 {
        srv.api()
            .create_token(&admin, &format!("{n:03}-{}", "n".repeat(120)), Some("30m"));
    }
    let auth = bearer(&admin);
    let request = keep_alive_get(srv.addr(), "/api/tokens", &[("Authorization", &auth)]);
    let mut stream = open(srv.addr());
    let started = Instant::now();
    for _ in 0..20 {
        stream.write_all(&request).expect("write request");
        let r = read_response(&mut stream).expect("answer");
        r.assert_status(200, "listing");
        assert!(r.body.len() > 4096, "the answer is {} bytes", r.body.len());
    }
    // A 40 ms delayed-ACK stall on each would take 800 ms at least.
    assert!(
        started.elapsed() < Duration::from_millis(600),
        "20 kept-alive answers took {:?}",
        started.elapsed()
    );
}

#[test]
fn idle_connections_past_the_cap_do_not_lock_out_a_client() {
    let srv = TestServer::config()
        .arg("--max-connections")
        .arg("32")
        .start();
    let idle: Vec<TcpStream> = (0..48).map(|_| open(srv.addr())).collect();
    thread::sleep(Duration::from_millis(200));
    for n in 0..5 {
        assert_healthy_quickly(&srv, &format!("client {n} with 48 idle connections open"));
    }
    drop(idle);
}

#[test]
fn connections_over_the_cap_while_all_are_busy_get_503() {
    let srv = TestServer::config()
        .arg("--max-connections")
        .arg("4")
        .arg("--body-timeout")
        .arg("3s")
        .start();
    // Four requests in the middle of their bodies: none may be evicted.
    let mut busy = Vec::new();
    for _ in 0..4 {
        let mut stream = open(srv.addr());
        stream
            .write_all(b"POST /oauth/provider/token HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\ngrant")
            .expect("write");
        busy.push(stream);
    }
    thread::sleep(Duration::from_millis(300));
    let r = send_raw(
        srv.addr(),
        &build_request(srv.addr(), "GET", "/health", &[], None),
        Duration::from_secs(3),
    )
    .expect("an answer to the fifth connection");
    r.assert_error(503, "unavailable", "a connection over the cap");
    assert_eq!(r.header("Retry-After"), Some("1"));
}

#[test]
fn slow_clients_are_cut_off_while_a_normal_client_is_served() {
    let srv = TestServer::config()
        .arg("--header-timeout")
        .arg("1s")
        .arg("--body-timeout")
        .arg("1s")
        .start();
    let mut stalled = stalled_clients(srv.addr());
    thread::sleep(Duration::from_millis(200));
    assert_healthy_quickly(&srv, "while eight requests stall");
    let started = Instant::now();
    for (n, stream) in stalled.iter_mut().enumerate() {
        let (answer, closed) = read_until_closed(stream, Duration::from_secs(4));
        assert!(closed, "stalled client {n} was not cut off");
        let answer = String::from_utf8_lossy(&answer);
        // A stalled body is answered 408; a stalled head is just closed.
        if n % 4 != 0 {
            assert!(answer.contains(" 408 "), "stalled body {n}: {answer}");
            assert!(answer.contains("request_timeout"), "{answer}");
        }
    }
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let srv = TestServer::config().arg("--idle-timeout").arg("1s").start();
    let mut stream = open(srv.addr());
    stream
        .write_all(&keep_alive_get(srv.addr(), "/health", &[]))
        .expect("write");
    read_response(&mut stream)
        .expect("first answer")
        .assert_status(200, "first request");
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut stream, Duration::from_secs(4));
    assert!(closed, "the idle connection stayed open");
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[test]
fn oversized_heads_are_refused_with_a_json_431() {
    let srv = TestServer::start();
    let huge = "a".repeat(1 << 20);
    let many: Vec<(String, String)> = (0..10_000)
        .map(|n| (format!("X-H{n}"), "v".to_string()))
        .collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    for (what, request) in [
        (
            "a 1 MB header",
            build_request(srv.addr(), "GET", "/health", &[("X-Huge", &huge)], None),
        ),
        (
            "10,000 headers",
            build_request(srv.addr(), "GET", "/health", &many, None),
        ),
        (
            "a 20 KB request line",
            build_request(
                srv.addr(),
                "GET",
                &format!("/{}", "p".repeat(20_000)),
                &[],
                None,
            ),
        ),
    ] {
        let r = send_raw(srv.addr(), &request, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("{what}: no answer: {e}"));
        assert!(
            r.status == 431 || r.status == 414,
            "{what}: {}",
            r.describe()
        );
        let body = r.assert_json(what);
        assert!(
            body["error"].is_string() && body["message"].is_string(),
            "{body}"
        );
    }
    assert_healthy_quickly(&srv, "after the oversized heads");
}

#[test]
fn ambiguous_framing_is_refused_and_the_connection_closed() {
    let srv = TestServer::start();
    let smuggled = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    let post = |headers: &str, body: &str| {
        format!("POST /oauth/provider/token HTTP/1.1\r\nHost: x\r\n{headers}\r\n{body}{smuggled}")
    };
    for (what, request) in [
        (
            "two different Content-Lengths",
            post("Content-Length: 5\r\nContent-Length: 6\r\n", "abcde"),
        ),
        ("Content-Length: -1", post("Content-Length: -1\r\n", "")),
        ("Content-Length: abc", post("Content-Length: abc\r\n", "")),
        (
            "Transfer-Encoding: gzip",
            post("Transfer-Encoding: gzip\r\n", "0\r\n\r\n"),
        ),
        (
            "Transfer-Encoding: gzip, chunked",
            post("Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n"),
        ),
        (
            "Transfer-Encoding twice",
            post(
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                "0\r\n\r\n",
            ),
        ),
    ] {
        let mut stream = open(srv.addr());
        stream.write_all(request.as_bytes()).expect("write");
        let (answer, closed) = read_until_closed(&mut stream, Duration::from_secs(3));
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 400 "), "{what}: {answer}");
        assert!(answer.contains("application/json"), "{what}: {answer}");
        assert_eq!(
            answer.matches("HTTP/1.1 ").count(),
            1,
            "{what}: the smuggled request was answered: {answer}"
        );
        assert!(closed, "{what}: the connection stayed open");
    }

    // Content-Length beside Transfer-Encoding: RFC 9112 §6.3 lets the
    // server go by the transfer coding, and makes it close the connection
    // afterwards; what a proxy might have read as a second request is never
    // answered.
    let mut stream = open(srv.addr());
    let request = post(
        "Content-Length: 4\r\nTransfer-Encoding: chunked\r\nContent-Type: application/x-www-form-urlencoded\r\n",
        "0\r\n\r\n",
    );
    stream.write_all(request.as_bytes()).expect("write");
    let (answer, closed) = read_until_closed(&mut stream, Duration::from_secs(3));
    let answer = String::from_utf8_lossy(&answer);
    assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "{answer}");
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(closed, "the connection stayed open after CL with TE");
}

#[test]
fn running_out_of_file_descriptors_is_survived() {
    let dir = TempDir::new();
    let db = dir.path.join("tokend.db");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    // A hard limit the server cannot raise, and a cap above it, so that the
    // flood reaches accept(2) failing with EMFILE.
    let mut child = Command::new("prlimit")
        .arg("--nofile=48:48")
        .arg(bin())
        .args(["--db", &db.to_string_lossy(), "serve", "--listen", &addr])
        .args(["--max-connections", "1000", "--workers", "2"])
        .env("TOKEND_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("prlimit (util-linux) runs tokend");
    let up = eventually(Duration::from_secs(10), || {
        send_raw(
            &addr,
            &build_request(&addr, "GET", "/health", &[], None),
            Duration::from_secs(1),
        )
        .ok()
        .filter(|r| r.status == 200)
    });
    assert!(up.is_some(), "tokend did not come up under a low fd limit");

    let flood: Vec<TcpStream> = (0..200)
        .filter_map(|_| connect(&addr, Duration::from_secs(2)).ok())
        .collect();
    assert!(flood.len() > 100, "the flood connected");
    thread::sleep(Duration::from_millis(500));
    drop(flood);

    let served = eventually(Duration::from_secs(5), || {
        send_raw(
            &addr,
            &build_request(&addr, "GET", "/health", &[], None),
            Duration::from_secs(1),
        )
        .ok()
        .filter(|r| r.status == 200)
    });
    send_signal(child.id(), "TERM");
    let status = wait_timeout(&mut child, Duration::from_secs(10));
    let mut log = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut log);
    }
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert!(
        served.is_some(),
        "no client served after the flood; log:\n{log}"
    );
    assert!(
        log.contains("accepting a connection failed"),
        "the flood did not reach EMFILE; log:\n{log}"
    );
    assert!(
        status.is_some_and(|s| s.success()),
        "exit after SIGTERM: {status:?}"
    );
}

#[test]
fn sigterm_with_stalled_clients_exits_within_the_bound() {
    let mut srv = TestServer::config()
        .arg("--header-timeout")
        .arg("2s")
        .arg("--body-timeout")
        .arg("2s")
        .arg("--write-timeout")
        .arg("1s")
        .start();
    let stalled = stalled_clients(srv.addr());
    let idle: Vec<TcpStream> = (0..8).map(|_| open(srv.addr())).collect();
    thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let status = srv.stop_with("TERM", Duration::from_secs(8));
    assert!(
        status.is_some_and(|s| s.success()),
        "exit after SIGTERM: {status:?}"
    );
    // The grace is the body and write timeouts: 3 s.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopping took {:?}",
        started.elapsed()
    );
    drop((stalled, idle));
}

#[test]
fn control_characters_a_client_sends_never_reach_the_log_raw() {
    let mut srv = TestServer::start();
    for request in [
        &b"G\x1b[31mET /health HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"GET /he\x1balth\x07 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /health\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
        "G\u{e9}T /health HTTP/1.1\r\nHost: x\r\n\r\n".as_bytes(),
    ] {
        let _ = send_raw(srv.addr(), request, Duration::from_secs(3));
    }
    assert_healthy_quickly(&srv, "after control characters");
    // Stopping drains the server's output into the log first.
    srv.stop();
    let log = srv.log();
    for raw in ['\x1b', '\x07', '\0', '\u{e9}'] {
        assert!(!log.contains(raw), "{raw:?} reached the log:\n{log:?}");
    }
}

#[test]
fn a_client_that_does_not_read_its_answers_is_cut_off() {
    let srv = TestServer::config()
        .arg("--write-timeout")
        .arg("1s")
        .start();
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    // A tiny receive window, so that the server's writes soon wait.
    socket.set_recv_buffer_size(4096).expect("receive buffer");
    let server: std::net::SocketAddr = srv.addr().parse().expect("address");
    socket
        .connect_timeout(&server.into(), Duration::from_secs(2))
        .expect("connect");
    let mut stream: TcpStream = socket.into();
    let request = keep_alive_get(srv.addr(), "/.well-known/jwks.json", &[]);
    let mut writer = stream.try_clone().expect("clone");
    let pipelined = thread::spawn(move || {
        // Thousands of answers asked for, none read: megabytes the server
        // cannot get rid of. The server stops reading once it cannot write.
        for _ in 0..20_000 {
            if writer.write_all(&request).is_err() {
                break;
            }
        }
    });
    thread::sleep(Duration::from_millis(500));
    assert_healthy_quickly(&srv, "while a client reads nothing");
    thread::sleep(Duration::from_secs(2));
    // By now the write timeout has cut the connection: what was buffered
    // drains, then the stream ends.
    let (got, closed) = read_until_closed(&mut stream, Duration::from_secs(10));
    let answers = String::from_utf8_lossy(&got)
        .matches("HTTP/1.1 200")
        .count();
    assert!(closed, "the non-reading client's connection stayed open");
    // Only what sat in the buffers when the server gave up arrives.
    assert!(
        answers < 20_000,
        "all {answers} answers arrived: the server never gave up writing"
    );
    let _ = pipelined.join();
}

#[test]
fn a_flood_of_logins_does_not_hold_up_exchanges() {
    let srv = TestServer::start();
    let admin = srv.api().admin_login().access_token;
    let secret = srv.api().create_token(&admin, "steady", Some("30m")).secret;
    let flooding = std::sync::atomic::AtomicBool::new(true);
    thread::scope(|scope| {
        for _ in 0..32 {
            scope.spawn(|| {
                // Correct passwords: every attempt costs a full argon2 hash.
                while flooding.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = srv.api().try_provider_login(ADMIN, ADMIN_PASSWORD);
                }
            });
        }
        thread::sleep(Duration::from_millis(300));
        let mut slowest = Duration::ZERO;
        for _ in 0..20 {
            let started = Instant::now();
            srv.api()
                .try_exchange_provider(&secret)
                .assert_status(200, "exchange during a login flood");
            slowest = slowest.max(started.elapsed());
        }
        flooding.store(false, std::sync::atomic::Ordering::Relaxed);
        // Behind the logins of its worker (sixteen argon2 hashes) an
        // exchange would wait far longer.
        assert!(
            slowest < Duration::from_millis(250),
            "an exchange waited {slowest:?} behind logins"
        );
    });
}

#[test]
fn bodies_that_trickle_in_take_turns_and_do_not_hold_up_whole_ones() {
    let service = InProcess::start_with(|options| {
        options.bodies_in_flight = 2;
        options.body_timeout = Duration::from_secs(1);
    });
    let api = service.api();
    let addr = api.addr().to_string();
    let admin = api.admin_login().access_token;
    let secret = api.create_token(&admin, "steady", Some("30m")).secret;
    let form = format!("grant_type=refresh_token&refresh_token={secret}");
    let head = format!(
        "POST /oauth/provider/token HTTP/1.1\r\nHost: x\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        form.len()
    );

    // Two bodies that never finish take both turns, until their timeout.
    let stalled_at = Instant::now();
    let mut stalled: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut stream = open(&addr);
            stream
                .write_all(format!("{head}grant_type=").as_bytes())
                .expect("write");
            stream
        })
        .collect();
    thread::sleep(Duration::from_millis(100));

    thread::scope(|scope| {
        // A body that trickles in waits for a turn.
        let trickled = scope.spawn(|| {
            let mut stream = open(&addr);
            stream.write_all(head.as_bytes()).expect("write head");
            thread::sleep(Duration::from_millis(100));
            stream.write_all(form.as_bytes()).expect("write body");
            read_response(&mut stream).expect("an answer")
        });
        // One that arrives whole with its head needs no turn.
        thread::sleep(Duration::from_millis(50));
        let started = Instant::now();
        api.exchange_provider(&secret);
        assert!(
            started.elapsed() < Duration::from_millis(800),
            "a whole body waited {:?}",
            started.elapsed()
        );
        let answer = trickled.join().expect("trickling client");
        answer.assert_status(200, "served once a turn was free");
        assert!(
            stalled_at.elapsed() >= Duration::from_millis(900),
            "the trickling body was read before a turn was free ({:?})",
            stalled_at.elapsed()
        );
    });
    for stream in &mut stalled {
        let (answer, closed) = read_until_closed(stream, Duration::from_secs(3));
        assert!(closed && String::from_utf8_lossy(&answer).contains(" 408 "));
    }
}
