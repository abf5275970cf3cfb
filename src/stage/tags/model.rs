//! The learned topic model: a linear classifier over hashed features (see [`super::features`])
//! with a softmax over the IPTC top-level topics and one logistic output per modelled
//! second-level topic, plus the organisation-kind table that turns organisations found by the
//! entities stage into topic evidence.
//!
//! The model is data: a small versioned binary file (`models/topics/topics.wdtm`, written by
//! `cargo run --release --example train_topics`). Loading checks the magic, the format number and
//! a checksum of the whole payload, and refuses a file that does not fit, so a truncated or
//! hand-edited file is an error at start-up (or on SIGHUP), never a wrong answer.
//!
//! # File layout (little-endian)
//! ```text
//! "WDTOPICS" | format u32 = 1 | fnv1a-64 of the rest u64 |
//! version str | max_tokens u32 | temperature f32 | sub_scale f32 | n_top u16 | n_sub u16 |
//! classes: (id str, label str, parent u16 [0xffff = top-level]) x (n_top + n_sub) |
//! bias f32 x C | column scale f32 x C | n_rows u32 | keys u32 x n_rows (ascending) |
//! weights i8 x n_rows x C (row-major) | n_orgs u32 | org keys u32 x n_orgs (ascending) |
//! org kinds u8 x n_orgs
//! ```
//! `str` is a u16 byte length then UTF-8. C = n_top + n_sub.

use std::fmt;

use super::features::{self, OrgKind, Vocabulary};

/// The magic bytes at the start of a topic model file.
pub const MAGIC: &[u8; 8] = b"WDTOPICS";
/// The file format this build reads and writes.
pub const FORMAT: u32 = 1;
const TOP_PARENT: u16 = u16::MAX;

/// Why a model file was refused.
#[derive(Debug)]
pub struct ModelError(String);

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ModelError {}

fn err(msg: impl Into<String>) -> ModelError {
    ModelError(msg.into())
}

/// One output of the model.
#[derive(Debug, Clone, PartialEq)]
pub struct Class {
    /// Tag id, e.g. `medtop:15000000`.
    pub id: String,
    /// Human-readable label.
    pub label: String,
    /// Index of the parent class (second-level outputs only).
    pub parent: Option<usize>,
}

/// A loaded model. Immutable; shared behind the tags stage's `ArcSwap`.
#[derive(Debug, Clone)]
pub struct TopicModel {
    /// `name@version`, reported in every record's provenance.
    pub version: String,
    /// Tokens read per article; a property of the trained model, not a setting.
    pub max_tokens: usize,
    /// Softmax temperature fitted on the calibration split.
    pub temperature: f32,
    /// Scale of the second-level logits fitted on the calibration split.
    pub sub_scale: f32,
    /// Top-level classes first (`n_top` of them), then second-level ones.
    pub classes: Vec<Class>,
    pub n_top: usize,
    pub bias: Vec<f32>,
    /// Dequantisation factor per column.
    pub scale: Vec<f32>,
    /// Feature keys, ascending, and their rows of `classes.len()` quantised weights.
    pub keys: Vec<u32>,
    pub weights: Vec<i8>,
    /// Organisation-name hashes, ascending, and their kinds.
    pub org_keys: Vec<u32>,
    pub org_kinds: Vec<u8>,
    /// Open-addressing index over `keys` (built at load, not stored).
    index: Index,
    /// Checksum of the file it came from (0 for an unsaved model).
    pub checksum: u64,
}

/// key -> row, linear probing; capacity a power of two at least twice the number of keys.
/// Key and row sit side by side so a probe touches one cache line.
#[derive(Debug, Clone, Default)]
struct Index {
    mask: usize,
    /// (key, row); row `u32::MAX` = empty slot.
    slots: Vec<(u32, u32)>,
}

