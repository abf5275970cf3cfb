//! The alert and recording rules (deploy/prometheus/alerts.yml), offline with `promtool`: they
//! load, every alert fires and stays quiet where alerts.test.yml says, every alert has its
//! annotations, a runbook section and a link built from the one base URL, every worker metric a
//! rule reads is one the worker exports, and the generated copies (PrometheusRule, Helm chart)
//! equal the source. Also the example scrape config used by docker-compose.
//!
//! Needs `WIREDESK_TEST_PROMTOOL` (set by `scripts/test`) and python3 with PyYAML; fails with
//! instructions otherwise, never skips. Built only with `--features tools`.

#[path = "support/tools.rs"]
mod tools;

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;
use tools::*;
use wiredesk::metrics::Metrics;

/// The base of every `runbook_url` in alerts.yml (kustomize and Helm replace it per deployment).
const RUNBOOK_BASE: &str = "https://github.com/wiredesk/wiredesk/blob/main/docs/monitoring.md";

fn repo_str(relative: &str) -> String {
    root().join(relative).display().to_string()
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn yaml_file(relative: &str) -> Value {
    yaml_to_json(&read(relative)).remove(0)
}

/// (name, rule) for every alerting rule of alerts.yml.
fn alert_rules() -> Vec<(String, Value)> {
    yaml_file("deploy/prometheus/alerts.yml")["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().clone())
        .filter_map(|r| Some((r["alert"].as_str()?.to_owned(), r)))
        .collect()
}

#[test]
fn alert_rules_are_valid_and_pass_their_unit_tests() {
    let output = promtool(&["check", "rules", &repo_str("deploy/prometheus/alerts.yml")]);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("SUCCESS"), "{stdout}");
    promtool(&[
        "test",
        "rules",
        &repo_str("deploy/prometheus/alerts.test.yml"),
    ]);
}

/// Every alert has a severity, a summary, a description, a runbook link of the form
/// `<base>#<alert in lower case>` whose section exists in docs/monitoring.md, and both a firing and
/// a quiet case in alerts.test.yml.
#[test]
fn every_alert_has_annotations_a_runbook_and_tests() {
    let tests = read("deploy/prometheus/alerts.test.yml");
    let docs = read("docs/monitoring.md");
    let alerts = alert_rules();
    assert!(alerts.len() >= 17, "{} alerts", alerts.len());
    for (name, rule) in &alerts {
        assert!(rule["labels"]["severity"].is_string(), "{name}: severity");
        for key in ["summary", "description"] {
            assert!(rule["annotations"][key].is_string(), "{name}: no {key}");
        }
        assert_eq!(
            rule["annotations"]["runbook_url"].as_str(),
            Some(format!("{RUNBOOK_BASE}#{}", name.to_lowercase()).as_str()),
            "{name}: runbook_url"
        );
        assert!(
            docs.contains(&format!("\n### {name}\n")),
            "docs/monitoring.md has no runbook section `### {name}`"
        );
        let cases: Vec<&str> = tests
            .split("alertname: ")
            .skip(1)
            .filter(|case| case.split_whitespace().next() == Some(name.as_str()))
            .collect();
        assert!(
            cases.iter().any(|c| c.contains("exp_labels")),
            "alerts.test.yml has no firing case for {name}"
        );
        assert!(
            cases.iter().any(|c| {
                c.lines()
                    .nth(1)
                    .is_some_and(|l| l.trim() == "exp_alerts: []")
            }),
            "alerts.test.yml has no case where {name} must stay quiet"
        );
    }
}

/// `wiredesk_*` names read by the rules, recording-rule names (with a colon) excepted.
fn worker_metrics_in_rules() -> BTreeSet<String> {
    // Expressions only: comments may name a histogram by its family name.
    let rules: String = read("deploy/prometheus/alerts.yml")
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let mut names = BTreeSet::new();
    for (at, _) in rules.match_indices("wiredesk_") {
        let before = rules[..at].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let name: String = rules[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        if !name.contains(':') {
            names.insert(name);
        }
    }
    names
}

/// An alert on a metric the worker never exports can never fire: every worker metric a rule reads
/// is in the exposition (vectors given one child, as at runtime).
#[test]
fn rules_read_only_metrics_the_worker_exports() {
    let m = Metrics::new();
    m.consumer_lag.with_label_values(&["in", "0"]).set(0);
    m.committed_offset.with_label_values(&["in", "0"]).set(0);
    m.messages_consumed.with_label_values(&["in"]).inc();
    m.up.with_label_values(&["dedupe_store"]).set(1.0);
    let exposition = m.encode();
    let exported: BTreeSet<&str> = exposition
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let used = worker_metrics_in_rules();
    assert!(used.len() >= 12, "{used:?}");
    for name in &used {
        assert!(
            exported.contains(name.as_str()),
            "alerts.yml reads {name}, which the worker does not export"
        );
    }
}

/// The PrometheusRule and the Helm chart's copy are generated from alerts.yml and equal it.
#[test]
fn generated_rule_copies_equal_alerts_yml() {
    let output = run(
        Command::new("python3")
            .arg("scripts/gen-prometheusrule")
            .arg("--check")
            .current_dir(root()),
        "scripts/gen-prometheusrule",
        "python3 with PyYAML (scripts/setup)",
    );
    assert!(
        output.status.success(),
        "{}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    // Checked independently of the generator too.
    let source = yaml_file("deploy/prometheus/alerts.yml");
    let rule = yaml_file("deploy/kubernetes/components/monitoring/prometheusrule.yaml");
    assert_eq!(rule["kind"], "PrometheusRule");
    assert_eq!(
        rule["spec"]["groups"], source["groups"],
        "prometheusrule.yaml differs from alerts.yml: run scripts/gen-prometheusrule"
    );
    assert_eq!(
        read("deploy/helm/wiredesk/files/alerts.yml"),
        read("deploy/prometheus/alerts.yml"),
        "the Helm chart's alerts.yml differs: run scripts/gen-prometheusrule"
    );
}

/// The example scrape config used by docker-compose is valid (and finds alerts.yml beside it).
#[test]
fn example_prometheus_config_is_valid() {
    let output = promtool(&[
        "check",
        "config",
        &repo_str("deploy/prometheus/prometheus.yml"),
    ]);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("1 rule files found"), "{stdout}");
    let config = read("deploy/prometheus/prometheus.yml");
    assert!(
        config.contains("job_name: wiredesk") && config.contains("wiredesk:9464"),
        "{config}"
    );
}
