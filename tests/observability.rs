//! Observability (issue: metrics, health, logs, alerts, dashboard), checked with the real tools:
//! a real Prometheus scraping the worker binary on a real Kafka broker, `promtool` for the
//! exposition, the alert rules (and their unit tests) and the example scrape config, and the
//! Grafana dashboard against the metrics the worker actually exports. Secrets must never reach logs.
//!
//! Needs `WIREDESK_TEST_BROKERS`, `WIREDESK_TEST_PROMETHEUS` and `WIREDESK_TEST_PROMTOOL` (all set by
//! `scripts/test`); fails with instructions otherwise, never skips.

mod common;
#[path = "common/prometheus.rs"]
mod prometheus;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use prometheus::{Prometheus, promtool};
use wiredesk::metrics::Metrics;

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

// --- exposition --------------------------------------------------------------------------------

/// Sample names in a text exposition (`name{labels} value` lines), e.g. `x_bucket`, `x_count`.
fn sample_names(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            line.split(['{', ' '])
                .next()
                .expect("a sample name")
                .to_owned()
        })
        .collect()
}

/// `# TYPE name kind` lines: metric family → type.
fn family_types(exposition: &str) -> BTreeMap<String, String> {
    exposition
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_once(' '))
        .map(|(name, kind)| (name.to_owned(), kind.trim().to_owned()))
        .collect()
}

/// Every metric family the worker can export, with one example child for the vectors that only
/// get series at runtime (per-partition gauges appear once partitions are assigned).
fn full_exposition() -> String {
    let m = Metrics::new();
    m.consumer_lag
        .with_label_values(&["raw-articles", "0"])
        .set(0);
    m.committed_offset
        .with_label_values(&["raw-articles", "0"])
        .set(0);
    m.up.with_label_values(&["dedupe_store"]).set(1.0);
    m.messages_consumed
        .with_label_values(&["raw-articles"])
        .inc();
    m.bytes_consumed
        .with_label_values(&["raw-articles"])
        .inc_by(10);
    m.encode()
}

/// The exposition passes `promtool check metrics` (Prometheus naming and format lint).
#[test]
fn exposition_passes_promtool_check_metrics() {
    promtool(&["check", "metrics"], Some(&full_exposition()));
}

/// Naming conventions promtool does not check: one prefix, base units, `_total` only on counters,
/// help text everywhere, and every family has at least one series from the start.
#[test]
fn metric_names_follow_conventions() {
    let text = full_exposition();
    let types = family_types(&text);
    assert!(
        types.len() >= 25,
        "expected the full metric set, got {types:?}"
    );
    for (name, kind) in &types {
        assert!(
            name.starts_with("wiredesk_"),
            "{name}: missing the wiredesk_ prefix"
        );
        assert_eq!(
            name.ends_with("_total"),
            kind == "counter",
            "{name} ({kind}): `_total` is for counters only"
        );
        for bad in ["_ms", "_milliseconds", "_kb", "_mb", "_percent"] {
            assert!(
                !name.ends_with(bad) && !name.contains(&format!("{bad}_")),
                "{name}: use base units (seconds, bytes, ratios)"
            );
        }
        if kind == "histogram" {
            assert!(
                name.ends_with("_seconds"),
                "{name}: histograms here measure time in seconds"
            );
        }
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "{name}: no help text"
        );
    }
    // Bounded label sets are pre-created, so dashboards and alerts see zeros instead of no data.
    let fresh = Metrics::new().encode();
    for needle in [
        "wiredesk_messages_dead_lettered_total{reason=\"not_utf8\"} 0",
        "wiredesk_duplicates_total{action=\"drop\"} 0",
        "wiredesk_stage_errors_total{stage=\"entities\"} 0",
        "wiredesk_stage_duration_seconds_count{stage=\"parse\"} 0",
        "wiredesk_dependency_up{dependency=\"kafka\"} 0",
        "wiredesk_build_info{revision=",
    ] {
        assert!(
            fresh.contains(needle),
            "fresh exposition lacks `{needle}`:\n{fresh}"
        );
    }
}

