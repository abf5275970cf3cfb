//! Training of the topic model (`cargo run --release --example train_topics`). Deterministic: the
//! same items and options give the same bytes (fixed seed, no threads, no clock).
//!
//! Multinomial logistic regression over the top-level topics and one logistic output per
//! modelled second-level topic (trained on the items of its parent only), AdaGrad, L2 on touched
//! weights. The temperature of the softmax and the scale of the second-level logits are fitted on
//! a calibration split (every 5th written item); the final model is then trained on all items with the
//! same settings and keeps the fitted calibration. Weights are quantised to i8 per column.
//!
//! Held-out items (`data/topics/heldout.jsonl`) are never read here.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

use super::features::{self, OrgKind, Vocabulary};
use super::model::{self, Class, TopicModel};

/// One labeled item.
#[derive(Debug, Clone, Deserialize)]
pub struct Item {
    pub id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub body: String,
    /// Tag ids: one top-level topic, optionally second-level ones.
    pub labels: Vec<String>,
    /// Where the label comes from: `written:...`, `definition:...`, `weak:taxonomy:...`,
    /// `weak:crossner:...`. Training can drop items by provenance prefix.
    pub provenance: String,
    /// Training weight; weak labels weigh less.
    #[serde(default = "one")]
    pub weight: f32,
}

fn one() -> f32 {
    1.0
}

/// Read a JSONL file of items.
pub fn read_items(path: &Path) -> anyhow::Result<Vec<Item>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).with_context(|| format!("{}:{}", path.display(), i + 1))
        })
        .collect()
}

/// The text an item is read as: headline, blank line, body (the normalized article shape).
pub fn item_text(item: &Item) -> (String, usize) {
    if item.title.is_empty() {
        (item.body.clone(), 0)
    } else {
        (
            format!("{}\n\n{}", item.title, item.body),
            item.title.chars().count(),
        )
    }
}

/// Options of a training run.
#[derive(Debug, Clone)]
pub struct Options {
    pub version: String,
    pub epochs: usize,
    pub learning_rate: f32,
    pub l2: f32,
    /// Features seen in fewer items are dropped (and such words get trigrams instead).
    pub min_df: usize,
    pub seed: u64,
    /// Fits with different shuffles whose weights are averaged (less variance on small data).
    pub ensemble: usize,
    /// Naive Bayes instead of logistic regression (same linear form and file format).
    pub naive_bayes: bool,
    /// Additive smoothing of the naive Bayes counts.
    pub nb_alpha: f32,
    /// Stop after the first fit (without the calibration split): a model for measuring the
    /// combination with the rules on the calibration items (`examples/train_topics.rs
    /// --fit-only`).
    pub fit_only: bool,
    /// The top-level classes in output order: (id, label).
    pub top: Vec<(String, String)>,
    /// Second-level classes: (id, label, parent id).
    pub sub: Vec<(String, String, String)>,
}

/// Organisation names and kinds for the model's table, from the entities stage's registry
/// `data/org-gazetteers/organizations.tsv` (`canonical<TAB>kind<TAB>ids<TAB>aliases`, aliases
/// `|`-separated; see its README). The canonical name and every alias with a lower-case letter
/// are stored: aliases without one are acronyms and short forms (ordinary words such as "IS",
/// "ALL" once lower-cased). The single-word names of `common` (the upstream
/// `common_word_names.txt` stop list), names under 4 characters and names listed under two
/// kinds are left out. The registry has no healthcare kind (the entities stage does not use it):
/// health organisations are known by their names' last words only
/// ([`features::org_kind_from_name`]).
pub fn read_org_table(tsv: &Path, common: &Path) -> anyhow::Result<Vec<(u32, u8)>> {
    let stop: HashSet<String> = std::fs::read_to_string(common)
        .with_context(|| format!("reading {}", common.display()))?
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split('\t').next())
        .map(|w| w.trim().to_lowercase())
        .collect();
    let text =
        std::fs::read_to_string(tsv).with_context(|| format!("reading {}", tsv.display()))?;
    let mut kinds: BTreeMap<u32, Option<u8>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let mut cols = line.split('\t');
        let (Some(canonical), Some(kind)) = (cols.next(), cols.next()) else {
            continue;
        };
        let Some(kind) = OrgKind::from_gazetteer(kind) else {
            continue;
        };
        let aliases = cols.nth(1).unwrap_or("");
        let names = std::iter::once(canonical).chain(
            aliases
                .split('|')
                .filter(|a| a.chars().any(char::is_lowercase)),
        );
        for name in names {
            let lower = name.trim().to_lowercase();
            if lower.chars().count() < 4 || stop.contains(&lower) {
                continue;
            }
            let h = features::org_name_hash(name);
            let e = kinds.entry(h).or_insert(Some(kind as u8));
            if *e != Some(kind as u8) {
                *e = None; // ambiguous: two kinds
            }
        }
    }
    Ok(kinds
        .into_iter()
        .filter_map(|(h, k)| k.map(|k| (h, k)))
        .collect())
}

