//! Evaluation of the `tags` stage on labeled articles (top-level IPTC subjects only).
//!
//! Data: 24 Wikinews articles of GUM (tests/data/gum-news, CC BY 2.5) with hand labels in
//! tests/data/tags/gum-news.labels.jsonl, plus short articles written for wiredesk in
//! tests/data/tags/written.jsonl. Run: `cargo test --test tags_eval -- --nocapture`.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;
use wiredesk::stage::tags::{TagSettings, TagStage};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

// Regression floors, slightly below the figures reached when the taxonomy was written.
const MIN_PRECISION: f64 = 0.78;
const MIN_RECALL: f64 = 0.86;
// Floors for the held-out set (tests/data/tags/heldout.jsonl).
const HELDOUT_MIN_PRECISION: f64 = 0.84;
const HELDOUT_MIN_RECALL: f64 = 0.77;

/// `WIREDESK_TAGS_TAXONOMY=<file>` evaluates another taxonomy file without rebuilding.
fn stage() -> TagStage {
    let mut settings = TagSettings::default();
    if let Ok(path) = std::env::var("WIREDESK_TAGS_TAXONOMY") {
        settings.taxonomy = Some(path.into());
    }
    TagStage::new(&settings).unwrap()
}

fn read_jsonl(path: &str) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn topics(v: &Value) -> BTreeSet<String> {
    v["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn tags_eval() {
    let stage = stage();
    let mut docs: Vec<Doc> = Vec::new();
    let labels: HashMap<String, BTreeSet<String>> =
        read_jsonl(&format!("{DATA}/tags/gum-news.labels.jsonl"))
            .iter()
            .map(|v| (v["id"].as_str().unwrap().to_string(), topics(v)))
            .collect();
    for a in read_jsonl(&format!("{DATA}/gum-news/articles.jsonl")) {
        let id = a["id"].as_str().unwrap().to_string();
        let gold = labels
            .get(&id)
            .unwrap_or_else(|| panic!("no labels for {id}"))
            .clone();
        docs.push((
            id,
            a["title"].as_str().unwrap().into(),
            a["body"].as_str().unwrap().into(),
            gold,
        ));
    }
    assert_eq!(docs.len(), 24);
    for a in read_jsonl(&format!("{DATA}/tags/written.jsonl")) {
        docs.push((
            a["id"].as_str().unwrap().into(),
            a["title"].as_str().unwrap().into(),
            a["body"].as_str().unwrap().into(),
            topics(&a),
        ));
    }

    let (p, r) = evaluate(&stage, "tags_eval", &docs);
    assert!(
        p >= MIN_PRECISION,
        "precision {p:.3} < floor {MIN_PRECISION}"
    );
    assert!(r >= MIN_RECALL, "recall {r:.3} < floor {MIN_RECALL}");
}

/// Held-out set: 20 short articles written after the scoring was tuned, gold labels fixed
/// before the tagger was run on them. Never tune weights against individual articles here.
#[test]
fn tags_eval_heldout() {
    let stage = stage();
    let docs: Vec<Doc> = read_jsonl(&format!("{DATA}/tags/heldout.jsonl"))
        .iter()
        .map(|a| {
            (
                a["id"].as_str().unwrap().into(),
                a["title"].as_str().unwrap().into(),
                a["body"].as_str().unwrap().into(),
                topics(a),
            )
        })
        .collect();
    assert_eq!(docs.len(), 20);
    let (p, r) = evaluate(&stage, "tags_eval_heldout", &docs);
    assert!(
        p >= HELDOUT_MIN_PRECISION,
        "held-out precision {p:.3} < floor {HELDOUT_MIN_PRECISION}"
    );
    assert!(
        r >= HELDOUT_MIN_RECALL,
        "held-out recall {r:.3} < floor {HELDOUT_MIN_RECALL}"
    );
}

type Doc = (String, String, String, BTreeSet<String>);

/// Prints one line per document and the micro-averaged figures; returns (precision, recall).
fn evaluate(stage: &TagStage, name: &str, docs: &[Doc]) -> (f64, f64) {
    let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
    for (id, title, body, gold) in docs {
        let text = format!("{title}\n\n{body}");
        let tags = stage.tag(&text, title.chars().count(), &[]);
        let pred: BTreeSet<String> = tags
            .iter()
            .filter(|t| t.parent.is_none())
            .map(|t| t.id.clone())
            .collect();
        let hit = pred.intersection(gold).count();
        tp += hit;
        fp += pred.len() - hit;
        fn_ += gold.len() - hit;
        let short = |s: &BTreeSet<String>| {
            s.iter()
                .map(|x| x.trim_start_matches("medtop:")[..2].to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        let issues: Vec<String> = tags
            .iter()
            .filter(|t| t.scheme == "wiredesk-issue")
            .map(|t| {
                format!(
                    "{}={:.2}",
                    t.id.trim_start_matches("wiredesk-issue:"),
                    t.score
                )
            })
            .collect();
        let tops: Vec<String> = tags
            .iter()
            .filter(|t| t.parent.is_none())
            .map(|t| {
                format!(
                    "{}={:.2}[{}]",
                    &t.id[7..9],
                    t.score,
                    t.evidence
                        .iter()
                        .take(3)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join("|")
                )
            })
            .collect();
        println!(
            "{id:28} gold={:10} pred={:12} {} | {}",
            short(gold),
            short(&pred),
            tops.join(" "),
            issues.join(" ")
        );
    }
    let p = tp as f64 / (tp + fp).max(1) as f64;
    let r = tp as f64 / (tp + fn_).max(1) as f64;
    let f1 = if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    };
    println!(
        "{name}: {} docs, top-level micro precision {p:.3} recall {r:.3} F1 {f1:.3} (tp {tp} fp {fp} fn {fn_})",
        docs.len()
    );
    (p, r)
}