impl Index {
    fn build(keys: &[u32]) -> Index {
        let cap = (keys.len() * 2).max(16).next_power_of_two();
        let mut ix = Index {
            mask: cap - 1,
            slots: vec![(0, u32::MAX); cap],
        };
        for (row, &k) in keys.iter().enumerate() {
            let mut slot = spread(k) & ix.mask;
            while ix.slots[slot].1 != u32::MAX {
                slot = (slot + 1) & ix.mask;
            }
            ix.slots[slot] = (k, row as u32);
        }
        ix
    }

    #[inline]
    fn get(&self, k: u32) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mut slot = spread(k) & self.mask;
        loop {
            let (key, row) = self.slots[slot];
            if row == u32::MAX {
                return None;
            }
            if key == k {
                return Some(row as usize);
            }
            slot = (slot + 1) & self.mask;
        }
    }
}

#[inline]
fn spread(k: u32) -> usize {
    (k.wrapping_mul(0x9e37_79b9) >> 7) as usize
}

impl Vocabulary for TopicModel {
    fn knows(&self, word_feature: u32) -> bool {
        self.index.get(word_feature).is_some()
    }
}

/// The model's reading of one article.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Calibrated probability per class: a softmax over the top-level classes; for a
    /// second-level class, P(parent) x P(class | parent).
    pub probs: Vec<f32>,
    /// Tokens read (at most `max_tokens`).
    pub tokens: usize,
    /// Tokens the model knows (in its vocabulary): a measure of how much it has to go on.
    pub known_words: usize,
    /// Organisation kinds found among the article's organisations, in order of first sight.
    pub org_kinds: Vec<OrgKind>,
}

impl TopicModel {
    /// Assemble a model from trained parts (the trainer), building the look-up index.
    #[allow(clippy::too_many_arguments)]
    pub fn from_parts(
        version: String,
        temperature: f32,
        sub_scale: f32,
        classes: Vec<Class>,
        n_top: usize,
        bias: Vec<f32>,
        scale: Vec<f32>,
        keys: Vec<u32>,
        weights: Vec<i8>,
        orgs: Vec<(u32, u8)>,
    ) -> Result<TopicModel, ModelError> {
        let (org_keys, org_kinds) = orgs.into_iter().unzip();
        let m = TopicModel {
            version,
            max_tokens: features::MAX_TOKENS,
            temperature,
            sub_scale,
            classes,
            n_top,
            bias,
            scale,
            index: Index::build(&keys),
            keys,
            weights,
            org_keys,
            org_kinds,
            checksum: 0,
        };
        m.check()?;
        Ok(m)
    }

    fn check(&self) -> Result<(), ModelError> {
        let c = self.classes.len();
        if self.n_top == 0 || self.n_top > c {
            return Err(err("no top-level classes"));
        }
        if self.bias.len() != c || self.scale.len() != c {
            return Err(err("bias or scale length does not match the classes"));
        }
        if self.weights.len() != self.keys.len() * c {
            return Err(err("weight matrix does not match keys x classes"));
        }
        if self.keys.windows(2).any(|w| w[0] >= w[1]) {
            return Err(err("feature keys are not strictly ascending"));
        }
        if self.org_keys.len() != self.org_kinds.len()
            || self.org_keys.windows(2).any(|w| w[0] >= w[1])
        {
            return Err(err("organisation table is not strictly ascending"));
        }
        if self
            .org_kinds
            .iter()
            .any(|&k| OrgKind::from_u8(k).is_none())
        {
            return Err(err("unknown organisation kind"));
        }
        for (i, cl) in self.classes.iter().enumerate() {
            match cl.parent {
                None if i >= self.n_top => {
                    return Err(err(format!("class {} has no parent", cl.id)));
                }
                Some(p) if i < self.n_top || p >= self.n_top => {
                    return Err(err(format!("class {} has a bad parent", cl.id)));
                }
                _ => {}
            }
        }
        if !self.temperature.is_finite()
            || self.temperature <= 0.0
            || !self.sub_scale.is_finite()
            || self.bias.iter().chain(&self.scale).any(|x| !x.is_finite())
        {
            return Err(err("non-finite or non-positive calibration values"));
        }
        if self.max_tokens != features::MAX_TOKENS {
            return Err(err(format!(
                "model reads {} tokens, this build extracts {}; retrain the model",
                self.max_tokens,
                features::MAX_TOKENS
            )));
        }
        Ok(())
    }

