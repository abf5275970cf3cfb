//! `wiredesk probe` against a real worker on a real broker: what the Docker HEALTHCHECK and the
//! Compose health check see. Needs `WIREDESK_TEST_BROKERS` (scripts/test); built with
//! `--features integration`.

mod common;

use std::process::Output;
use std::time::Duration;

use common::*;

fn probe(port: u16, which: &str) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_wiredesk"))
        .args(["probe", which])
        .env_clear()
        .env("WIREDESK__HTTP__LISTEN", format!("127.0.0.1:{port}"))
        .output()
        .unwrap()
}

#[test]
fn probe_follows_the_worker_from_ready_to_gone() {
    let brokers = brokers();
    let topics = Topics::create(&brokers, "probe", 1, 1);
    let mut worker = Worker::start(&brokers, &topics, &[]);
    worker.wait_ready(Duration::from_secs(60));
    for which in ["live", "ready"] {
        let output = probe(worker.http_port, which);
        assert!(output.status.success(), "probe {which}: {output:?}");
        assert_eq!(String::from_utf8_lossy(&output.stdout), "ok\n");
    }
    let status = worker.sigterm();
    assert!(status.success(), "worker exit: {status}");
    let output = probe(worker.http_port, "live");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("cannot connect"),
        "{output:?}"
    );
}
