//! The Redis dedupe store over TLS with an ACL user and a password (issue 7): a real
//! `redis-server` with a TLS port and an ACL file, a CA and server certificate generated here
//! with `openssl` (`common::tls::Pki`). Right credentials work; a wrong password and an untrusted
//! CA fail with a clear error naming the cause. The CA is trusted through `SSL_CERT_FILE`
//! (OpenSSL's standard variable).

mod common;

use std::path::Path;
use std::process::Command;

use common::free_port;
use common::redis_server::RedisServer;
use common::tls::Pki;

fn start_redis(pki: &Pki, port: u16) -> RedisServer {
    let acl = pki.path("acl.conf");
    std::fs::write(
        &acl,
        "user default off\nuser wiredesk on >right-pass-6b1 ~* &* +@all\n",
    )
    .unwrap();
    let (port_arg, acl_arg) = (port.to_string(), acl.display().to_string());
    let (cert, key, ca) = (
        pki.path("server.crt"),
        pki.path("server.key"),
        pki.path("ca.crt"),
    );
    let paths = [
        cert.display().to_string(),
        key.display().to_string(),
        ca.display().to_string(),
    ];
    let args = [
        "--port",
        "0",
        "--tls-port",
        &port_arg,
        "--tls-cert-file",
        &paths[0],
        "--tls-key-file",
        &paths[1],
        "--tls-ca-cert-file",
        &paths[2],
        "--tls-auth-clients",
        "no",
        "--aclfile",
        &acl_arg,
    ];
    RedisServer::start_with(port, &args, None)
}

fn enrich(ca: Option<&Path>, port: u16, password: &str) -> std::process::Output {
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
    match ca {
        Some(ca) => command.env("SSL_CERT_FILE", ca),
        None => command.env_remove("SSL_CERT_FILE"),
    };
    command.output().expect("run wiredesk")
}

#[test]
fn redis_store_over_tls_with_acl_user_and_password() {
    let pki = Pki::generate();
    let ca = pki.path("ca.crt");
    let port = free_port();
    let _redis = start_redis(&pki, port);

    let ok = enrich(Some(&ca), port, "right-pass-6b1");
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

    let wrong = enrich(Some(&ca), port, "wrong-pass-0x");
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

    let untrusted = enrich(None, port, "right-pass-6b1");
    let stderr = String::from_utf8_lossy(&untrusted.stderr);
    assert_eq!(untrusted.status.code(), Some(1));
    assert!(stderr.contains("certificate verify failed"), "{stderr}");
}