    /// The kind of an organisation: the table first, then the name's last word.
    pub fn org_kind(&self, name: &str) -> Option<OrgKind> {
        let h = features::org_name_hash(name);
        match self.org_keys.binary_search(&h) {
            Ok(i) => self.org_kinds.get(i).copied().and_then(OrgKind::from_u8),
            Err(_) => features::org_kind_from_name(name),
        }
    }

    /// Emit the entity features of an article: one per organisation whose kind is known.
    pub fn entity_features(
        &self,
        entities: &[(&str, &str)],
        kinds: &mut Vec<OrgKind>,
        sink: &mut features::Sink<'_>,
    ) {
        for (name, kind) in entities {
            if *kind != "organization" {
                continue;
            }
            if let Some(k) = self.org_kind(name) {
                sink(k.feature(), 1.0, false);
                if !kinds.contains(&k) {
                    kinds.push(k);
                }
            }
        }
    }

    /// Classify one article. `title_chars` as in [`super::TagStage::tag`]; `rules` are the
    /// rules' scores as features ([`features::rule_feature`] keys, values 0..1). Linear in the
    /// text up to `max_tokens` tokens, then constant.
    pub fn predict(
        &self,
        text: &str,
        title_chars: usize,
        entities: &[(&str, &str)],
        rules: &[(u32, f32)],
    ) -> Prediction {
        let c = self.classes.len();
        let title_bytes = text
            .char_indices()
            .nth(title_chars)
            .map_or(text.len(), |(i, _)| i);
        let weights = &self.weights;
        let index = &self.index;
        let add_to = |acc: &mut [f32], h: u32, v: f32| {
            if let Some(row) = index.get(h)
                && let Some(w) = weights.get(row * c..row * c + c)
            {
                for (a, &q) in acc.iter_mut().zip(w) {
                    *a += v * f32::from(q);
                }
            }
        };
        // text features are scaled by the document length, entity and rule features are not
        let mut text_acc = vec![0f32; c];
        let mut known_words = 0usize;
        let tokens = features::text_features(text, title_bytes, self, &mut |h, v, word| {
            if word && index.get(h).is_some() {
                known_words += 1;
            }
            add_to(&mut text_acc, h, v)
        });
        let mut flat_acc = vec![0f32; c];
        let mut org_kinds = Vec::new();
        self.entity_features(entities, &mut org_kinds, &mut |h, v, _| {
            add_to(&mut flat_acc, h, v)
        });
        for &(h, v) in rules {
            add_to(&mut flat_acc, h, v);
        }
        Prediction {
            probs: self.probabilities(&text_acc, &flat_acc, tokens),
            tokens,
            known_words,
            org_kinds,
        }
    }

    /// Turn accumulated (unscaled) activations into calibrated probabilities: `text` is scaled
    /// by [`doc_norm`], `flat` is not.
    pub fn probabilities(&self, text: &[f32], flat: &[f32], tokens: usize) -> Vec<f32> {
        let norm = doc_norm(tokens);
        let logits: Vec<f32> = text
            .iter()
            .zip(flat)
            .zip(&self.scale)
            .zip(&self.bias)
            .map(|(((a, f), s), b)| b + (norm * a + f) * s)
            .collect();
        let mut probs = vec![0f32; logits.len()];
        let top = &logits[..self.n_top];
        let max = top.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0f32;
        for (p, z) in probs.iter_mut().zip(top) {
            *p = ((z - max) / self.temperature).exp();
            sum += *p;
        }
        for p in &mut probs[..self.n_top] {
            *p /= sum.max(f32::MIN_POSITIVE);
        }
        for i in self.n_top..logits.len() {
            let parent = self.classes[i].parent.unwrap_or(0);
            probs[i] = probs[parent] * sigmoid(self.sub_scale * logits[i]);
        }
        probs
    }

