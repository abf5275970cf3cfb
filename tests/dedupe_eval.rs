//! Labeled near-duplicate evaluation on real news text.
//!
//! Positives: each of the 24 Wikinews articles in tests/data/gum-news
//! (CC BY 2.5) against a programmatically "republished" copy, one edit kind at
//! a time (new headline, trimmed paragraphs, added boilerplate, changed
//! dateline, word edits at 5/10/20 %, paragraph reorder, update with an added
//! paragraph, and all light edits combined).
//! Hard negatives: different stories on the same subject — the naturally
//! related Wikinews pairs (Scientology x3, Hajj x2, asylum x2, religion/law
//! x2), splices (A's headline + lede on top of B's body, same-domain B),
//! B's text with A's names swapped in, follow-ups sharing one background
//! paragraph, and short hand-written same-subject pairs.
//!
//! Each pair goes through the real decision path: a fresh MemoryStore,
//! insert the first article, then ask about the second.
//!
//! Run: `cargo test --release --test dedupe_eval -- --nocapture`
//! (with `WIREDESK_DEDUPE_SWEEP=1` it also prints the method, threshold and
//! containment sweeps). With `WIREDESK_TEST_REDIS_URL` set, every pair also
//! goes through the Redis store and its decisions must equal the memory
//! store's (the Lua script implements the same rule).
//! Heavier kinds added with the containment rule: `light_15`, `trimmed_50`,
//! `trimmed_35`, `trim50_light10`; negatives `neg_brief` (short story reusing a
//! paragraph of A) and `neg_shared_quote` (two short stories sharing one long
//! paragraph).

use std::collections::BTreeMap;

use wiredesk::dedupe::fingerprint::{estimate_similarity, simhash64};
use wiredesk::dedupe::memory::MemoryStore;
use wiredesk::dedupe::{DedupeSettings, Fingerprinter};

#[path = "support/corpus.rs"]
mod corpus;
use corpus::{ARTICLES, Rng};

#[derive(Clone)]
struct Article {
    id: String,
    title: String,
    paras: Vec<String>,
}

impl Article {
    fn text(&self) -> String {
        format!("{}\n\n{}", self.title, self.paras.join("\n\n"))
    }
}

fn load() -> Vec<Article> {
    let raw = std::fs::read_to_string(ARTICLES).expect("read gum-news articles.jsonl");
    raw.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            Article {
                id: v["id"].as_str().unwrap().to_string(),
                title: v["title"].as_str().unwrap().to_string(),
                paras: v["body"]
                    .as_str()
                    .unwrap()
                    .split("\n\n")
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty())
                    .collect(),
            }
        })
        .collect()
}

/// Paragraphs with story content (Wikinews bodies start with a date line).
fn content_start(a: &Article) -> usize {
    usize::from(a.paras.len() > 1 && a.paras[0].split_whitespace().count() <= 5)
}

const FILLER: &[&str] = &[
    "reportedly",
    "officials",
    "said",
    "on",
    "Monday",
    "new",
    "also",
    "however",
    "the",
    "local",
    "government",
    "according",
    "statement",
    "week",
    "year",
    "major",
    "several",
    "including",
];

fn word_edits(text: &str, rate: f64, rng: &mut Rng, donor: &[&str]) -> String {
    let mut out = Vec::new();
    for line in text.split("\n\n") {
        let mut words = Vec::new();
        for w in line.split_whitespace() {
            if rng.chance(rate) {
                match rng.below(3) {
                    0 => {}                                                     // delete
                    1 => words.push(donor[rng.below(donor.len())].to_string()), // substitute
                    _ => {
                        words.push(w.to_string());
                        words.push(FILLER[rng.below(FILLER.len())].to_string()); // insert
                    }
                }
            } else {
                words.push(w.to_string());
            }
        }
        out.push(words.join(" "));
    }
    out.join("\n\n")
}

fn new_headline(a: &Article, rng: &mut Rng) -> String {
    let forms = ["UPDATE 1-", "", "WRAPUP-", "EXCLUSIVE-"];
    let words: Vec<&str> = a.title.split_whitespace().collect();
    let keep = words.len().div_ceil(2);
    format!(
        "{}{} amid {} concerns",
        forms[rng.below(forms.len())],
        words[..keep].join(" "),
        "growing"
    )
}