/// An item as sparse features.
struct Example {
    /// (feature row, value) of text features, rows unique; scaled by the length at use.
    x: Vec<(u32, f32)>,
    /// (feature row, value) of entity and rule features, not scaled.
    flat: Vec<(u32, f32)>,
    tokens: usize,
    top: usize,
    /// Second-level class indices (into the sub list) the item has.
    subs: Vec<usize>,
    weight: f32,
}

/// A vocabulary given by a set of known word hashes.
struct SetVocab<'a>(&'a HashSet<u32>);
impl Vocabulary for SetVocab<'_> {
    fn knows(&self, w: u32) -> bool {
        self.0.contains(&w)
    }
}

/// Everything known: pass 1 counts words without trigrams.
struct AllVocab;
impl Vocabulary for AllVocab {
    fn knows(&self, _: u32) -> bool {
        true
    }
}

/// Merge duplicate keys (sum values).
fn merge(mut raw: Vec<(u32, f32, bool)>) -> Vec<(u32, f32, bool)> {
    raw.sort_by_key(|a| a.0);
    let mut merged: Vec<(u32, f32, bool)> = Vec::with_capacity(raw.len());
    for (h, v, w) in raw {
        match merged.last_mut() {
            Some(last) if last.0 == h => {
                last.1 += v;
                last.2 |= w;
            }
            _ => merged.push((h, v, w)),
        }
    }
    merged
}

/// Features of one item: text features (scaled by length at use), flat features (entity kinds
/// and rule scores, not scaled) and the token count.
type Extracted = (Vec<(u32, f32, bool)>, Vec<(u32, f32, bool)>, usize);

fn extract(
    text: &str,
    title_chars: usize,
    entities: &[(&str, &str)],
    rules: &[(u32, f32)],
    vocab: &dyn Vocabulary,
    orgs: &TopicModel,
) -> Extracted {
    let title_bytes = text
        .char_indices()
        .nth(title_chars)
        .map_or(text.len(), |(i, _)| i);
    let mut raw: Vec<(u32, f32, bool)> = Vec::new();
    let tokens =
        features::text_features(text, title_bytes, vocab, &mut |h, v, w| raw.push((h, v, w)));
    let mut flat: Vec<(u32, f32, bool)> = Vec::new();
    let mut kinds = Vec::new();
    orgs.entity_features(entities, &mut kinds, &mut |h, v, w| flat.push((h, v, w)));
    flat.extend(rules.iter().map(|&(h, v)| (h, v, false)));
    (merge(raw), merge(flat), tokens)
}

/// Indices of the calibration split: every 5th written item (`written:` provenance) in the
/// order given. The first fit of [`train`] does not see them (nor their augmented copies).
pub fn calibration_split(items: &[Item]) -> Vec<usize> {
    let mut written = 0usize;
    let mut out = Vec::new();
    for (i, it) in items.iter().enumerate() {
        if it.provenance.starts_with("written:") {
            written += 1;
            if written.is_multiple_of(5) {
                out.push(i);
            }
        }
    }
    out
}

/// A trained model plus figures from the calibration split.
pub struct Trained {
    pub model: TopicModel,
    /// Top-level accuracy on the calibration split (model trained without it).
    pub calibration_accuracy: f64,
    pub calibration_items: usize,
    /// Top-level accuracy on the items the first fit was trained on (a check for underfitting).
    pub fit_accuracy: f64,
    pub features: usize,
}

/// Entities per item, computed once by the caller with the entities stage.
pub type Entities = Vec<Vec<(String, String)>>;

