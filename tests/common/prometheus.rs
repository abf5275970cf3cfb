//! A real Prometheus server and `promtool` for the observability tests. The binaries come from
//! `WIREDESK_TEST_PROMETHEUS` and `WIREDESK_TEST_PROMTOOL` (exported by `scripts/test`); when unset
//! the tests fail with instructions, they never skip.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn binary(var: &str, name: &str) -> PathBuf {
    let path = std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        panic!(
            "{var} is not set. These tests need Prometheus' `{name}` binary: run `scripts/test`, or install it \
             (`apt-get install prometheus`, which ships both `prometheus` and `promtool`) and \
             `export {var}=$(command -v {name})`."
        )
    });
    assert!(
        path.is_file(),
        "{var}={} does not exist; install it with `apt-get install prometheus`",
        path.display()
    );
    path
}

pub fn promtool_path() -> PathBuf {
    binary("WIREDESK_TEST_PROMTOOL", "promtool")
}

pub fn prometheus_path() -> PathBuf {
    binary("WIREDESK_TEST_PROMETHEUS", "prometheus")
}

/// Run `promtool <args>` (optionally with `stdin`) and panic with its output unless it succeeds.
pub fn promtool(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(promtool_path())
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning promtool");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(text.as_bytes())
            .expect("writing to promtool");
    }
    let output = child.wait_with_output().expect("waiting for promtool");
    assert!(
        output.status.success(),
        "promtool {} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A Prometheus server on loopback, with its TSDB in a temporary directory. Killed on drop.
pub struct Prometheus {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Start Prometheus scraping `targets` (host:port) every second as job `wiredesk`, with the
    /// given rule files loaded.
    pub fn start(targets: &[String], rule_files: &[&Path]) -> Prometheus {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = crate::common::free_port();
        let targets = targets
            .iter()
            .map(|t| format!("'{t}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let rules = rule_files
            .iter()
            .map(|p| format!("  - '{}'\n", p.display()))
            .collect::<String>();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n{rules}\
             scrape_configs:\n  - job_name: wiredesk\n    static_configs:\n      - targets: [{targets}]\n"
        );
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).expect("writing prometheus.yml");
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log file");
        let child = Command::new(prometheus_path())
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawning prometheus");
        let mut prometheus = Prometheus {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = prometheus.child.try_wait() {
                panic!(
                    "prometheus exited early with {status}:\n{}",
                    prometheus.log()
                );
            }
            if matches!(crate::common::http_get(port, "/-/ready"), Some((200, _))) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus not ready within 60 s:\n{}",
                prometheus.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        prometheus
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// `GET path` on the API; the parsed JSON `data` field. Panics on API errors.
    pub fn api(&self, path: &str) -> serde_json::Value {
        let (status, body) = crate::common::http_get(self.port, path)
            .unwrap_or_else(|| panic!("prometheus did not answer {path}"));
        let json: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {body}"));
        assert!(
            status == 200 && json["status"] == "success",
            "{path}: HTTP {status}: {body}"
        );
        json["data"].clone()
    }

    /// Instant query; the result vector as (labels, value) pairs.
    pub fn query(&self, promql: &str) -> Vec<(serde_json::Value, f64)> {
        let data = self.api(&format!("/api/v1/query?query={}", percent_encode(promql)));
        assert_eq!(
            data["resultType"], "vector",
            "{promql}: expected an instant vector, got {data}"
        );
        data["result"]
            .as_array()
            .expect("result array")
            .iter()
            .map(|sample| {
                let value = sample["value"][1]
                    .as_str()
                    .expect("value string")
                    .parse::<f64>()
                    .expect("numeric value");
                (sample["metric"].clone(), value)
            })
            .collect()
    }

    /// The single value of a query that aggregates to one series; `None` while it has no result.
    pub fn value(&self, promql: &str) -> Option<f64> {
        let result = self.query(promql);
        assert!(
            result.len() <= 1,
            "{promql}: expected at most one series, got {result:?}"
        );
        result.first().map(|(_, v)| *v)
    }

    /// Poll `promql` until its single value equals `expected`; on timeout, fail with the last value.
    pub fn wait_for_value(&self, promql: &str, expected: f64, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.value(promql);
            if got == Some(expected) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?}: `{promql}` is {got:?}, expected {expected}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Query-string encoding: everything but RFC 3986 unreserved characters is %-escaped.
pub fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