fn variants(
    a: &Article,
    all: &[Article],
    idx: usize,
    rng: &mut Rng,
) -> Vec<(&'static str, String)> {
    let cs = content_start(a);
    let body = |paras: &[String]| paras.join("\n\n");
    let donor_article = &all[(idx + 7) % all.len()];
    let donor_text = donor_article.text();
    let donor: Vec<&str> = donor_text.split_whitespace().collect();
    let mut v = Vec::new();

    v.push((
        "new_headline",
        format!("{}\n\n{}", new_headline(a, rng), body(&a.paras)),
    ));

    // Wire trims from the bottom: keep ~70 % of the content paragraphs (at least one).
    let content = &a.paras[cs..];
    let keep = ((content.len() as f64 * 0.7).ceil() as usize).max(1);
    let mut trimmed: Vec<String> = a.paras[..cs].to_vec();
    trimmed.extend(content[..keep].iter().cloned());
    v.push(("trimmed", format!("{}\n\n{}", a.title, body(&trimmed))));

    let mut bp = vec!["By Jane Doe and Ahmed Karimi, Reuters".to_string()];
    bp.extend(a.paras.iter().cloned());
    bp.push("Reporting by Jane Doe in London; Additional reporting by Ahmed Karimi; Editing by Mark Potter".into());
    bp.push(
        "This story was originally published by Wikinews and is republished under CC BY 2.5."
            .into(),
    );
    bp.push("© 2026 Thomson Reuters. All rights reserved.".into());
    v.push(("boilerplate", format!("{}\n\n{}", a.title, body(&bp))));

    let mut dl: Vec<String> = vec!["Saturday, November 28, 2026".to_string()];
    let mut first = true;
    for p in &a.paras[cs..] {
        if first {
            let place = [
                "LONDON (Reuters) - ",
                "WASHINGTON (AP) \u{2014} ",
                "PARIS, Nov 28 (AFP) -- ",
            ][rng.below(3)];
            dl.push(format!("{place}{p}"));
            first = false;
        } else {
            dl.push(p.clone());
        }
    }
    v.push(("dateline", format!("{}\n\n{}", a.title, body(&dl))));

    for (kind, rate) in [("light_5", 0.05), ("light_10", 0.10), ("light_20", 0.20)] {
        v.push((kind, word_edits(&a.text(), rate, rng, &donor)));
    }

    // Reorder: move the last content paragraph up to second place and swap a middle pair.
    let mut ro = a.paras.clone();
    if ro.len() > cs + 2 {
        let last = ro.pop().unwrap();
        ro.insert(cs + 1, last);
        let m = cs + (ro.len() - cs) / 2;
        if m + 1 < ro.len() {
            ro.swap(m, m + 1);
        }
    }
    v.push(("reorder", format!("{}\n\n{}", a.title, body(&ro))));

    // Update: new headline prefix + a new paragraph of fresh text near the top.
    let mut up = a.paras.clone();
    let fresh = donor_article.paras[content_start(donor_article)..]
        .iter()
        .max_by_key(|p| p.len())
        .cloned()
        .unwrap_or_default();
    up.insert((cs + 1).min(up.len()), format!("Update: {fresh}"));
    v.push(("update", format!("UPDATE 2-{}\n\n{}", a.title, body(&up))));

    let combined = word_edits(
        &format!("{}\n\n{}", new_headline(a, rng), body(&trimmed)),
        0.05,
        rng,
        &donor,
    );
    v.push((
        "combined",
        format!("By Jane Doe\n\n{combined}\n\nReporting by Jane Doe; Editing by Mark Potter"),
    ));

    // Heavier edits (added with the containment rule). A separate generator
    // so the kinds above keep their exact texts.
    let mut rng2 = Rng(0x5EC0_4D00 ^ (idx as u64).wrapping_mul(0x9E37_79B9));
    for (kind, frac) in [("trimmed_50", 0.5), ("trimmed_35", 0.35)] {
        let keep = ((content.len() as f64 * frac).ceil() as usize).max(1);
        let mut t: Vec<String> = a.paras[..cs].to_vec();
        t.extend(content[..keep].iter().cloned());
        v.push((kind, format!("{}\n\n{}", a.title, body(&t))));
    }
    v.push(("light_15", word_edits(&a.text(), 0.15, &mut rng2, &donor)));
    // Trim to half, then 10 % word edits and a new headline.
    let keep = ((content.len() as f64 * 0.5).ceil() as usize).max(1);
    let half = body(&content[..keep]);
    v.push((
        "trim50_light10",
        word_edits(
            &format!("{}\n\n{half}", new_headline(a, &mut rng2)),
            0.10,
            &mut rng2,
            &donor,
        ),
    ));
    v
}

