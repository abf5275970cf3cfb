//! Quality harness for the entities stage against the GUM dev sets
//! (`tests/data/gum-news`, `tests/data/gum-interview`; see their README.md).
//!
//! Run: `cargo test --test entities_eval -- --nocapture`
//! Scores: strict = exact (start, end, type) spans; lenient = per-article unique
//! (normalized surface, type) names. Headline figure: PER+ORG+LOC.
//! Set `ENTITIES_EVAL_DUMP=1` to print every false positive / false negative.

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;
use wiredesk::stage::entities::{EntityKind, EntitySettings, EntityStage};

const TYPES: [&str; 4] = ["PER", "ORG", "LOC", "MISC"];

fn map_kind(k: EntityKind) -> &'static str {
    match k {
        EntityKind::Person => "PER",
        EntityKind::Organization => "ORG",
        EntityKind::Location => "LOC",
        EntityKind::Group | EntityKind::Event | EntityKind::Other => "MISC",
    }
}

/// NFKC-ish lower-case, no leading "the", no trailing 's.
fn norm(s: &str) -> String {
    let mut t: String = s
        .chars()
        .map(|c| match c {
            '\u{2019}' | '\u{2018}' => '\'',
            '\u{201C}' | '\u{201D}' => '"',
            '\u{00A0}' => ' ',
            c => c,
        })
        .flat_map(char::to_lowercase)
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if let Some(r) = t.strip_prefix("the ") {
        t = r.to_string();
    }
    if let Some(r) = t.strip_suffix("'s") {
        t = r.to_string();
    }
    t
}

#[derive(Default, Clone, Copy)]
struct Prf {
    tp: usize,
    fp: usize,
    fn_: usize,
}

impl Prf {
    fn p(&self) -> f64 {
        if self.tp + self.fp == 0 {
            0.0
        } else {
            self.tp as f64 / (self.tp + self.fp) as f64
        }
    }
    fn r(&self) -> f64 {
        if self.tp + self.fn_ == 0 {
            0.0
        } else {
            self.tp as f64 / (self.tp + self.fn_) as f64
        }
    }
    fn f(&self) -> f64 {
        let (p, r) = (self.p(), self.r());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

struct Scores {
    strict: BTreeMap<&'static str, Prf>,
    lenient: BTreeMap<&'static str, Prf>,
}

fn add<T: std::hash::Hash + Eq + Clone>(
    acc: &mut BTreeMap<&'static str, Prf>,
    gold: &HashSet<(T, &'static str)>,
    pred: &HashSet<(T, &'static str)>,
) {
    for ty in TYPES.iter().copied().chain(["PER+ORG+LOC"]) {
        let sel = |t: &str| {
            if ty == "PER+ORG+LOC" {
                t != "MISC"
            } else {
                t == ty
            }
        };
        let g: HashSet<_> = gold.iter().filter(|(_, t)| sel(t)).collect();
        let p: HashSet<_> = pred.iter().filter(|(_, t)| sel(t)).collect();
        let tp = g.intersection(&p).count();
        let e = acc.entry(ty).or_default();
        e.tp += tp;
        e.fp += p.len() - tp;
        e.fn_ += g.len() - tp;
    }
}

fn ty(s: &str) -> &'static str {
    match s {
        "PER" => "PER",
        "ORG" => "ORG",
        "LOC" => "LOC",
        _ => "MISC",
    }
}

fn score(set: &str, stage: &EntityStage) -> Scores {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/");
    let arts = std::fs::read_to_string(format!("{dir}{set}/articles.jsonl")).expect("articles");
    let golds = std::fs::read_to_string(format!("{dir}{set}/entities.gold.jsonl")).expect("gold");
    let dump = std::env::var_os("ENTITIES_EVAL_DUMP").is_some();
    let mut sc = Scores {
        strict: BTreeMap::new(),
        lenient: BTreeMap::new(),
    };
    for (a, g) in arts.lines().zip(golds.lines()) {
        let a: Value = serde_json::from_str(a).unwrap();
        let g: Value = serde_json::from_str(g).unwrap();
        let title = a["title"].as_str().unwrap();
        let text = format!("{}\n\n{}", title, a["body"].as_str().unwrap());
        assert_eq!(text, g["text"].as_str().unwrap());
        let chars: Vec<char> = text.chars().collect();
        let slice = |s: usize, e: usize| chars[s..e].iter().collect::<String>();
        let ents = stage.extract(&text, title.chars().count());
        let mut pred_spans = HashSet::new();
        let mut pred_names = HashSet::new();
        for e in &ents {
            for sp in &e.spans {
                pred_spans.insert(((sp[0], sp[1]), map_kind(e.kind)));
                pred_names.insert((norm(&slice(sp[0], sp[1])), map_kind(e.kind)));
            }
        }
        let mut gold_spans = HashSet::new();
        let mut gold_names = HashSet::new();
        for e in g["entities"].as_array().unwrap() {
            let (s, en) = (
                e["start"].as_u64().unwrap() as usize,
                e["end"].as_u64().unwrap() as usize,
            );
            let t = ty(e["type"].as_str().unwrap());
            gold_spans.insert(((s, en), t));
            gold_names.insert((norm(&slice(s, en)), t));
        }
        if dump {
            let id = a["id"].as_str().unwrap();
            for x in pred_spans.difference(&gold_spans) {
                eprintln!("{id}\tFP\t{}\t{:?}", x.1, slice(x.0.0, x.0.1));
            }
            for x in gold_spans.difference(&pred_spans) {
                eprintln!("{id}\tFN\t{}\t{:?}", x.1, slice(x.0.0, x.0.1));
            }
        }
        add(&mut sc.strict, &gold_spans, &pred_spans);
        add(&mut sc.lenient, &gold_names, &pred_names);
    }
    sc
}

fn report(set: &str, sc: &Scores) {
    eprintln!("== {set} ==");
    eprintln!(
        "{:<12} {:>22}   {:>22}",
        "", "strict P / R / F1", "lenient P / R / F1"
    );
    for ty in ["PER+ORG+LOC", "PER", "ORG", "LOC", "MISC"] {
        let (s, l) = (sc.strict[ty], sc.lenient[ty]);
        eprintln!(
            "{ty:<12} {:.3} / {:.3} / {:.3}    {:.3} / {:.3} / {:.3}",
            s.p(),
            s.r(),
            s.f(),
            l.p(),
            l.r(),
            l.f()
        );
    }
}

/// Floors: a little (~0.02) below the measured PER+ORG+LOC F1 (strict, lenient).
const FLOORS: [(&str, f64, f64); 2] = [("gum-news", 0.745, 0.74), ("gum-interview", 0.725, 0.725)];

#[test]
fn entities_quality_floor() {
    let stage = EntityStage::new(&EntitySettings::default()).unwrap();
    let mut failures = Vec::new();
    for (set, strict_floor, lenient_floor) in FLOORS {
        let sc = score(set, &stage);
        report(set, &sc);
        let (s, l) = (sc.strict["PER+ORG+LOC"].f(), sc.lenient["PER+ORG+LOC"].f());
        if s < strict_floor || l < lenient_floor {
            failures.push(format!("{set}: strict F1 {s:.3} (floor {strict_floor}), lenient F1 {l:.3} (floor {lenient_floor})"));
        }
    }
    assert!(failures.is_empty(), "entity quality dropped: {failures:?}");
}
