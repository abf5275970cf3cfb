//! Quality harness for the entities stage (issue 12), on data never trained on:
//!
//! * the GUM dev sets `tests/data/gum-news`, `tests/data/gum-interview` (see their README.md);
//! * `tests/data/wire-heldout`: wire copy annotated for wiredesk before the model was tuned;
//! * the held-out split of every training corpus in `data/ner-train/` (documents whose
//!   hash (FNV-1a + MurmurHash3 finalizer) of `<source>/<doc>#<unit>` is 3 mod 10; a unit is 30 sentences; `train-entities` skips exactly these).
//!
//! Run: `cargo test --release --test entities_eval -- --nocapture`
//! Scores: strict = exact (start, end, type) spans; lenient = per-article unique
//! (normalized surface, type) names. Sources without a MISC layer are not scored on MISC.
//! Set `ENTITIES_EVAL_DUMP=<set>` to print that set's false positives / negatives.
//!
//! The held-out corpora are given to the stage as plain text: tokens joined by spaces (no
//! space before closing punctuation), sentences by a space, a paragraph break every three
//! sentences; this reader is written apart from the trainer's on purpose.

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;
use wiredesk::stage::entities::{EntityKind, EntitySettings, EntityStage};

const TYPES: [&str; 4] = ["PER", "ORG", "LOC", "MISC"];
const ALL: &str = "PER+ORG+LOC";

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
        ratio(self.tp, self.tp + self.fp)
    }
    fn r(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
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

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

#[derive(Default)]
struct Scores {
    strict: BTreeMap<&'static str, Prf>,
    lenient: BTreeMap<&'static str, Prf>,
    /// Gold entities per type (to skip types a set does not annotate).
    gold: BTreeMap<&'static str, usize>,
}

fn add<T: std::hash::Hash + Eq + Clone>(
    acc: &mut BTreeMap<&'static str, Prf>,
    gold: &HashSet<(T, &'static str)>,
    pred: &HashSet<(T, &'static str)>,
) {
    for ty in TYPES.iter().copied().chain([ALL]) {
        let sel = |t: &str| if ty == ALL { t != "MISC" } else { t == ty };
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

/// One evaluation document: text, headline length in chars, gold (start, end, type) in chars.
struct Doc {
    id: String,
    text: String,
    title_chars: usize,
    gold: Vec<(usize, usize, &'static str)>,
}

fn score(set: &str, docs: &[Doc], stage: &EntityStage) -> Scores {
    let dump = std::env::var("ENTITIES_EVAL_DUMP").is_ok_and(|v| v == set || v == "all");
    let mut sc = Scores::default();
    for d in docs {
        let chars: Vec<char> = d.text.chars().collect();
        let slice = |s: usize, e: usize| chars[s..e].iter().collect::<String>();
        let ents = stage.extract(&d.text, d.title_chars);
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
        for &(s, e, t) in &d.gold {
            gold_spans.insert(((s, e), t));
            gold_names.insert((norm(&slice(s, e)), t));
            *sc.gold.entry(t).or_default() += 1;
        }
        if dump {
            for x in pred_spans.difference(&gold_spans) {
                eprintln!("{}\tFP\t{}\t{:?}", d.id, x.1, slice(x.0.0, x.0.1));
            }
            for x in gold_spans.difference(&pred_spans) {
                eprintln!("{}\tFN\t{}\t{:?}", d.id, x.1, slice(x.0.0, x.0.1));
            }
        }
        add(&mut sc.strict, &gold_spans, &pred_spans);
        add(&mut sc.lenient, &gold_names, &pred_names);
    }
    sc
}

fn read_jsonl_set(set: &str) -> Vec<Doc> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/");
    let arts = std::fs::read_to_string(format!("{dir}{set}/articles.jsonl")).expect("articles");
    let golds = std::fs::read_to_string(format!("{dir}{set}/entities.gold.jsonl")).expect("gold");
    arts.lines()
        .zip(golds.lines())
        .map(|(a, g)| {
            let a: Value = serde_json::from_str(a).unwrap();
            let g: Value = serde_json::from_str(g).unwrap();
            let title = a["title"].as_str().unwrap();
            let text = format!("{}\n\n{}", title, a["body"].as_str().unwrap());
            assert_eq!(text, g["text"].as_str().unwrap());
            let gold = g["entities"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    (
                        e["start"].as_u64().unwrap() as usize,
                        e["end"].as_u64().unwrap() as usize,
                        ty(e["type"].as_str().unwrap()),
                    )
                })
                .collect();
            Doc {
                id: a["id"].as_str().unwrap().to_string(),
                text,
                title_chars: title.chars().count(),
                gold,
            }
        })
        .collect()
}

/// FNV-1a, then the MurmurHash3 finalizer (FNV's low digits alone are poorly spread).
fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ceb9fe1a85ec53);
    h ^ (h >> 33)
}

/// Tokens that attach to the previous one without a space.
fn no_space_before(t: &str) -> bool {
    matches!(
        t,
        "." | ","
            | ";"
            | ":"
            | "!"
            | "?"
            | ")"
            | "]"
            | "}"
            | "%"
            | "'s"
            | "'"
            | "n't"
            | "'re"
            | "'ve"
            | "'ll"
            | "'d"
            | "'m"
            | "\u{2019}s"
    )
}

fn no_space_after(t: &str) -> bool {
    matches!(t, "(" | "[" | "{" | "$" | "#" | "@")
}

/// Long documents are cut into units of this many sentences (the held-out split and the
/// trainer work on units, so a corpus of a few long documents still has a held-out part).
const CHUNK: usize = 30;

/// True at the first token line of a sentence.
fn in_sentence_none(line: &str, in_sentence: bool) -> bool {
    !in_sentence && !line.is_empty() && !line.starts_with('#')
}

/// Held-out documents (units of [`CHUNK`] sentences) of one `data/ner-train` source.
fn read_heldout(source: &str) -> Vec<Doc> {
    let path = format!(
        "{}/data/ner-train/{source}/sentences.conll",
        env!("CARGO_MANIFEST_DIR")
    );
    let data = std::fs::read_to_string(&path).expect("ner-train source");
    let name = source.rsplit('/').next().unwrap();
    let mut docs: Vec<Doc> = Vec::new();
    let mut keep = false;
    let mut sent_in_doc = 0usize;
    let mut open: Option<(usize, &'static str)> = None;
    let mut len = 0usize; // chars of the current doc text
    let mut in_sentence = false;
    let mut doc_id = String::new();
    let mut chunk = 0usize;
    for line in data.lines() {
        let chunk_start = in_sentence_none(line, in_sentence)
            && sent_in_doc > 0
            && sent_in_doc.is_multiple_of(CHUNK);
        if let Some(rest) = line.strip_prefix("# doc ") {
            doc_id = rest.split('\t').next().unwrap().to_string();
            chunk = 0;
        } else if chunk_start {
            chunk += 1;
        }
        if line.starts_with("# doc ") || chunk_start {
            if let (Some((s, t)), Some(d)) = (open.take(), docs.last_mut().filter(|_| keep)) {
                d.gold.push((s, len, t));
            }
            let unit = format!("{doc_id}#{chunk}");
            keep = fnv1a(&format!("{name}/{unit}")) % 10 == 3;
            if keep {
                docs.push(Doc {
                    id: format!("{name}/{unit}"),
                    text: String::new(),
                    title_chars: 0,
                    gold: Vec::new(),
                });
                len = 0;
            }
            if line.starts_with("# doc ") {
                sent_in_doc = 0;
                continue;
            }
        }
        if line.is_empty() {
            if let (Some((s, t)), Some(d)) = (open.take(), docs.last_mut().filter(|_| keep)) {
                d.gold.push((s, len, t));
            }
            in_sentence = false;
            sent_in_doc += 1;
            continue;
        }
        if !keep {
            in_sentence = true;
            continue;
        }
        let d = docs.last_mut().unwrap();
        let (tok, tag) = line.split_once('\t').unwrap();
        if !in_sentence && !sent_in_doc.is_multiple_of(CHUNK) {
            let sep = if sent_in_doc.is_multiple_of(3) {
                "\n\n"
            } else {
                " "
            };
            d.text.push_str(sep);
            len += sep.chars().count();
        }
        let glue = !in_sentence
            || no_space_before(tok)
            || d.text.ends_with(|c: char| no_space_after(&c.to_string()));
        if (tag == "O" || tag.starts_with("B-"))
            && let Some((s, t)) = open.take()
        {
            d.gold.push((s, len, t));
        }
        if !glue {
            d.text.push(' ');
            len += 1;
        }
        if let Some(t) = tag.strip_prefix("B-") {
            open = Some((len, ty(t)));
        }
        d.text.push_str(tok);
        len += tok.chars().count();
        in_sentence = true;
    }
    if let (Some((s, t)), Some(d)) = (open, docs.last_mut()) {
        d.gold.push((s, len, t));
    }
    docs
}

const HELDOUT: [&str; 10] = [
    "btc",
    "wikigold",
    "wnut17",
    "sec_filings",
    "re3d",
    "gum",
    "share-alike/crossner",
    "share-alike/uner_en_pud",
    "share-alike/uner_en_ewt",
    "share-alike/gum_sa",
];

fn report(set: &str, sc: &Scores) {
    eprintln!("== {set} ==");
    eprintln!(
        "{:<12} {:>22}   {:>22}   gold",
        "", "strict P / R / F1", "lenient P / R / F1"
    );
    for ty in [ALL, "PER", "ORG", "LOC", "MISC"] {
        let (s, l) = (sc.strict[ty], sc.lenient[ty]);
        let g = if ty == ALL {
            ["PER", "ORG", "LOC"]
                .iter()
                .map(|t| sc.gold.get(t).copied().unwrap_or(0))
                .sum()
        } else {
            sc.gold.get(ty).copied().unwrap_or(0)
        };
        eprintln!(
            "{ty:<12} {:.3} / {:.3} / {:.3}    {:.3} / {:.3} / {:.3}    {g}",
            s.p(),
            s.r(),
            s.f(),
            l.p(),
            l.r(),
            l.f()
        );
    }
}

/// Regression floors: (set, type, strict F1 floor, lenient F1 floor), a little below the
/// measured figures (docs/entities.md). A type a set does not annotate has no floor.
const FLOORS: &[(&str, &str, f64, f64)] = &[
    ("gum-news", "PER+ORG+LOC", 0.74, 0.75),
    ("gum-news", "PER", 0.86, 0.83),
    ("gum-news", "ORG", 0.66, 0.63),
    ("gum-news", "LOC", 0.69, 0.76),
    ("gum-news", "MISC", 0.33, 0.35),
    ("gum-interview", "PER+ORG+LOC", 0.76, 0.74),
    ("gum-interview", "PER", 0.81, 0.81),
    ("gum-interview", "ORG", 0.64, 0.61),
    ("gum-interview", "LOC", 0.81, 0.78),
    ("gum-interview", "MISC", 0.35, 0.36),
    ("wire-heldout", "PER+ORG+LOC", 0.81, 0.84),
    ("wire-heldout", "PER", 0.8, 0.84),
    ("wire-heldout", "ORG", 0.81, 0.84),
    ("wire-heldout", "LOC", 0.79, 0.83),
    ("wire-heldout", "MISC", 0.33, 0.39),
    ("heldout-btc", "PER+ORG+LOC", 0.45, 0.46),
    ("heldout-btc", "PER", 0.42, 0.44),
    ("heldout-btc", "ORG", 0.4, 0.42),
    ("heldout-btc", "LOC", 0.59, 0.59),
    ("heldout-wikigold", "PER+ORG+LOC", 0.67, 0.63),
    ("heldout-wikigold", "PER", 0.51, 0.47),
    ("heldout-wikigold", "ORG", 0.56, 0.54),
    ("heldout-wikigold", "LOC", 0.8, 0.77),
    ("heldout-wikigold", "MISC", 0.6, 0.54),
    ("heldout-wnut17", "PER+ORG+LOC", 0.48, 0.48),
    ("heldout-wnut17", "PER", 0.53, 0.53),
    ("heldout-wnut17", "ORG", 0.32, 0.33),
    ("heldout-wnut17", "LOC", 0.55, 0.55),
    ("heldout-wnut17", "MISC", 0.04, 0.04),
    ("heldout-sec_filings", "PER+ORG+LOC", 0.52, 0.56),
    ("heldout-sec_filings", "PER", 0.26, 0.37),
    ("heldout-sec_filings", "ORG", 0.47, 0.37),
    ("heldout-sec_filings", "LOC", 0.71, 0.7),
    ("heldout-re3d", "PER+ORG+LOC", 0.82, 0.8),
    ("heldout-re3d", "PER", 0.59, 0.61),
    ("heldout-re3d", "ORG", 0.88, 0.88),
    ("heldout-re3d", "LOC", 0.88, 0.88),
    ("heldout-re3d", "MISC", 0.37, 0.41),
    ("heldout-gum", "PER+ORG+LOC", 0.56, 0.59),
    ("heldout-gum", "PER", 0.69, 0.7),
    ("heldout-gum", "ORG", 0.33, 0.41),
    ("heldout-gum", "LOC", 0.65, 0.61),
    ("heldout-gum", "MISC", 0.27, 0.26),
    ("heldout-crossner", "PER+ORG+LOC", 0.74, 0.75),
    ("heldout-crossner", "PER", 0.8, 0.8),
    ("heldout-crossner", "ORG", 0.71, 0.73),
    ("heldout-crossner", "LOC", 0.7, 0.71),
    ("heldout-crossner", "MISC", 0.46, 0.47),
    ("heldout-uner_en_pud", "PER+ORG+LOC", 0.73, 0.74),
    ("heldout-uner_en_pud", "PER", 0.68, 0.68),
    ("heldout-uner_en_pud", "ORG", 0.73, 0.75),
    ("heldout-uner_en_pud", "LOC", 0.79, 0.79),
    ("heldout-uner_en_ewt", "PER+ORG+LOC", 0.45, 0.53),
    ("heldout-uner_en_ewt", "PER", 0.43, 0.51),
    ("heldout-uner_en_ewt", "ORG", 0.33, 0.39),
    ("heldout-uner_en_ewt", "LOC", 0.55, 0.63),
    ("heldout-gum_sa", "PER+ORG+LOC", 0.49, 0.46),
    ("heldout-gum_sa", "PER", 0.19, 0.19),
    ("heldout-gum_sa", "ORG", 0.41, 0.41),
    ("heldout-gum_sa", "LOC", 0.57, 0.54),
    ("heldout-gum_sa", "MISC", 0.28, 0.24),
];

#[test]
fn entities_quality_floor() {
    // ENTITIES_EVAL_MODEL=<file>: score another model file (e.g. a retrained one).
    let settings = EntitySettings {
        model: std::env::var_os("ENTITIES_EVAL_MODEL").map(Into::into),
        ..EntitySettings::default()
    };
    let stage = EntityStage::new(&settings).unwrap();
    eprintln!("model: {}", stage.model_name());
    let mut sets: Vec<(String, Vec<Doc>)> = ["gum-news", "gum-interview", "wire-heldout"]
        .iter()
        .map(|s| (s.to_string(), read_jsonl_set(s)))
        .collect();
    for src in HELDOUT {
        let docs = read_heldout(src);
        assert!(!docs.is_empty(), "{src}: no held-out documents");
        sets.push((format!("heldout-{}", src.rsplit('/').next().unwrap()), docs));
    }
    let mut failures = Vec::new();
    for (set, docs) in &sets {
        let sc = score(set, docs, &stage);
        report(set, &sc);
        for &(fs, ty, strict_floor, lenient_floor) in FLOORS {
            if fs != set {
                continue;
            }
            let (s, l) = (sc.strict[ty].f(), sc.lenient[ty].f());
            if s < strict_floor || l < lenient_floor {
                failures.push(format!(
                    "{set} {ty}: strict F1 {s:.3} (floor {strict_floor}), lenient F1 {l:.3} (floor {lenient_floor})"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "entity quality dropped: {failures:?}");
}

#[test]
fn heldout_reader_rebuilds_gold_surfaces() {
    // The reader must place every gold span on the tokens it was built from.
    let docs = read_heldout("wikigold");
    let mut n = 0;
    for d in &docs {
        let chars: Vec<char> = d.text.chars().collect();
        for &(s, e, _) in &d.gold {
            let surface: String = chars[s..e].iter().collect();
            assert!(
                !surface.trim().is_empty() && surface.trim() == surface,
                "{surface:?}"
            );
            n += 1;
        }
    }
    assert!(n > 50, "only {n} gold entities in wikigold held-out");
}