const SAME_SUBJECT: &[(&str, &str)] = &[
    ("GUM_news_defector", "GUM_news_hackers"),
    ("GUM_news_defector", "GUM_news_imprisoned"),
    ("GUM_news_hackers", "GUM_news_imprisoned"),
    ("GUM_news_crane", "GUM_news_stampede"),
    ("GUM_news_asylum", "GUM_news_questionnaire"),
    ("GUM_news_taxes", "GUM_news_worship"),
];

const HANDWRITTEN: &[(&str, &str)] = &[
    (
        "Fed raises rates by quarter point\n\nWASHINGTON (Reuters) - The Federal Reserve raised its benchmark interest rate by a quarter of a percentage point on Wednesday, saying inflation remained elevated. Fed Chair Jerome Powell told reporters the central bank would watch incoming data closely before deciding on further increases.",
        "Fed minutes show officials split on rates\n\nWASHINGTON (Reuters) - Federal Reserve officials were divided over whether to keep raising interest rates, minutes of their last meeting showed on Wednesday. Several policymakers said inflation was cooling, while others told colleagues the central bank should keep its benchmark rate high for longer.",
    ),
    (
        "Strong quake hits eastern Turkey\n\nANKARA (AP) - A magnitude 6.1 earthquake struck eastern Turkey early on Monday, killing at least 12 people and collapsing dozens of buildings in Malatya province, the disaster agency AFAD said. Rescue teams searched the rubble through the night.",
        "Quake damages buildings in western Turkey\n\nANKARA (AP) - A magnitude 5.4 earthquake shook western Turkey on Thursday, damaging old buildings in Izmir province and injuring 20 people, the disaster agency AFAD said. No deaths were reported and rescue teams were checking damaged homes.",
    ),
    (
        "Apple posts record quarterly revenue\n\nCUPERTINO (Reuters) - Apple Inc reported record revenue for its holiday quarter on Thursday as iPhone sales in China rebounded, and said services revenue grew 14 percent. Chief Executive Tim Cook said demand for the new iPhone was strong.",
        "Apple unveils new iPhone with faster chip\n\nCUPERTINO (Reuters) - Apple Inc unveiled a new iPhone with a faster chip and a better camera on Tuesday, and said it would go on sale next week in China and the United States. Chief Executive Tim Cook said the phone was the best Apple had made.",
    ),
    (
        "Manchester United beat Liverpool\n\nMANCHESTER (Reuters) - Manchester United beat Liverpool 2-1 at Old Trafford on Sunday with a late goal from Marcus Rashford, lifting them to fifth in the Premier League table. Liverpool manager Arne Slot said his side had been unlucky.",
        "Manchester United sack manager\n\nMANCHESTER (Reuters) - Manchester United sacked their manager on Sunday after a run of defeats left the club tenth in the Premier League table, the club said in a statement. A caretaker will take charge for the match against Liverpool at Old Trafford.",
    ),
    (
        "Wildfire forces evacuations in California\n\nLOS ANGELES (AP) - A fast-moving wildfire forced thousands of people to evacuate their homes in Southern California on Tuesday as strong winds pushed flames toward neighbourhoods, fire officials said. More than 500 firefighters were battling the blaze.",
        "California wildfire contained, cause investigated\n\nLOS ANGELES (AP) - Firefighters have fully contained a wildfire in Southern California that forced thousands of people to evacuate last week, fire officials said on Monday. Investigators are examining whether power lines sparked the blaze.",
    ),
    (
        "Hurricane makes landfall in Florida\n\nMIAMI (AP) - Hurricane Milton made landfall on Florida's Gulf Coast late on Wednesday as a Category 3 storm, bringing a deadly storm surge and cutting power to two million homes. The National Hurricane Center warned of flooding across the state.\n\nForecasters said the storm was the strongest to hit the region in a decade, and officials had ordered the evacuation of coastal counties ahead of its arrival.",
        "Milton weakens over Atlantic as Florida counts damage\n\nMIAMI (AP) - Milton weakened to a tropical storm over the Atlantic on Thursday as Floridians returned to flooded homes and crews worked to restore power to more than three million customers. At least ten people died, state officials said.\n\nForecasters said the storm was the strongest to hit the region in a decade, and officials had ordered the evacuation of coastal counties ahead of its arrival.",
    ),
];