/// Train a model on `items` (with their `entities`), org table `orgs`.
pub fn train(
    items: &[Item],
    entities: &Entities,
    rules: &[Vec<(u32, f32)>],
    orgs: Vec<(u32, u8)>,
    opt: &Options,
) -> anyhow::Result<Trained> {
    let top_ix: HashMap<&str, usize> = opt
        .top
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (id.as_str(), i))
        .collect();
    let sub_ix: HashMap<&str, usize> = opt
        .sub
        .iter()
        .enumerate()
        .map(|(i, (id, _, _))| (id.as_str(), i))
        .collect();
    let sub_parent: Vec<usize> = opt
        .sub
        .iter()
        .map(|(id, _, p)| {
            top_ix
                .get(p.as_str())
                .copied()
                .with_context(|| format!("second-level class {id}: unknown parent {p}"))
        })
        .collect::<anyhow::Result<_>>()?;
    // A model with only the org table, for entity features while extracting.
    let mut classes: Vec<Class> = opt
        .top
        .iter()
        .map(|(id, label)| Class {
            id: id.clone(),
            label: label.clone(),
            parent: None,
        })
        .collect();
    classes.extend(
        opt.sub
            .iter()
            .zip(&sub_parent)
            .map(|((id, label, _), &p)| Class {
                id: id.clone(),
                label: label.clone(),
                parent: Some(p),
            }),
    );
    let c = classes.len();
    let n_top = opt.top.len();
    let org_model = TopicModel::from_parts(
        opt.version.clone(),
        1.0,
        1.0,
        classes.clone(),
        n_top,
        vec![0.0; c],
        vec![1.0; c],
        Vec::new(),
        Vec::new(),
        orgs.clone(),
    )?;

    let texts: Vec<(String, usize)> = items.iter().map(item_text).collect();
    let ents: Vec<Vec<(&str, &str)>> = entities
        .iter()
        .map(|e| e.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect())
        .collect();
    let no_entities: Vec<(&str, &str)> = Vec::new();
    let ents_of = |i: usize| ents.get(i).unwrap_or(&no_entities);
    let no_rules: Vec<(u32, f32)> = Vec::new();
    let rules_of = |i: usize| rules.get(i).unwrap_or(&no_rules);

    // Pass 1: document frequency of words -> vocabulary.
    let mut word_df: HashMap<u32, usize> = HashMap::new();
    for (i, (text, tc)) in texts.iter().enumerate() {
        let (f, _, _) = extract(text, *tc, ents_of(i), rules_of(i), &AllVocab, &org_model);
        for (h, _, w) in f {
            if w {
                *word_df.entry(h).or_default() += 1;
            }
        }
    }
    let vocab: HashSet<u32> = word_df
        .iter()
        .filter(|&(_, &n)| n >= opt.min_df)
        .map(|(&h, _)| h)
        .collect();
    // Pass 2: features with trigrams for rare words; keep features with df >= min_df.
    let mut raw: Vec<Extracted> = Vec::with_capacity(items.len());
    let mut df: HashMap<u32, usize> = HashMap::new();
    for (i, (text, tc)) in texts.iter().enumerate() {
        let e = extract(
            text,
            *tc,
            ents_of(i),
            rules_of(i),
            &SetVocab(&vocab),
            &org_model,
        );
        for (h, _, _) in e.0.iter().chain(&e.1) {
            *df.entry(*h).or_default() += 1;
        }
        raw.push(e);
    }
    let mut keys: Vec<u32> = df
        .iter()
        .filter(|&(h, &n)| n >= opt.min_df && (vocab.contains(h) || !word_df.contains_key(h)))
        .map(|(&h, _)| h)
        .collect();
    keys.sort_unstable();
    let key_row: HashMap<u32, usize> = keys.iter().enumerate().map(|(i, &k)| (k, i)).collect();

    let mut examples: Vec<Example> = Vec::with_capacity(items.len());
    for (item, (f, flat, tokens)) in items.iter().zip(raw) {
        let tops: Vec<usize> = item
            .labels
            .iter()
            .filter_map(|l| top_ix.get(l.as_str()).copied())
            .collect();
        let Some(&top) = tops.first() else {
            anyhow::bail!(
                "item {}: no top-level label among {:?}",
                item.id,
                item.labels
            );
        };
        let subs = item
            .labels
            .iter()
            .filter_map(|l| sub_ix.get(l.as_str()).copied())
            .filter(|&s| sub_parent[s] == top)
            .collect();
        let rows = |f: Vec<(u32, f32, bool)>| -> Vec<(u32, f32)> {
            f.into_iter()
                .filter_map(|(h, v, _)| key_row.get(&h).map(|&r| (r as u32, v)))
                .collect()
        };
        examples.push(Example {
            x: rows(f),
            flat: rows(flat),
            tokens,
            top,
            subs,
            weight: item.weight,
        });
    }

    // Calibration split: every 5th written item (in file order) is held back from the first
    // fit, so the temperature is fitted, and the split's accuracy measured, on the kind of item
    // the model is for; weak and definition items always train. Augmented copies of an item
    // (`augmented:` provenance, id `<item>#<part>`) follow their item.
    let calib_ids: HashSet<&str> = calibration_split(items)
        .into_iter()
        .map(|i| items[i].id.as_str())
        .collect();
    let mut fit = Vec::new();
    let mut calib = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let base = it.id.split('#').next().unwrap_or("");
        if it.provenance.starts_with("written:") && calib_ids.contains(it.id.as_str()) {
            calib.push(i);
        } else if !(it.provenance.starts_with("augmented:") && calib_ids.contains(base)) {
            fit.push(i);
        }
    }
    let fitter = |which: &[usize]| {
        if opt.naive_bayes {
            naive_bayes(
                &examples,
                which,
                keys.len(),
                c,
                n_top,
                &sub_parent,
                opt.nb_alpha,
            )
        } else {
            let k = opt.ensemble.max(1);
            let mut sum: Vec<f32> = Vec::new();
            for e in 0..k {
                let o = Options {
                    seed: opt.seed.wrapping_add(e as u64 * 0x9e37_79b9_7f4a_7c15),
                    ..opt.clone()
                };
                let w = fit_weights(&examples, which, keys.len(), c, n_top, &sub_parent, &o);
                if sum.is_empty() {
                    sum = w;
                } else {
                    sum.iter_mut().zip(w).for_each(|(a, b)| *a += b);
                }
            }
            sum.iter_mut().for_each(|a| *a /= k as f32);
            sum
        }
    };
    let w_fit = fitter(&fit);
    let (temperature, sub_scale, acc) =
        calibrate(&examples, &calib, &w_fit, keys.len(), c, n_top, &sub_parent);
    let fit_accuracy = calibrate(&examples, &fit, &w_fit, keys.len(), c, n_top, &sub_parent).2;
    let w = if opt.fit_only {
        w_fit
    } else {
        let all: Vec<usize> = (0..examples.len()).collect();
        fitter(&all)
    };

    // Quantise per column: the largest |w| maps to 127.
    let (bias, rows) = w.split_at(c);
    let mut scale = vec![0f32; c];
    for j in 0..c {
        let m = (0..keys.len())
            .map(|r| rows[r * c + j].abs())
            .fold(0f32, f32::max);
        scale[j] = if m > 0.0 { m / 127.0 } else { 1.0 };
    }
    let q: Vec<i8> = rows
        .iter()
        .enumerate()
        .map(|(i, &x)| (x / scale[i % c]).round().clamp(-127.0, 127.0) as i8)
        .collect();
    let n_features = keys.len();
    let model = TopicModel::from_parts(
        opt.version.clone(),
        temperature,
        sub_scale,
        classes,
        n_top,
        bias.to_vec(),
        scale,
        keys,
        q,
        orgs,
    )?;
    Ok(Trained {
        model,
        calibration_accuracy: acc,
        calibration_items: calib.len(),
        fit_accuracy,
        features: n_features,
    })
}

