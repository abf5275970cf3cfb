//! The Redis dedupe store over TLS with an ACL user and a password (issue 7): a real
//! `redis-server` with a TLS port and an ACL file, a CA and server certificate generated here
//! with `openssl`. Right credentials work; a wrong password and an untrusted CA fail with a clear
//! error naming the cause. The CA is trusted through `SSL_CERT_FILE` (OpenSSL's standard variable).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stderr(Stdio::null())
        .status()
        .expect("openssl (apt-get install openssl)");
    assert!(status.success(), "openssl {args:?}");
}

struct RedisTls(Child);

impl Drop for RedisTls {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_redis(dir: &Path, port: u16) -> RedisTls {
    std::fs::write(
        dir.join("acl.conf"),
        "user default off\nuser wiredesk on >right-pass-6b1 ~* &* +@all\n",
    )
    .unwrap();
    let child = Command::new("redis-server")
        .args([
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .args([
            "--tls-cert-file",
            "server.crt",
            "--tls-key-file",
            "server.key",
            "--tls-ca-cert-file",
            "ca.crt",
            "--tls-auth-clients",
            "no",
        ])
        .args([
            "--aclfile",
            &dir.join("acl.conf").display().to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .current_dir(dir)
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server (apt-get install redis-server; .ci/run does)");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "redis-server with TLS did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    RedisTls(child)
}

fn enrich(dir: &Path, port: u16, password: &str, trust_ca: bool) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wiredesk"));
    command
        .args(["enrich", "--quiet", "samples/articles.jsonl"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("WIREDESK_CONFIG")
        .env("RUST_LOG", "warn")
        .env("WIREDESK__DEDUPE__STORE", "redis")
        .env(
            "WIREDESK__DEDUPE__REDIS__URL",
            format!("rediss://wiredesk@127.0.0.1:{port}/0"),
        )
        .env("WIREDESK__DEDUPE__REDIS__PASSWORD", password);
    if trust_ca {
        command.env("SSL_CERT_FILE", dir.join("ca.crt"));
    } else {
        command.env_remove("SSL_CERT_FILE");
    }
    command.output().expect("run wiredesk")
}

#[test]
fn redis_store_over_tls_with_acl_user_and_password() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=wiredesk-test-ca",
        ],
    );
    openssl(
        d,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        d.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
    let port = free_port();
    let _redis = start_redis(d, port);

    let ok = enrich(d, port, "right-pass-6b1", true);
    let stderr = String::from_utf8_lossy(&ok.stderr);
    assert!(ok.status.success(), "{stderr}");
    assert!(
        stderr.contains("1 duplicates"),
        "the republished sample is recognised through Redis: {stderr}"
    );
    let records: Vec<serde_json::Value> = String::from_utf8_lossy(&ok.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(records.iter().all(|r| r["dedupe"]["store_error"].is_null()));

    let wrong = enrich(d, port, "wrong-pass-0x", true);
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        stderr.contains("AuthenticationFailed") || stderr.contains("authentication failed"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("wrong-pass-0x") && !stderr.contains("right-pass-6b1"),
        "no password in errors: {stderr}"
    );

    let untrusted = enrich(d, port, "right-pass-6b1", false);
    let stderr = String::from_utf8_lossy(&untrusted.stderr);
    assert_eq!(untrusted.status.code(), Some(1));
    assert!(stderr.contains("certificate verify failed"), "{stderr}");
}
