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

// ---------------------------------------------------------------------------------------------
// Top-level topic of an article (issue 13): the learned model beside the rules.
//
// The predicted topic is the highest-scoring top-level tag the stage emits (none = wrong).
// Held-out items (data/topics/heldout.jsonl, 340 written items, 20 per IPTC top-level topic,
// labeled and committed before any model existed) have one gold topic. Dev articles have one
// or more gold topics; a prediction among them counts as right, and for macro-F1 the gold
// class is the predicted one when it is among the gold topics, else the first gold topic.
// Articles run through the real parse -> normalize -> entities -> tags path.

use wiredesk::article::{normalize, parse};
use wiredesk::stage::entities::{EntitySettings, EntityStage};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

// Floors: a little below the figures measured when the model was committed (docs/tags.md).
const TOPIC_HELDOUT_MIN_ACCURACY: f64 = 0.85;
const TOPIC_HELDOUT_MIN_MACRO_F1: f64 = 0.84;
const TOPIC_DEV_MIN_ACCURACY: f64 = 0.70;

struct Topics {
    entities: EntityStage,
    tags: TagStage,
    threshold: f64,
}

impl Topics {
    fn new(model_enabled: bool) -> Topics {
        let mut settings = TagSettings {
            model_enabled,
            ..TagSettings::default()
        };
        if let Ok(path) = std::env::var("WIREDESK_TAGS_MODEL") {
            settings.model = Some(path.into());
        }
        // experiments: evaluate other combination settings without rebuilding
        let env = |k: &str| std::env::var(k).ok();
        if let Some(v) = env("WIREDESK_TAGS_MODEL_WEIGHT") {
            settings.model_weight = v.parse().unwrap();
        }
        if let Some(v) = env("WIREDESK_TAGS_MODEL_THRESHOLD") {
            settings.model_threshold = v.parse().unwrap();
        }
        if let Some(v) = env("WIREDESK_TAGS_MODEL_MIN_WORDS") {
            settings.model_min_words = v.parse().unwrap();
        }
        if let Some(v) = env("WIREDESK_TAGS_MODEL_FULL_WEIGHT_WORDS") {
            settings.model_full_weight_words = v.parse().unwrap();
        }
        Topics {
            entities: EntityStage::new(&EntitySettings::default()).unwrap(),
            threshold: settings.model_threshold,
            tags: TagStage::new(&settings).unwrap(),
        }
    }

    /// (best top-level topic, all emitted tags, the model's best top-level probability).
    fn classify(&self, text: &str, title_chars: usize) -> (Option<String>, Vec<Tag>, f32) {
        let ents = self.entities.extract(text, title_chars);
        let found: Vec<(&str, &str)> = ents
            .iter()
            .map(|e| (e.name.as_str(), e.kind.as_str()))
            .collect();
        let tags = self.tags.tag(text, title_chars, &found);
        let best = tags
            .iter()
            .filter(|t| t.parent.is_none())
            .max_by(|a, b| a.score.total_cmp(&b.score))
            .map(|t| t.id.clone());
        let p = self
            .tags
            .predict(text, title_chars, &found)
            .map(|p| {
                p.iter()
                    .filter(|(id, _)| id.ends_with("000000"))
                    .map(|(_, p)| *p)
                    .fold(0f32, f32::max)
            })
            .unwrap_or(0.0);
        (best, tags, p)
    }
}

use wiredesk::stage::tags::Tag;

/// Accuracy and macro-F1 over (gold topics, predicted topic) pairs.
fn accuracy_macro_f1(pairs: &[(Vec<String>, Option<String>)]) -> (f64, f64) {
    let mut tp: HashMap<&str, usize> = HashMap::new();
    let mut fp: HashMap<&str, usize> = HashMap::new();
    let mut fn_: HashMap<&str, usize> = HashMap::new();
    let mut right = 0;
    let mut classes: BTreeSet<&str> = BTreeSet::new();
    for (gold, pred) in pairs {
        let hit = pred.as_ref().is_some_and(|p| gold.contains(p));
        let g = if hit {
            pred.as_deref().unwrap_or_default()
        } else {
            gold[0].as_str()
        };
        classes.insert(g);
        if hit {
            right += 1;
            *tp.entry(g).or_default() += 1;
        } else {
            *fn_.entry(g).or_default() += 1;
            if let Some(p) = pred {
                *fp.entry(p.as_str()).or_default() += 1;
                classes.insert(p.as_str());
            }
        }
    }
    let f1s: Vec<f64> = classes
        .iter()
        .map(|c| {
            let t = *tp.get(c).unwrap_or(&0) as f64;
            let p = *fp.get(c).unwrap_or(&0) as f64;
            let n = *fn_.get(c).unwrap_or(&0) as f64;
            if t == 0.0 {
                0.0
            } else {
                2.0 * t / (2.0 * t + p + n)
            }
        })
        .collect();
    (
        right as f64 / pairs.len().max(1) as f64,
        f1s.iter().sum::<f64>() / f1s.len().max(1) as f64,
    )
}