/// Small deterministic PRNG (xorshift64*), for the epoch shuffles.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

/// Raw logits of one example: bias + norm * x.W (unquantised weights).
fn logits(w: &[f32], ex: &Example, c: usize, out: &mut [f32]) {
    out.copy_from_slice(&w[..c]);
    let norm = model::doc_norm(ex.tokens);
    let flat = ex.flat.iter().map(|&(r, v)| (r, v));
    for (r, v) in ex.x.iter().map(|&(r, v)| (r, v * norm)).chain(flat) {
        let row = &w[c + r as usize * c..c + r as usize * c + c];
        for (o, wi) in out.iter_mut().zip(row) {
            *o += v * wi;
        }
    }
}

/// AdaGrad over the given examples. Layout of the result: bias (C) then rows (n_keys x C).
fn fit_weights(
    ex: &[Example],
    which: &[usize],
    n_keys: usize,
    c: usize,
    n_top: usize,
    sub_parent: &[usize],
    opt: &Options,
) -> Vec<f32> {
    let mut w = vec![0f32; c + n_keys * c];
    let mut g2 = vec![1e-6f32; c + n_keys * c];
    let mut order = which.to_vec();
    let mut rng = Rng(opt.seed | 1);
    let mut z = vec![0f32; c];
    let mut grad = vec![0f32; c];
    for _ in 0..opt.epochs {
        rng.shuffle(&mut order);
        for &i in &order {
            let e = &ex[i];
            logits(&w, e, c, &mut z);
            // top-level softmax gradient
            let max = z[..n_top].iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let sum: f32 = z[..n_top].iter().map(|v| (v - max).exp()).sum();
            for j in 0..n_top {
                let p = (z[j] - max).exp() / sum;
                grad[j] = e.weight * (p - if j == e.top { 1.0 } else { 0.0 });
            }
            // second-level: logistic, only for children of the item's own top-level class
            for (s, &parent) in sub_parent.iter().enumerate() {
                let j = n_top + s;
                grad[j] = if parent == e.top {
                    let y = if e.subs.contains(&s) { 1.0 } else { 0.0 };
                    e.weight * (model::sigmoid(z[j]) - y)
                } else {
                    0.0
                };
            }
            let norm = model::doc_norm(e.tokens);
            let mut step = |k: usize, g: f32, reg: bool| {
                let g = if reg { g + opt.l2 * w[k] } else { g };
                if g == 0.0 {
                    return;
                }
                g2[k] += g * g;
                w[k] -= opt.learning_rate * g / g2[k].sqrt();
            };
            for (j, &g) in grad.iter().enumerate() {
                step(j, g, false);
            }
            let flat = e.flat.iter().map(|&(r, v)| (r, v));
            for (r, v) in e.x.iter().map(|&(r, v)| (r, v * norm)).chain(flat) {
                let base = c + r as usize * c;
                for (j, &g) in grad.iter().enumerate() {
                    if g != 0.0 {
                        step(base + j, g * v, true);
                    }
                }
            }
        }
    }
    w
}