/// docs/monitoring.md documents every metric family the worker exports.
#[test]
fn every_metric_is_documented() {
    let docs =
        std::fs::read_to_string(repo_path("docs/monitoring.md")).expect("docs/monitoring.md");
    let missing: Vec<String> = family_types(&full_exposition())
        .into_keys()
        .filter(|name| !docs.contains(&format!("| `{name}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/monitoring.md has no table row for {missing:?}"
    );
}

// --- alerts and scrape config: tests/alerts.rs (offline, promtool only) ----------------------

// --- dashboard ---------------------------------------------------------------------------------

/// `wiredesk_*` metric names used in a PromQL expression (identifier characters after the prefix).
fn metric_names_in(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("wiredesk_") {
        let preceded_by_ident = rest[..at]
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(tail.len());
        if !preceded_by_ident {
            names.push(tail[..end].to_owned());
        }
        rest = &tail[end..];
    }
    names
}

/// All PromQL in the dashboard: panel targets (rows may nest panels) and templating queries.
fn dashboard_queries(dashboard: &serde_json::Value) -> Vec<(String, String)> {
    fn walk(panels: &[serde_json::Value], out: &mut Vec<(String, String)>) {
        for panel in panels {
            let title = panel["title"].as_str().unwrap_or("?").to_owned();
            if panel["type"] == "row" {
                walk(
                    panel["panels"].as_array().map_or(&[][..], Vec::as_slice),
                    out,
                );
                continue;
            }
            let targets = panel["targets"]
                .as_array()
                .unwrap_or_else(|| panic!("panel `{title}` has no targets"));
            assert!(!targets.is_empty(), "panel `{title}` has no targets");
            for target in targets {
                let expr = target["expr"]
                    .as_str()
                    .unwrap_or_else(|| panic!("panel `{title}`: a target without expr"));
                assert!(!expr.trim().is_empty(), "panel `{title}`: empty expr");
                out.push((title.clone(), expr.to_owned()));
            }
        }
    }
    let mut out = Vec::new();
    walk(
        dashboard["panels"]
            .as_array()
            .expect("top-level panels array"),
        &mut out,
    );
    for variable in dashboard["templating"]["list"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
    {
        if let Some(query) = variable["query"]["query"]
            .as_str()
            .or(variable["query"].as_str())
        {
            out.push((format!("variable {}", variable["name"]), query.to_owned()));
        }
    }
    out
}

/// Names the dashboard queries that the exposition does not have. A `_bucket`/`_sum`/`_count` name
/// must belong to a histogram family; a bare histogram name has no samples and is reported.
fn unknown_dashboard_metrics(dashboard: &serde_json::Value, exposition: &str) -> Vec<String> {
    let samples = sample_names(exposition);
    let types = family_types(exposition);
    let mut unknown = Vec::new();
    for (title, expr) in dashboard_queries(dashboard) {
        for name in metric_names_in(&expr) {
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .filter(|f| types.contains_key(*f));
            let ok = match family {
                Some(family) => {
                    samples.contains(&name)
                        && matches!(types[family].as_str(), "histogram" | "summary")
                }
                None => {
                    samples.contains(&name) && types.get(&name).is_some_and(|t| t != "histogram")
                }
            };
            if !ok {
                unknown.push(format!("{name} (panel `{title}`)"));
            }
        }
    }
    unknown
}

fn dashboard() -> serde_json::Value {
    let text = std::fs::read_to_string(repo_path("deploy/grafana/wiredesk-dashboard.json"))
        .expect("dashboard file");
    serde_json::from_str(&text).expect("the dashboard is valid JSON")
}

#[test]
fn metric_name_scan_handles_suffixes_and_selectors() {
    let names = metric_names_in(
        r#"histogram_quantile(0.9, sum by (le) (rate(wiredesk_x_seconds_bucket{job=~"$job"}[5m]))) / wiredesk_y_total"#,
    );
    assert_eq!(names, ["wiredesk_x_seconds_bucket", "wiredesk_y_total"]);
    assert!(
        metric_names_in("not_wiredesk_z + label_values(wiredesk_build_info, job)")
            == ["wiredesk_build_info"]
    );
}

/// The dashboard is valid JSON with panels and targets, covers what operators need, and queries
/// only metrics the worker exports.
#[test]
fn dashboard_is_valid_and_queries_only_exported_metrics() {
    let dashboard = dashboard();
    assert!(dashboard["title"].is_string() && dashboard["uid"].is_string());
    let queries = dashboard_queries(&dashboard);
    assert!(queries.len() >= 20, "{queries:?}");
    let all: String = queries
        .iter()
        .map(|(_, e)| e.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    for needed in [
        "wiredesk_messages_consumed_total",
        "wiredesk_messages_produced_total",
        "wiredesk_stage_duration_seconds_bucket",
        "wiredesk_end_to_end_latency_seconds_bucket",
        "wiredesk_consumer_lag_messages",
        "wiredesk_messages_dead_lettered_total",
        "wiredesk_duplicates_total",
        "wiredesk_dependency_up",
        "wiredesk_dedupe_store_errors_total",
        "wiredesk_dedupe_store_duration_seconds_bucket",
    ] {
        assert!(
            all.contains(needed),
            "the dashboard does not chart {needed}"
        );
    }
    let unknown = unknown_dashboard_metrics(&dashboard, &full_exposition());
    assert!(
        unknown.is_empty(),
        "the dashboard queries metrics the worker does not export: {unknown:#?}"
    );
}

// --- a real Prometheus scraping the worker -----------------------------------------------------

/// 200 good and 5 bad articles through the worker while Prometheus scrapes it every second: the
/// counters in Prometheus match what was sent, lag returns to zero, the exposition passes
/// `promtool check metrics`, the alert rules load, and every dashboard metric is really scraped.
#[test]
fn prometheus_sees_counts_lag_and_latency() {
    let brokers = brokers();
    promtool_available_or_fail();
    let topics = Topics::create(&brokers, "obs", 3, 1);
    let mut worker = Worker::start(&brokers, &topics, &[]);
    let alerts = repo_path("deploy/prometheus/alerts.yml");
    let prometheus = Prometheus::start(
        &[format!("127.0.0.1:{}", worker.http_port)],
        &[alerts.as_path()],
    );
    worker.wait_ready(Duration::from_secs(60));

    let mut inputs = Vec::new();
    for i in 0..205 {
        let mut input = match i {
            20 | 90 | 160 => Input::raw(&format!("k{i}"), b"{not json"),
            50 | 120 => Input::raw(&format!("k{i}"), b"[1, 2, 3]"),
            _ => Input::json(&format!("k{i}"), article(&format!("obs-{i:03}"), i)),
        };
        input.partition = Some((i % 3) as i32);
        inputs.push(input);
    }
    produce(&brokers, &topics.input, &inputs);

    let input = &topics.input;
    let timeout = Duration::from_secs(120);
    let expect = |promql: &str, value: f64| prometheus.wait_for_value(promql, value, timeout);
    expect(
        &format!("sum(wiredesk_messages_consumed_total{{topic=\"{input}\"}})"),
        205.0,
    );
    expect(
        "sum(wiredesk_messages_produced_total{destination=\"output\"})",
        200.0,
    );
    expect(
        "sum(wiredesk_messages_produced_total{destination=\"dead_letter\"})",
        5.0,
    );
    expect("sum(wiredesk_messages_dead_lettered_total)", 5.0);
    expect(
        "sum(wiredesk_messages_dead_lettered_total{reason=\"invalid_json\"})",
        3.0,
    );
    expect(
        "sum(wiredesk_messages_dead_lettered_total{reason=\"not_an_object\"})",
        2.0,
    );
    expect("sum(wiredesk_stage_errors_total{stage=\"parse\"})", 5.0);
    expect(
        "sum(wiredesk_stage_duration_seconds_count{stage=\"parse\"})",
        205.0,
    );
    expect(
        "sum(wiredesk_stage_duration_seconds_count{stage=\"normalize\"})",
        200.0,
    );
    expect("sum(wiredesk_end_to_end_latency_seconds_count)", 205.0);
    expect(
        &format!("sum(wiredesk_consumed_bytes_total{{topic=\"{input}\"}}) > bool 0"),
        1.0,
    );
    expect(
        "sum(wiredesk_produced_bytes_total{destination=\"output\"}) > bool 0",
        1.0,
    );
    // Lag from librdkafka statistics: one series per partition, all back to zero once committed.
    expect(
        &format!("count(wiredesk_consumer_lag_messages{{topic=\"{input}\"}})"),
        3.0,
    );
    expect(
        &format!("sum(wiredesk_consumer_lag_messages{{topic=\"{input}\"}})"),
        0.0,
    );
    expect(
        &format!("sum(wiredesk_consumer_committed_offset{{topic=\"{input}\"}})"),
        205.0,
    );
    expect("sum(wiredesk_assigned_partitions)", 3.0);
    expect("sum(wiredesk_in_flight_messages)", 0.0);
    expect("max(wiredesk_dependency_up{dependency=\"kafka\"})", 1.0);
    expect("sum(wiredesk_delivery_errors_total)", 0.0);
    expect("up{job=\"wiredesk\"}", 1.0);
    expect(
        "count(wiredesk_build_info{version!=\"\", revision!=\"\"})",
        1.0,
    );

    // The alert rules load in a real server, and on a healthy worker nothing fires.
    let rules = prometheus.api("/api/v1/rules");
    let loaded: usize = rules["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| g["rules"].as_array().map_or(0, Vec::len))
        .sum();
    // As many as the rules file defines (alerts and recording rules).
    let defined = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/prometheus/alerts.yml"
    ))
    .expect("alerts.yml")
    .lines()
    .filter(|l| {
        let l = l.trim_start();
        l.starts_with("- alert:") || l.starts_with("- record:")
    })
    .count();
    assert!(defined >= 10, "alerts.yml defines only {defined} rules");
    assert_eq!(loaded, defined, "{rules}");
    let firing = prometheus.query("ALERTS{alertstate=\"firing\"}");
    assert!(
        firing.is_empty(),
        "alerts firing on a healthy worker: {firing:?}"
    );

    // The live exposition passes promtool's lint, and the dashboard only queries scraped metrics.
    let (status, exposition) = worker.http_get("/metrics").expect("/metrics answers");
    assert_eq!(status, 200);
    promtool(&["check", "metrics"], Some(&exposition));
    let scraped: BTreeSet<String> = prometheus
        .api("/api/v1/label/__name__/values")
        .as_array()
        .expect("names")
        .iter()
        .map(|v| v.as_str().expect("name").to_owned())
        .collect();
    for (title, expr) in dashboard_queries(&dashboard()) {
        for name in metric_names_in(&expr) {
            assert!(
                scraped.contains(&name),
                "dashboard panel `{title}` queries {name}, which Prometheus never scraped"
            );
        }
    }
}

fn promtool_available_or_fail() {
    let _ = prometheus::promtool_path();
    let _ = prometheus::prometheus_path();
}

// --- secrets -----------------------------------------------------------------------------------

const SASL_SECRET: &str = "sasl-Pa55word-must-not-leak-7f3a";
const SSL_KEY_SECRET: &str = "key-Pa55word-must-not-leak-91c2";
const REDIS_SECRET: &str = "redis-Pa55word-must-not-leak-5d0e";

/// Environment for a SASL-configured worker with both secrets set.
fn secret_env(command: &mut Command, brokers: &str) {
    command
        .env_remove("WIREDESK_CONFIG")
        .env_remove("RUST_LOG")
        .env("WIREDESK__KAFKA__BROKERS", brokers)
        .env("WIREDESK__KAFKA__SECURITY_PROTOCOL", "sasl_plaintext")
        .env("WIREDESK__KAFKA__SASL_MECHANISM", "PLAIN")
        .env("WIREDESK__KAFKA__SASL_USERNAME", "wiredesk-test")
        .env("WIREDESK__KAFKA__SASL_PASSWORD", SASL_SECRET)
        .env("WIREDESK__KAFKA__SSL_KEY_PASSWORD", SSL_KEY_SECRET)
        .env("WIREDESK__DEDUPE__REDIS__PASSWORD", REDIS_SECRET)
        .env(
            "WIREDESK__DEDUPE__REDIS__URL",
            format!("redis://wiredesk:{REDIS_SECRET}@127.0.0.1:9/0"),
        );
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in [SASL_SECRET, SSL_KEY_SECRET, REDIS_SECRET] {
        assert!(!text.contains(secret), "{what} contains a secret:\n{text}");
    }
}

/// `check-config` shows that a password is set, never the password.
#[test]
fn check_config_never_prints_secrets() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wiredesk"));
    command.arg("check-config");
    secret_env(&mut command, "127.0.0.1:9");
    let output = command.output().expect("running wiredesk check-config");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "check-config failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("sasl_password = \"[redacted]\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("ssl_key_password = \"[redacted]\""),
        "{stdout}"
    );
    assert_no_secret("check-config stdout", &stdout);
    assert_no_secret("check-config stderr", &stderr);
}