    /// Serialise to the file format (see the module docs).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut p = Vec::new();
        put_str(&mut p, &self.version);
        p.extend((self.max_tokens as u32).to_le_bytes());
        p.extend(self.temperature.to_le_bytes());
        p.extend(self.sub_scale.to_le_bytes());
        p.extend((self.n_top as u16).to_le_bytes());
        p.extend(((self.classes.len() - self.n_top) as u16).to_le_bytes());
        for cl in &self.classes {
            put_str(&mut p, &cl.id);
            put_str(&mut p, &cl.label);
            p.extend(cl.parent.map_or(TOP_PARENT, |x| x as u16).to_le_bytes());
        }
        for x in self.bias.iter().chain(&self.scale) {
            p.extend(x.to_le_bytes());
        }
        p.extend((self.keys.len() as u32).to_le_bytes());
        for k in &self.keys {
            p.extend(k.to_le_bytes());
        }
        p.extend(self.weights.iter().map(|&w| w as u8));
        p.extend((self.org_keys.len() as u32).to_le_bytes());
        for k in &self.org_keys {
            p.extend(k.to_le_bytes());
        }
        p.extend(&self.org_kinds);
        let mut out = Vec::with_capacity(p.len() + 20);
        out.extend(MAGIC);
        out.extend(FORMAT.to_le_bytes());
        out.extend(fnv64(&p).to_le_bytes());
        out.extend(p);
        out
    }

    /// Read a model file. Refuses anything that is not exactly a model of this format.
    pub fn from_bytes(bytes: &[u8]) -> Result<TopicModel, ModelError> {
        let mut r = Reader { b: bytes, at: 0 };
        if r.take(8)? != MAGIC {
            return Err(err("not a wiredesk topic model (bad magic)"));
        }
        let format = r.u32()?;
        if format != FORMAT {
            return Err(err(format!(
                "topic model format {format}, this build reads format {FORMAT}"
            )));
        }
        let sum = r.u64()?;
        let actual = fnv64(&bytes[r.at..]);
        if sum != actual {
            return Err(err(format!(
                "checksum mismatch (file says {sum:016x}, content is {actual:016x}): corrupt or edited file"
            )));
        }
        let version = r.str()?;
        let max_tokens = r.u32()? as usize;
        let temperature = r.f32()?;
        let sub_scale = r.f32()?;
        let n_top = r.u16()? as usize;
        let n_sub = r.u16()? as usize;
        let c = n_top + n_sub;
        let mut classes = Vec::with_capacity(c);
        for _ in 0..c {
            let id = r.str()?;
            let label = r.str()?;
            let parent = match r.u16()? {
                TOP_PARENT => None,
                p => Some(p as usize),
            };
            classes.push(Class { id, label, parent });
        }
        let bias = (0..c).map(|_| r.f32()).collect::<Result<Vec<_>, _>>()?;
        let scale = (0..c).map(|_| r.f32()).collect::<Result<Vec<_>, _>>()?;
        let n_rows = r.u32()? as usize;
        let keys = (0..n_rows)
            .map(|_| r.u32())
            .collect::<Result<Vec<_>, _>>()?;
        let weights = r
            .take(n_rows.checked_mul(c).ok_or_else(|| err("too large"))?)?
            .iter()
            .map(|&b| b as i8)
            .collect();
        let n_orgs = r.u32()? as usize;
        let org_keys = (0..n_orgs)
            .map(|_| r.u32())
            .collect::<Result<Vec<_>, _>>()?;
        let org_kinds = r.take(n_orgs)?.to_vec();
        if r.at != bytes.len() {
            return Err(err("trailing bytes after the model"));
        }
        let m = TopicModel {
            version,
            max_tokens,
            temperature,
            sub_scale,
            classes,
            n_top,
            bias,
            scale,
            index: Index::build(&keys),
            keys,
            weights,
            org_keys,
            org_kinds,
            checksum: sum,
        };
        m.check()?;
        Ok(m)
    }
}