/// Multinomial naive Bayes in the linear form of the model: per feature and class the log
/// likelihood ratio against the mean over classes (softmax is unchanged by a per-feature shift,
/// and centred weights quantise better); second-level outputs compare a child with the rest of
/// its parent's items.
fn naive_bayes(
    ex: &[Example],
    which: &[usize],
    n_keys: usize,
    c: usize,
    n_top: usize,
    sub_parent: &[usize],
    alpha: f32,
) -> Vec<f32> {
    let mut w = vec![0f32; c + n_keys * c];
    // counts[class][feature], for top-level classes and (child, rest-of-parent) pairs
    let n_sub = sub_parent.len();
    let mut top_counts = vec![0f32; n_top * n_keys];
    let mut top_docs = vec![0f32; n_top];
    let mut sub_in = vec![0f32; n_sub * n_keys];
    let mut sub_out = vec![0f32; n_sub * n_keys];
    let mut sub_docs = vec![(0f32, 0f32); n_sub];
    for &i in which {
        let e = &ex[i];
        top_docs[e.top] += e.weight;
        for &(r, v) in e.x.iter().chain(&e.flat) {
            top_counts[e.top * n_keys + r as usize] += e.weight * v;
        }
        for (s, &parent) in sub_parent.iter().enumerate() {
            if parent != e.top {
                continue;
            }
            let pos = e.subs.contains(&s);
            if pos {
                sub_docs[s].0 += e.weight;
            } else {
                sub_docs[s].1 += e.weight;
            }
            let target = if pos { &mut sub_in } else { &mut sub_out };
            for &(r, v) in e.x.iter().chain(&e.flat) {
                target[s * n_keys + r as usize] += e.weight * v;
            }
        }
    }
    let v = n_keys as f32;
    let log_lik = |counts: &[f32]| -> Vec<f32> {
        let total: f32 = counts.iter().sum();
        counts
            .iter()
            .map(|&n| ((n + alpha) / (total + alpha * v)).ln())
            .collect()
    };
    let docs: f32 = top_docs.iter().sum();
    let mut ll = vec![0f32; n_top * n_keys];
    for j in 0..n_top {
        w[j] = ((top_docs[j] + 1.0) / (docs + n_top as f32)).ln();
        let l = log_lik(&top_counts[j * n_keys..(j + 1) * n_keys]);
        ll[j * n_keys..(j + 1) * n_keys].copy_from_slice(&l);
    }
    for r in 0..n_keys {
        let mean = (0..n_top).map(|j| ll[j * n_keys + r]).sum::<f32>() / n_top as f32;
        for j in 0..n_top {
            w[c + r * c + j] = ll[j * n_keys + r] - mean;
        }
    }
    for s in 0..n_sub {
        let (d_in, d_out) = sub_docs[s];
        w[n_top + s] = ((d_in + 1.0) / (d_out + 1.0)).ln();
        let a = log_lik(&sub_in[s * n_keys..(s + 1) * n_keys]);
        let b = log_lik(&sub_out[s * n_keys..(s + 1) * n_keys]);
        for r in 0..n_keys {
            w[c + r * c + n_top + s] = a[r] - b[r];
        }
    }
    w
}