struct Pair {
    kind: &'static str,
    a: String,
    b: String,
    dup: bool,
}

fn build_pairs() -> Vec<Pair> {
    let arts = load();
    assert_eq!(arts.len(), 24, "expected the 24 gum-news articles");
    let by_id = |id: &str| arts.iter().find(|a| a.id == id).unwrap().clone();
    let mut rng = Rng(0x00D1_CE5E_ED00_2026);
    let mut pairs = Vec::new();
    for (i, a) in arts.iter().enumerate() {
        for (kind, text) in variants(a, &arts, i, &mut rng) {
            pairs.push(Pair {
                kind,
                a: a.text(),
                b: text,
                dup: true,
            });
        }
    }
    for &(x, y) in SAME_SUBJECT {
        let (a, b) = (by_id(x), by_id(y));
        pairs.push(Pair {
            kind: "neg_same_subject",
            a: a.text(),
            b: b.text(),
            dup: false,
        });
        // Splice: A's headline and lede on top of B's body.
        let mut sp = vec![a.paras[content_start(&a)].clone()];
        sp.extend(b.paras[content_start(&b) + 1..].iter().cloned());
        pairs.push(Pair {
            kind: "neg_splice",
            a: a.text(),
            b: format!("{}\n\n{}", a.title, sp.join("\n\n")),
            dup: false,
        });
        // Swap: B's text with A's capitalized names substituted for B's.
        let at = a.text();
        let names: Vec<&str> = at
            .split_whitespace()
            .filter(|w| w.chars().next().is_some_and(char::is_uppercase))
            .collect();
        let mut k = 0;
        let swapped: Vec<String> = b
            .text()
            .split_whitespace()
            .map(|w| {
                if w.chars().next().is_some_and(char::is_uppercase) {
                    k += 1;
                    names[k % names.len()].to_string()
                } else {
                    w.to_string()
                }
            })
            .collect();
        pairs.push(Pair {
            kind: "neg_name_swap",
            a: a.text(),
            b: swapped.join(" "),
            dup: false,
        });
        // Follow-up: B's story that repeats one background paragraph of A.
        let bg = a.paras[content_start(&a) + 1..]
            .iter()
            .max_by_key(|p| p.len())
            .cloned()
            .unwrap_or_default();
        pairs.push(Pair {
            kind: "neg_followup",
            a: a.text(),
            b: format!("{}\n\n{}", b.text(), bg),
            dup: false,
        });
        // Brief: a short story about B (headline + lede) that reuses A's
        // longest background paragraph: a large share of the short text is
        // contained in A, which stresses the containment rule.
        let b_lede = b.paras[content_start(&b)].clone();
        pairs.push(Pair {
            kind: "neg_brief",
            a: a.text(),
            b: format!("{}\n\n{}\n\n{}", b.title, b_lede, bg),
            dup: false,
        });
        // Shared quote: two short different stories (headline + three
        // paragraphs each) that both carry the same long paragraph.
        let short = |x: &Article| {
            let cs = content_start(x);
            let end = (cs + 3).min(x.paras.len());
            format!("{}\n\n{}", x.title, x.paras[cs..end].join("\n\n"))
        };
        pairs.push(Pair {
            kind: "neg_shared_quote",
            a: format!("{}\n\n{}", short(&a), bg),
            b: format!("{}\n\n{}", short(&b), bg),
            dup: false,
        });
    }
    for &(x, y) in HANDWRITTEN {
        pairs.push(Pair {
            kind: "neg_handwritten",
            a: x.into(),
            b: y.into(),
            dup: false,
        });
    }
    pairs
}

#[derive(Default, Clone, Copy)]
struct Counts {
    tp: u32,
    fp: u32,
    fnn: u32,
    tn: u32,
}