/// Feature values are divided by sqrt(tokens) so short briefs and long articles land on one
/// scale (the L2 norm of a bag of distinct words grows like that).
pub fn doc_norm(tokens: usize) -> f32 {
    1.0 / (tokens.max(1) as f32).sqrt()
}

pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// FNV-1a, 64 bit: the file checksum.
pub fn fnv64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let b = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
    out.extend((b.len() as u16).to_le_bytes());
    out.extend(b);
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ModelError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| err(format!("truncated topic model (at byte {})", self.at)))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], ModelError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u16(&mut self) -> Result<u16, ModelError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32, ModelError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, ModelError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn f32(&mut self) -> Result<f32, ModelError> {
        Ok(f32::from_le_bytes(self.array()?))
    }
    fn str(&mut self) -> Result<String, ModelError> {
        let n = self.u16()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| err("string is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> TopicModel {
        let classes = vec![
            Class {
                id: "medtop:15000000".into(),
                label: "sport".into(),
                parent: None,
            },
            Class {
                id: "medtop:17000000".into(),
                label: "weather".into(),
                parent: None,
            },
            Class {
                id: "medtop:20001108".into(),
                label: "sport event".into(),
                parent: Some(0),
            },
        ];
        let mut keys = Vec::new();
        features::text_features("goals", 0, &NoVocab, &mut |h, _, w| {
            if w {
                keys.push(h)
            }
        });
        TopicModel::from_parts(
            "test@1".into(),
            1.0,
            1.0,
            classes,
            2,
            vec![0.0, 0.0, 0.0],
            vec![0.1, 0.1, 0.1],
            keys,
            vec![100, -100, 50],
            vec![(features::org_name_hash("Ajax"), OrgKind::Sport as u8)],
        )
        .unwrap()
    }

    struct NoVocab;
    impl Vocabulary for NoVocab {
        fn knows(&self, _: u32) -> bool {
            true
        }
    }

    #[test]
    fn predicts_and_round_trips() {
        let m = tiny();
        let p = m.predict("Goals galore", 0, &[("Ajax", "organization")], &[]);
        assert!(p.probs[0] > 0.9, "{p:?}");
        assert!(p.probs[2] > 0.5 && p.probs[2] <= p.probs[0]);
        assert_eq!(p.org_kinds, vec![OrgKind::Sport]);
        let q = m.predict("Rain", 0, &[], &[]);
        assert!((q.probs[0] - 0.5).abs() < 1e-6);
        let bytes = m.to_bytes();
        let back = TopicModel::from_bytes(&bytes).unwrap();
        assert_eq!(
            back.predict("Goals galore", 0, &[], &[]).probs,
            m.predict("Goals galore", 0, &[], &[]).probs
        );
        assert_eq!(back.to_bytes(), bytes);
    }

    #[test]
    fn corrupt_files_are_refused_with_a_reason() {
        let bytes = tiny().to_bytes();
        let e = |b: &[u8]| TopicModel::from_bytes(b).unwrap_err().to_string();
        assert!(e(b"hello").contains("truncated"));
        assert!(e(&[b"NOTMODEL".as_slice(), &bytes[8..]].concat()).contains("magic"));
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(e(&flipped).contains("checksum"));
        let mut fmt2 = bytes.clone();
        fmt2[8] = 2;
        assert!(e(&fmt2).contains("format 2"));
        assert!(e(&bytes[..bytes.len() - 3]).contains("checksum"));
        // every prefix is refused, none panics
        for n in 0..bytes.len() {
            assert!(TopicModel::from_bytes(&bytes[..n]).is_err());
        }
    }
}