/// Fit the softmax temperature and the second-level scale on the calibration examples by grid
/// search on the log loss; returns (temperature, sub_scale, top-level accuracy).
fn calibrate(
    ex: &[Example],
    which: &[usize],
    w: &[f32],
    _n_keys: usize,
    c: usize,
    n_top: usize,
    sub_parent: &[usize],
) -> (f32, f32, f64) {
    if which.is_empty() {
        return (1.0, 1.0, 0.0);
    }
    let zs: Vec<Vec<f32>> = which
        .iter()
        .map(|&i| {
            let mut z = vec![0f32; c];
            logits(w, &ex[i], c, &mut z);
            z
        })
        .collect();
    let correct = which
        .iter()
        .zip(&zs)
        .filter(|(i, z)| {
            let best = (0..n_top)
                .max_by(|&a, &b| z[a].total_cmp(&z[b]))
                .unwrap_or(0);
            best == ex[**i].top
        })
        .count();
    let grid: Vec<f32> = (1..=200).map(|k| k as f32 * 0.05).collect();
    let nll_top = |t: f32| -> f64 {
        which
            .iter()
            .zip(&zs)
            .map(|(&i, z)| {
                let max = z[..n_top].iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let sum: f64 = z[..n_top]
                    .iter()
                    .map(|v| f64::from(((v - max) / t).exp()))
                    .sum();
                let p = f64::from(((z[ex[i].top] - max) / t).exp()) / sum;
                -p.max(1e-12).ln()
            })
            .sum()
    };
    let temperature = grid
        .iter()
        .copied()
        .min_by(|&a, &b| nll_top(a).total_cmp(&nll_top(b)))
        .unwrap_or(1.0);
    let nll_sub = |s: f32| -> f64 {
        let mut total = 0f64;
        for (&i, z) in which.iter().zip(&zs) {
            for (k, &parent) in sub_parent.iter().enumerate() {
                if parent != ex[i].top {
                    continue;
                }
                let p = f64::from(model::sigmoid(s * z[n_top + k]));
                let y = ex[i].subs.contains(&k);
                total -= if y {
                    p.max(1e-12).ln()
                } else {
                    (1.0 - p).max(1e-12).ln()
                };
            }
        }
        total
    };
    let sub_scale = grid
        .iter()
        .copied()
        .min_by(|&a, &b| nll_sub(a).total_cmp(&nll_sub(b)))
        .unwrap_or(1.0);
    (temperature, sub_scale, correct as f64 / which.len() as f64)
}

/// The 17 IPTC Media Topics top-level subjects (codes and labels are IPTC's, CC BY 4.0).
pub const TOP_LEVEL: [(&str, &str); 17] = [
    ("medtop:01000000", "arts, culture, entertainment and media"),
    ("medtop:02000000", "crime, law and justice"),
    (
        "medtop:03000000",
        "disaster, accident and emergency incident",
    ),
    ("medtop:04000000", "economy, business and finance"),
    ("medtop:05000000", "education"),
    ("medtop:06000000", "environment"),
    ("medtop:07000000", "health"),
    ("medtop:08000000", "human interest"),
    ("medtop:09000000", "labour"),
    ("medtop:10000000", "lifestyle and leisure"),
    ("medtop:11000000", "politics"),
    ("medtop:12000000", "religion"),
    ("medtop:13000000", "science and technology"),
    ("medtop:14000000", "society"),
    ("medtop:15000000", "sport"),
    ("medtop:16000000", "conflict, war and peace"),
    ("medtop:17000000", "weather"),
];

