//! `wiredesk probe [live|ready]`: the worker's own `/healthz` or `/readyz`, asked over HTTP from
//! inside the container, for Docker's HEALTHCHECK and Compose health checks (the image has no
//! curl). Exit status 0 when the endpoint answers 200, 1 otherwise, with the reason on stderr.
//!
//! Blocking std I/O on purpose: one request with a deadline, no runtime needed. HTTP/1.0 with
//! `Connection: close`, so the answer ends when the server closes the connection.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context, bail};

/// Which probe: liveness (`/healthz`) or readiness (`/readyz`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    Live,
    Ready,
}

impl Probe {
    pub fn path(self) -> &'static str {
        match self {
            Probe::Live => "/healthz",
            Probe::Ready => "/readyz",
        }
    }
}

/// Where to reach a server that listens on `listen`: an unspecified address (0.0.0.0, [::])
/// is reached on loopback of the same family.
pub fn target(listen: &str) -> anyhow::Result<SocketAddr> {
    let mut addr: SocketAddr = listen
        .parse()
        .with_context(|| format!("http.listen `{listen}` is not an address like 0.0.0.0:9464"))?;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    Ok(addr)
}

/// GET the probe's path on `addr`. `Ok(body)` on 200; an error naming the status and body
/// (the failing check, e.g. "consumer group not joined yet") or the connection problem otherwise.
pub fn check(addr: SocketAddr, probe: Probe, timeout: Duration) -> anyhow::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let request = format!(
        "GET {} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n",
        probe.path()
    );
    stream
        .write_all(request.as_bytes())
        .with_context(|| format!("sending the request to {addr}"))?;
    let mut response = Vec::new();
    // The answers are a few bytes; the cap keeps a wrong port from feeding us forever.
    stream
        .take(64 * 1024)
        .read_to_end(&mut response)
        .with_context(|| format!("reading the answer from {addr}"))?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .with_context(|| format!("{addr} did not answer HTTP"))?;
    if status != 200 {
        bail!("{} answered {status}: {}", probe.path(), body.trim());
    }
    Ok(body.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A one-shot server answering `response` to the first connection.
    fn serve_once(response: &'static str) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().expect("accept");
            let mut buf = [0u8; 1024];
            let n = conn.read(&mut buf).expect("read");
            assert!(String::from_utf8_lossy(&buf[..n]).starts_with("GET /readyz HTTP/1.0\r\n"));
            conn.write_all(response.as_bytes()).expect("write");
        });
        addr
    }

    #[test]
    fn unspecified_listen_addresses_are_reached_on_loopback() {
        assert_eq!(
            target("0.0.0.0:9464").unwrap(),
            "127.0.0.1:9464".parse().unwrap()
        );
        assert_eq!(target("[::]:9464").unwrap(), "[::1]:9464".parse().unwrap());
        assert_eq!(
            target("10.1.2.3:80").unwrap(),
            "10.1.2.3:80".parse().unwrap()
        );
        assert!(target("localhost").is_err());
    }

    #[test]
    fn ok_is_success_and_503_carries_the_reason() {
        let ok = serve_once("HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n");
        assert_eq!(
            check(ok, Probe::Ready, Duration::from_secs(5)).unwrap(),
            "ok"
        );
        let down =
            serve_once("HTTP/1.1 503 Service Unavailable\r\n\r\nconsumer group not joined yet\n");
        let error = check(down, Probe::Ready, Duration::from_secs(5)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "/readyz answered 503: consumer group not joined yet"
        );
    }

    #[test]
    fn nothing_listening_is_a_failure() {
        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        // The listener is dropped: nothing accepts on that port any more.
        let error = check(addr, Probe::Live, Duration::from_secs(2)).unwrap_err();
        assert!(format!("{error:#}").contains("cannot connect"), "{error:#}");
    }
}