/// `run` at trace level with librdkafka's own debug output on (`debug=all`, which dumps the client
/// configuration) against a plaintext broker that refuses the SASL handshake: until SIGTERM,
/// neither wiredesk nor librdkafka writes a secret to stdout or stderr, or to `/metrics`.
#[test]
fn run_never_logs_secrets_even_at_trace_level() {
    let brokers = brokers();
    let http_port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_wiredesk"));
    command.arg("run");
    secret_env(&mut command, &brokers);
    command
        .env("RUST_LOG", "trace")
        .env("WIREDESK__LOG__FORMAT", "json")
        .env("WIREDESK__KAFKA__CONSUMER__DEBUG", "all")
        .env("WIREDESK__KAFKA__PRODUCER__DEBUG", "all")
        .env("WIREDESK__HTTP__LISTEN", format!("127.0.0.1:{http_port}"))
        .env("WIREDESK__TOPICS__INPUT", unique("secrets-in"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("spawning wiredesk run");
    let collect = |mut stream: Box<dyn Read + Send>| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&buffer);
        let handle = std::thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            while let Ok(n) = stream.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                sink.lock().expect("lock").extend_from_slice(&chunk[..n]);
            }
        });
        (buffer, handle)
    };
    let (stdout, stdout_reader) = collect(Box::new(child.stdout.take().expect("stdout")));
    let (stderr, stderr_reader) = collect(Box::new(child.stderr.take().expect("stderr")));

    // Wait until librdkafka has dumped its configuration and tried SASL, and wiredesk has logged
    // that Kafka is not reachable (the metadata request failed).
    let text = |buffer: &Arc<Mutex<Vec<u8>>>| {
        String::from_utf8_lossy(&buffer.lock().expect("lock")).into_owned()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let err = text(&stderr);
        let saw_config_dump = err.contains("sasl.password") || err.contains("sasl.username");
        if saw_config_dump && err.contains("SASL") && err.contains("Kafka not reachable yet") {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("wiredesk exited early with {status}:\n{}", err);
        }
        assert!(
            Instant::now() < deadline,
            "never saw librdkafka's config dump, SASL activity and the retry warning:\n{err}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_, metrics) =
        http_get(http_port, "/metrics").expect("/metrics answers while Kafka is unreachable");
    assert_no_secret("/metrics", &metrics);

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("try_wait").is_none() {
        assert!(
            Instant::now() < deadline,
            "wiredesk did not exit within 60 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    stdout_reader.join().expect("stdout reader");
    stderr_reader.join().expect("stderr reader");
    let (out, err) = (text(&stdout), text(&stderr));
    assert!(
        err.len() > 10_000,
        "expected plenty of trace output, got {} bytes",
        err.len()
    );
    // `log.format = "json"`: every line, librdkafka's included, is one JSON object with a level,
    // and `RUST_LOG=trace` won over the default `log.level = "info"`.
    let mut levels = BTreeSet::new();
    for line in err.lines().filter(|l| !l.trim().is_empty()) {
        let event: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        levels.insert(
            event["level"]
                .as_str()
                .unwrap_or_else(|| panic!("no level: {line}"))
                .to_owned(),
        );
        assert!(
            event["message"].is_string() || event["fields"]["message"].is_string(),
            "no message: {line}"
        );
    }
    assert!(
        levels.contains("DEBUG") && levels.contains("WARN"),
        "levels seen: {levels:?}"
    );
    assert_no_secret("stdout of wiredesk run", &out);
    assert_no_secret("stderr of wiredesk run", &err);
}