/// The modelled second-level subjects: the busiest ones in news feeds, each with at least 20
/// written items. (id, label, parent)
pub const SECOND_LEVEL: [(&str, &str, &str); 21] = [
    (
        "medtop:20000002",
        "arts and entertainment",
        "medtop:01000000",
    ),
    ("medtop:20000082", "crime", "medtop:02000000"),
    ("medtop:20000106", "judiciary", "medtop:02000000"),
    (
        "medtop:20000139",
        "accident and emergency incident",
        "medtop:03000000",
    ),
    ("medtop:20000148", "disaster", "medtop:03000000"),
    ("medtop:20000170", "business information", "medtop:04000000"),
    ("medtop:20000344", "economy", "medtop:04000000"),
    ("medtop:20000385", "market and exchange", "medtop:04000000"),
    ("medtop:20000400", "school", "medtop:05000000"),
    ("medtop:20000418", "climate change", "medtop:06000000"),
    (
        "medtop:20000446",
        "diseases and conditions",
        "medtop:07000000",
    ),
    (
        "medtop:20000480",
        "government health care",
        "medtop:07000000",
    ),
    ("medtop:20000523", "labour market", "medtop:09000000"),
    ("medtop:20000574", "election", "medtop:11000000"),
    ("medtop:20000593", "government", "medtop:11000000"),
    (
        "medtop:20000638",
        "international relations",
        "medtop:11000000",
    ),
    ("medtop:20000735", "scientific research", "medtop:13000000"),
    (
        "medtop:20000756",
        "technology and engineering",
        "medtop:13000000",
    ),
    ("medtop:20001108", "sport event", "medtop:15000000"),
    ("medtop:20000056", "armed conflict", "medtop:16000000"),
    ("medtop:20001129", "weather phenomena", "medtop:17000000"),
];

impl Options {
    /// The options the committed model was trained with.
    pub fn committed(version: &str) -> Options {
        Options {
            version: version.to_owned(),
            epochs: 10,
            learning_rate: 0.5,
            l2: 1e-4,
            min_df: 2,
            seed: 0x5eed_2026_1201,
            fit_only: false,
            ensemble: 5,
            naive_bayes: false,
            nb_alpha: 0.1,
            top: TOP_LEVEL
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            sub: SECOND_LEVEL
                .iter()
                .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The registry's format (`data/org-gazetteers/organizations.tsv`): canonical names and
    /// aliases with a lower-case letter are stored, acronyms, stop words, short names, names of
    /// two kinds and kinds without a topic are not.
    #[test]
    fn org_table_reads_the_entities_registry() {
        let dir = tempfile::tempdir().unwrap();
        let tsv = dir.path().join("organizations.tsv");
        let common = dir.path().join("common.txt");
        std::fs::write(
            &tsv,
            "# canonical<TAB>kind<TAB>ids<TAB>aliases\n\
             Arsenal FC\tsports_club\twikidata=Q9617\tArsenal|AFC|The Gunners\n\
             Apple Inc.\tcompany\tsp500=AAPL\tApple\n\
             Labour Party\tpolitical_party\t\tLAB|Labour\n\
             Labour\tcompany\t\t\n\
             Home Office\tgovernment\t\t\n",
        )
        .unwrap();
        std::fs::write(&common, "# word\nthe gunners\napple\n").unwrap();
        let table = read_org_table(&tsv, &common).unwrap();
        let kind = |name: &str| {
            let h = features::org_name_hash(name);
            table.iter().find(|(k, _)| *k == h).map(|(_, v)| *v)
        };
        assert_eq!(kind("Arsenal FC"), Some(OrgKind::Sport as u8));
        assert_eq!(kind("arsenal"), Some(OrgKind::Sport as u8));
        assert_eq!(kind("AFC"), None, "acronym");
        assert_eq!(kind("The Gunners"), None, "stop list");
        assert_eq!(kind("Apple Inc."), Some(OrgKind::Company as u8));
        assert_eq!(kind("Apple"), None, "stop list");
        assert_eq!(kind("Labour Party"), Some(OrgKind::Politics as u8));
        assert_eq!(kind("LAB"), None, "acronym");
        assert_eq!(kind("Labour"), None, "two kinds");
        assert_eq!(kind("Home Office"), None, "government points at no topic");
        assert_eq!(table.len(), 4);
    }
}