impl Counts {
    fn add(&mut self, dup: bool, said: bool) {
        match (dup, said) {
            (true, true) => self.tp += 1,
            (true, false) => self.fnn += 1,
            (false, true) => self.fp += 1,
            (false, false) => self.tn += 1,
        }
    }
    fn precision(&self) -> f64 {
        if self.tp + self.fp == 0 {
            1.0
        } else {
            self.tp as f64 / (self.tp + self.fp) as f64
        }
    }
    fn recall(&self) -> f64 {
        if self.tp + self.fnn == 0 {
            1.0
        } else {
            self.tp as f64 / (self.tp + self.fnn) as f64
        }
    }
    fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

/// Decision through the real store path for one pair.
fn decide(s: &DedupeSettings, f: &Fingerprinter, p: &Pair) -> (bool, f64) {
    let m = MemoryStore::new(s);
    let fa = f.fingerprint(&p.a);
    let fb = f.fingerprint(&p.b);
    m.check_and_insert("a", &fa, 1_000).unwrap();
    let r = m.check_and_insert("b", &fb, 2_000).unwrap();
    (
        r.is_duplicate(),
        estimate_similarity(fa.signature(), fb.signature()),
    )
}

fn evaluate(
    s: &DedupeSettings,
    pairs: &[Pair],
) -> (Counts, BTreeMap<&'static str, Counts>, Vec<(bool, f64)>) {
    let f = Fingerprinter::new(s);
    let mut all = Counts::default();
    let mut per: BTreeMap<&'static str, Counts> = BTreeMap::new();
    let mut sims = Vec::new();
    for p in pairs {
        let (said, sim) = decide(s, &f, p);
        all.add(p.dup, said);
        per.entry(p.kind).or_default().add(p.dup, said);
        sims.push((p.dup, sim));
    }
    (all, per, sims)
}

fn best_threshold(scores: &[(bool, f64)], higher_is_dup: bool) -> (f64, Counts) {
    let mut best = (0.0, Counts::default(), -1.0);
    for &(_, t) in scores {
        let mut c = Counts::default();
        for &(dup, s) in scores {
            c.add(dup, if higher_is_dup { s >= t } else { s <= t });
        }
        if c.f1() > best.2 {
            best = (t, c, c.f1());
        }
    }
    (best.0, best.1)
}

#[test]
fn dedupe_eval() {
    let pairs = build_pairs();
    let npos = pairs.iter().filter(|p| p.dup).count();
    println!(
        "\n== dedupe eval: {} pairs ({} positive, {} hard negative)",
        pairs.len(),
        npos,
        pairs.len() - npos
    );

    // Method comparison and threshold sweep (what the defaults were chosen
    // from): slow in debug builds, so only with WIREDESK_DEDUPE_SWEEP=1.
    if std::env::var_os("WIREDESK_DEDUPE_SWEEP").is_some() {
        sweep(&pairs);
    }
    if std::env::var_os("WIREDESK_DEDUPE_SWEEP").is_some()
        || std::env::var_os("WIREDESK_DEDUPE_CSWEEP").is_some()
    {
        containment_sweep(&pairs);
    }

    // The shipped defaults, through the real MemoryStore path (LSH + confirmation).
    let s = DedupeSettings {
        enabled: true,
        ..Default::default()
    };
    report_and_check(&s, &pairs);
}

fn sweep(pairs: &[Pair]) {
    println!("\n-- method sweep: best-F1 threshold per method (pair scores, no LSH) --");
    println!(
        "{:<28} {:>9} {:>9} {:>9} {:>9}",
        "method", "thresh", "prec", "recall", "F1"
    );
    for k in [2usize, 3, 4, 5] {
        for h in [64usize, 128] {
            let f = Fingerprinter::with_params(k, h);
            let scores: Vec<(bool, f64)> = pairs
                .iter()
                .map(|p| {
                    (
                        p.dup,
                        estimate_similarity(
                            f.fingerprint(&p.a).signature(),
                            f.fingerprint(&p.b).signature(),
                        ),
                    )
                })
                .collect();
            let (t, c) = best_threshold(&scores, true);
            let max_neg = scores
                .iter()
                .filter(|s| !s.0)
                .map(|s| s.1)
                .fold(0.0, f64::max);
            let min_l10 = pairs
                .iter()
                .zip(&scores)
                .filter(|(p, _)| p.kind == "light_10")
                .map(|(_, s)| s.1)
                .fold(1.0, f64::min);
            println!(
                "{:<28} {:>9.3} {:>9.3} {:>9.3} {:>9.3}   max neg {:.3}, min light_10 {:.3}",
                format!("minhash k={k} h={h}"),
                t,
                c.precision(),
                c.recall(),
                c.f1(),
                max_neg,
                min_l10
            );
        }
        let scores: Vec<(bool, f64)> = pairs
            .iter()
            .map(|p| {
                (
                    p.dup,
                    (simhash64(&p.a, k) ^ simhash64(&p.b, k)).count_ones() as f64,
                )
            })
            .collect();
        let (t, c) = best_threshold(&scores, false);
        println!(
            "{:<28} {:>9} {:>9.3} {:>9.3} {:>9.3}",
            format!("simhash64 k={k} (hamming<=)"),
            t,
            c.precision(),
            c.recall(),
            c.f1()
        );
    }

    // Threshold sweep for the default shingle/hash sizes through the real path.
    println!("\n-- threshold sweep, defaults otherwise, real LSH + confirmation path --");
    for t in [0.3, 0.35, 0.4, 0.45, 0.5, 0.6] {
        let s = DedupeSettings {
            threshold: t,
            ..Default::default()
        };
        let (b, r) = s.band_layout();
        let (all, per, _) = evaluate(&s, pairs);
        println!(
            "t={t:.2} bands={b}x{r}: precision {:.3} recall {:.3} F1 {:.3} | light_10 {:.2} light_20 {:.2} combined {:.2} trimmed {:.2}",
            all.precision(),
            all.recall(),
            all.f1(),
            per["light_10"].recall(),
            per["light_20"].recall(),
            per["combined"].recall(),
            per["trimmed"].recall()
        );
    }
}

fn containment_sweep(pairs: &[Pair]) {
    println!("\n-- containment rule sweep (threshold 0.4), real LSH + confirmation path --");
    for mj in [0.4, 0.2, 0.25, 0.3] {
        for ct in [0.45, 0.5, 0.55, 0.6] {
            let s = DedupeSettings {
                min_jaccard: mj,
                containment_threshold: ct,
                ..Default::default()
            };
            let (all, per, _) = evaluate(&s, pairs);
            let negfp: u32 = per
                .iter()
                .filter(|(k, _)| k.starts_with("neg_"))
                .map(|(_, c)| c.fp)
                .sum();
            let fps: Vec<String> = per
                .iter()
                .filter(|(k, c)| k.starts_with("neg_") && c.fp > 0)
                .map(|(k, c)| format!("{k}:{}", c.fp))
                .collect();
            println!(
                "minj={mj:.2} c={ct:.2}: P {:.3} R {:.3} fp {negfp} {fps:?} | l15 {:.2} l20 {:.2} comb {:.2} t50 {:.2} t35 {:.2} t50l10 {:.2}",
                all.precision(),
                all.recall(),
                per["light_15"].recall(),
                per["light_20"].recall(),
                per["combined"].recall(),
                per["trimmed_50"].recall(),
                per["trimmed_35"].recall(),
                per["trim50_light10"].recall()
            );
        }
    }
}

fn report_and_check(s: &DedupeSettings, pairs: &[Pair]) {
    let (b, r) = s.band_layout();
    let (all, per, sims) = evaluate(s, pairs);
    println!(
        "\n-- defaults: threshold={} shingle_size={} num_hashes={} bands={}x{} rows --",
        s.threshold, s.shingle_size, s.num_hashes, b, r
    );
    println!(
        "{:<18} {:>5} {:>9} {:>9} {:>12}",
        "kind", "pairs", "recall", "precision", "sim(min/avg)"
    );
    for (kind, c) in &per {
        let ks: Vec<f64> = pairs
            .iter()
            .zip(&sims)
            .filter(|(p, _)| p.kind == *kind)
            .map(|(_, s)| s.1)
            .collect();
        let min = ks.iter().cloned().fold(f64::MAX, f64::min);
        let avg = ks.iter().sum::<f64>() / ks.len() as f64;
        if kind.starts_with("neg_") {
            let max = ks.iter().cloned().fold(0.0, f64::max);
            println!(
                "{:<18} {:>5} {:>9} {:>9}  max {:.2}/avg {:.2}   false positives: {}",
                kind,
                c.fp + c.tn,
                "-",
                "-",
                max,
                avg,
                c.fp
            );
        } else {
            // Precision per kind: this kind's positives against all hard negatives.
            let p = c.tp as f64 / (c.tp + all.fp).max(1) as f64;
            println!(
                "{:<18} {:>5} {:>9.3} {:>9.3} {:>5.2}/{:.2}",
                kind,
                c.tp + c.fnn,
                c.recall(),
                p,
                min,
                avg
            );
        }
    }
    println!(
        "ALL                {:>5} recall {:.3} precision {:.3} F1 {:.3} (tp {} fp {} fn {} tn {})",
        pairs.len(),
        all.recall(),
        all.precision(),
        all.f1(),
        all.tp,
        all.fp,
        all.fnn,
        all.tn
    );

    // Regression floors (measured values are in docs/dedupe.md).
    assert!(
        all.precision() >= 0.97,
        "precision fell to {:.3}",
        all.precision()
    );
    assert!(all.recall() >= 0.83, "recall fell to {:.3}", all.recall());
    // The containment rule must not let the containment-stressing negatives
    // through (short brief reusing a paragraph, shared long quote).
    for kind in ["neg_brief", "neg_shared_quote", "neg_followup"] {
        assert_eq!(per[kind].fp, 0, "false positives in {kind}");
    }
    for kind in [
        "new_headline",
        "boilerplate",
        "dateline",
        "reorder",
        "light_5",
        "light_10",
        "update",
        "trimmed",
    ] {
        let r = per[kind].recall();
        assert!(r >= 0.95, "recall for {kind} fell to {r:.3}");
    }
    for (kind, floor) in [
        ("light_15", 0.8),
        ("trimmed_50", 0.7),
        ("trimmed_35", 0.45),
        ("trim50_light10", 0.45),
    ] {
        let r = per[kind].recall();
        assert!(r >= floor, "recall for {kind} fell to {r:.3}");
    }
    assert!(
        per["combined"].recall() >= 0.85,
        "combined recall {:.3}",
        per["combined"].recall()
    );
    assert!(
        per["light_20"].recall() >= 0.2,
        "light_20 recall {:.3}",
        per["light_20"].recall()
    );
}

#[test]
fn boilerplate_only_edits_are_exact_duplicates() {
    let s = DedupeSettings::default();
    let f = Fingerprinter::new(&s);
    let pairs = build_pairs();
    for p in pairs.iter().filter(|p| p.kind == "boilerplate") {
        // Boilerplate lines are removed entirely: the signatures are identical.
        assert_eq!(
            f.fingerprint(&p.a).signature(),
            f.fingerprint(&p.b).signature()
        );
    }
}

/// Memory and Redis stores must take the same decision on every pair.
#[test]
fn redis_store_matches_memory_store() {
    let Ok(url) = std::env::var("WIREDESK_TEST_REDIS_URL") else {
        panic!(
            "WIREDESK_TEST_REDIS_URL is not set. This test needs a real redis-server: run `scripts/test`, \
             or `scripts/redis-local start` and export WIREDESK_TEST_REDIS_URL=redis://127.0.0.1:6390"
        );
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let pairs = build_pairs();
    let base = DedupeSettings::default();
    let f = Fingerprinter::new(&base);
    rt.block_on(async {
        for (i, p) in pairs.iter().enumerate() {
            let mut s = DedupeSettings {
                store: wiredesk::dedupe::StoreKind::Redis,
                window_secs: 600,
                ..Default::default()
            };
            s.redis.url = url.clone();
            s.redis.key_prefix = format!("wiredesk-eval:{}:{nanos}:{i}:", std::process::id());
            let r = wiredesk::dedupe::Store::connect(&s).await.unwrap();
            let (fa, fb) = (f.fingerprint(&p.a), f.fingerprint(&p.b));
            r.check_and_insert("a", &fa, 1_000).await.unwrap();
            let got = r.check_and_insert("b", &fb, 2_000).await.unwrap();
            let m = MemoryStore::new(&base);
            m.check_and_insert("a", &fa, 1_000).unwrap();
            let want = m.check_and_insert("b", &fb, 2_000).unwrap();
            assert_eq!(got, want, "pair {i} ({})", p.kind);
        }
    });
}