fn short(id: &str) -> &str {
    id.strip_prefix("medtop:")
        .map_or(id, |s| &s[..2.min(s.len())])
}

#[test]
fn topics_heldout() {
    let items = read_jsonl(&format!("{ROOT}/data/topics/heldout.jsonl"));
    assert_eq!(items.len(), 340);
    for (name, model) in [("rules only", false), ("rules + model", true)] {
        let t = Topics::new(model);
        let mut pairs = Vec::new();
        let mut empty = 0;
        let (mut sub_gold, mut sub_hit) = (0, 0);
        let (mut long, mut long_without_topic_above_threshold) = (0, 0);
        for it in &items {
            let (title, body) = (it["title"].as_str().unwrap(), it["body"].as_str().unwrap());
            let text = format!("{title}\n\n{body}");
            let (best, tags, p) = t.classify(&text, title.chars().count());
            let labels: Vec<String> = it["labels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap().to_owned())
                .collect();
            if best.is_none() {
                empty += 1;
            }
            if text.split_whitespace().count() >= 15 {
                long += 1;
                if best.is_none() && model && f64::from(p) >= t.threshold {
                    long_without_topic_above_threshold += 1;
                }
            }
            for l in &labels[1..] {
                sub_gold += 1;
                if tags.iter().any(|x| &x.id == l) {
                    sub_hit += 1;
                }
            }
            if model
                && best.as_deref() != Some(labels[0].as_str())
                && std::env::var("TOPICS_VERBOSE").is_ok()
            {
                println!(
                    "  miss {} gold={} pred={:?} p={p:.2} {title}",
                    it["id"],
                    short(&labels[0]),
                    best.as_deref().map(short)
                );
            }
            pairs.push((vec![labels[0].clone()], best));
        }
        let (acc, f1) = accuracy_macro_f1(&pairs);
        println!(
            "topics_heldout [{name}]: {} items, top-level accuracy {acc:.3}, macro-F1 {f1:.3}, \
             no topic {empty} ({:.1} %), second-level labels found {sub_hit}/{sub_gold}",
            items.len(),
            100.0 * empty as f64 / items.len() as f64
        );
        if model {
            println!(
                "topics_heldout: {long} items with >= 15 words, {long_without_topic_above_threshold} without a top-level topic although the model passes its threshold"
            );
            assert_eq!(long_without_topic_above_threshold, 0);
            assert!(
                acc >= TOPIC_HELDOUT_MIN_ACCURACY,
                "held-out accuracy {acc:.3} < {TOPIC_HELDOUT_MIN_ACCURACY}"
            );
            assert!(
                f1 >= TOPIC_HELDOUT_MIN_MACRO_F1,
                "held-out macro-F1 {f1:.3} < {TOPIC_HELDOUT_MIN_MACRO_F1}"
            );
        }
    }
}

/// Dev articles: gum-news (24), gum-interview (19), samples (14 parseable lines).
/// One development article: id, raw input, gold top-level topics.
type DevItem = (String, Vec<u8>, Vec<String>);

fn dev_sets() -> Vec<(&'static str, Vec<DevItem>)> {
    // keep the labels' order (first = main topic) by reading them raw
    let ordered = |file: &str| -> HashMap<String, Vec<String>> {
        read_jsonl(&format!("{DATA}/tags/{file}"))
            .iter()
            .map(|v| {
                (
                    v["id"].as_str().unwrap().to_owned(),
                    v["topics"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|t| t.as_str().unwrap().to_owned())
                        .collect(),
                )
            })
            .collect()
    };
    let mut out = Vec::new();
    for (name, articles, label_file) in [
        (
            "gum-news",
            format!("{DATA}/gum-news/articles.jsonl"),
            "gum-news.labels.jsonl",
        ),
        (
            "gum-interview",
            format!("{DATA}/gum-interview/articles.jsonl"),
            "gum-interview.labels.jsonl",
        ),
        (
            "samples",
            format!("{ROOT}/samples/articles.jsonl"),
            "samples.labels.jsonl",
        ),
    ] {
        let gold = ordered(label_file);
        let mut docs = Vec::new();
        for line in std::fs::read_to_string(&articles).unwrap().lines() {
            let Ok(article) = parse::parse(line.as_bytes(), 1 << 22) else {
                continue; // the deliberately malformed sample
            };
            let g = gold
                .get(&article.id)
                .unwrap_or_else(|| panic!("no labels for {}", article.id))
                .clone();
            docs.push((article.id.clone(), line.as_bytes().to_vec(), g));
        }
        assert_eq!(
            docs.len(),
            gold.len(),
            "{name}: every labeled article is read"
        );
        out.push((name, docs));
    }
    out
}

#[test]
fn topics_dev() {
    let sets = dev_sets();
    for (name, model) in [("rules only", false), ("rules + model", true)] {
        let t = Topics::new(model);
        let mut all = Vec::new();
        for (set, docs) in &sets {
            let mut pairs = Vec::new();
            for (id, raw, gold) in docs {
                let a = parse::parse(raw, 1 << 22).unwrap();
                let n = normalize::normalize(a.title.as_deref(), &a.body, &Default::default())
                    .expect("eval articles are within the HTML limits");
                let (best, _, p) = t.classify(&n.text, n.title_chars);
                if std::env::var("TOPICS_VERBOSE").is_ok() {
                    println!(
                        "  [{name}] {id:28} gold={:10} pred={:?} p={p:.2}",
                        gold.iter().map(|g| short(g)).collect::<Vec<_>>().join(","),
                        best.as_deref().map(short)
                    );
                }
                pairs.push((gold.clone(), best));
            }
            let (acc, f1) = accuracy_macro_f1(&pairs);
            println!(
                "topics_dev [{name}] {set}: {} articles, top-level accuracy {acc:.3}, macro-F1 {f1:.3}",
                pairs.len()
            );
            all.extend(pairs);
        }
        let (acc, f1) = accuracy_macro_f1(&all);
        println!(
            "topics_dev [{name}] all: {} articles, top-level accuracy {acc:.3}, macro-F1 {f1:.3}",
            all.len()
        );
        if model {
            assert!(
                acc >= TOPIC_DEV_MIN_ACCURACY,
                "dev accuracy {acc:.3} < {TOPIC_DEV_MIN_ACCURACY}"
            );
        }
    }
}

/// The seed article (issue 13, "Done when"): economy / international trade, tariffs,
/// semiconductors, rare earths and a politics or diplomacy tag survive the model.
/// Read from the repository's copy (`tests/data/seed/`), or `WIREDESK_SEED`.
#[test]
fn seed_article_keeps_its_tags() {
    let path = std::env::var("WIREDESK_SEED")
        .unwrap_or_else(|_| format!("{ROOT}/tests/data/seed/article-us-china-trade-talks.txt"));
    let body = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("{path}: {e}; set WIREDESK_SEED to the seed article (tests/data/seed/)")
    });
    let n = normalize::normalize(None, &body, &Default::default()).expect("within the HTML limits");
    let t = Topics::new(true);
    let (best, tags, _) = t.classify(&n.text, n.title_chars);
    let ids: Vec<&str> = tags.iter().map(|t| t.id.as_str()).collect();
    println!("seed: best {best:?}, tags {ids:?}");
    for want in [
        "medtop:04000000",
        "medtop:20000373",
        "wiredesk-issue:tariffs",
        "wiredesk-issue:semiconductors",
        "wiredesk-issue:critical-minerals",
    ] {
        assert!(ids.contains(&want), "{want} missing from {ids:?}");
    }
    assert!(
        ids.iter().any(|i| *i == "medtop:11000000"
            || *i == "medtop:20000638"
            || i.starts_with("wiredesk-issue:diplomacy")),
        "a politics or diplomacy tag: {ids:?}"
    );
}
