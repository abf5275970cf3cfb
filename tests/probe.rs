//! `wiredesk probe [live|ready]` as the container health checks run it: the binary, a
//! configuration naming `http.listen`, and a server on that address. Exit 0 on 200, exit 1 with
//! the server's reason otherwise, and exit 1 when nothing listens. No services needed.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Output;

/// Serve one request with `status` and `body`; returns the port and the request line received.
fn serve_once(status: &'static str, body: &'static str) -> (u16, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 2048];
        let n = conn.read(&mut buf).unwrap();
        let request = String::from_utf8_lossy(&buf[..n]).into_owned();
        write!(
            conn,
            "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\n\r\n{body}"
        )
        .unwrap();
        request.lines().next().unwrap_or_default().to_owned()
    });
    (port, handle)
}

fn probe(port: u16, which: &str) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_wiredesk"))
        .args(["probe", which, "--timeout-ms", "5000"])
        .env_clear()
        // The listen address as a deployment sets it: all interfaces, reached on loopback.
        .env("WIREDESK__HTTP__LISTEN", format!("0.0.0.0:{port}"))
        .output()
        .unwrap()
}

#[test]
fn probe_live_asks_healthz_and_succeeds_on_200() {
    let (port, server) = serve_once("200 OK", "ok\n");
    let output = probe(port, "live");
    assert_eq!(server.join().unwrap(), "GET /healthz HTTP/1.0");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "ok\n");
}

#[test]
fn probe_ready_fails_with_the_reason_on_503() {
    let (port, server) = serve_once("503 Service Unavailable", "consumer group not joined yet\n");
    let output = probe(port, "ready");
    assert_eq!(server.join().unwrap(), "GET /readyz HTTP/1.0");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("/readyz answered 503: consumer group not joined yet"),
        "{stderr}"
    );
}

#[test]
fn probe_fails_when_nothing_listens() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = probe(port, "live");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot connect to 127.0.0.1:"), "{stderr}");
}
