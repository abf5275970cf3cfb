//! The `entities` stage: named-entity recognition for news text.
//!
//! A learned model over rules and gazetteers, in one linear pass (issue 12):
//!
//! 1. a tokenizer that keeps char offsets ([`tokenize`]);
//! 2. one look-up of every gazetteer name and alias by its tokens ([`gazetteer`]),
//!    including the organisation registries (companies, clubs, parties, universities,
//!    government bodies, NGOs);
//! 3. candidate runs (capitalised words and gazetteer matches, joined over "of", "and",
//!    particles, hyphens) that a linear-chain model labels with BIO tags over PER, ORG, LOC
//!    and MISC ([`model`], features in [`features`]); everything outside a run is `O`;
//! 4. article-level consistency (one type per name unless the context is sure), short
//!    names to full names, acronyms to expansions, gazetteer canonical names and ids, then
//!    salience.
//!
//! The model is trained in the repository by `train-entities` ([`train`]); see
//! `docs/entities.md`. Spans are `[start, end)` offsets in **chars** (Unicode scalar values)
//! into the `text` given to [`EntityStage::extract`].

mod features;
mod gazetteer;
mod model;
mod tokenize;
pub mod train;
mod words;

/// The wire types of an entity live with the other v1 types.
pub use crate::article::{Entity, EntityKind};
use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use features::{Facts, Featurizer, IdMap, IdSet, Lexicon, Run, lex};
use gazetteer::{Builder, Gazetteer, class};
use model::{LABELS, b_of, i_of, is_inside, type_of};
use tokenize::*;

pub use model::Model;

/// Settings of the entities stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct EntitySettings {
    /// Run the stage. When false, `extract` returns no entities.
    pub enabled: bool,
    /// User gazetteer files (TSV: `name<TAB>type<TAB>ids<TAB>alias1|alias2`, `#` comments),
    /// e.g. a newsroom list of people and companies with their ids. The model sees them as
    /// a feature and their entries win for canonical names and ids. See `docs/entities.md`.
    pub gazetteers: Vec<PathBuf>,
    /// Keep at most this many entities per article (the most salient ones). 0 = no limit.
    pub max_entities: usize,
    /// Use the gazetteers shipped inside the binary (countries, regions, cities, demonyms,
    /// organizations, companies, landmarks, organisation registries). Turn off only to test
    /// user lists alone.
    pub builtin_gazetteers: bool,
    /// Drop entities whose salience is below this value (0.0 keeps all).
    pub min_salience: f64,
    /// Weight of a mention in the headline, for salience (body mentions weigh 1).
    pub headline_weight: f64,
    /// Weight of a mention in the first body paragraph (the lead), for salience.
    pub lead_weight: f64,
    /// Entity model file written by `train-entities` (e.g. one retrained on a newsroom's own
    /// annotated data). Unset: the model built into the binary (`models/entities/model.bin`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<PathBuf>,
}

impl Default for EntitySettings {
    fn default() -> Self {
        Self {
            enabled: true,
            gazetteers: Vec::new(),
            max_entities: 100,
            builtin_gazetteers: true,
            min_salience: 0.0,
            headline_weight: 3.0,
            lead_weight: 2.0,
            model: None,
        }
    }
}

/// The built-in model (see `models/entities/README.md` for its data and licence).
const BUILTIN_MODEL: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/models/entities/model.bin"
));

/// A type's score must beat the article-wide vote by this much (in model weight units,
/// before quantization) for a mention to keep a type different from the other mentions of
/// the same name ("Chelsea" the club in a match report, everywhere).
const CONSISTENCY_MARGIN: f32 = 4.0;

/// Hashes of connector words, computed once.
#[derive(Clone, Copy)]
pub(crate) struct Hashes {
    pub of: u64,
    pub and: u64,
    pub the: u64,
    pub for_: u64,
    pub on: u64,
}

impl Hashes {
    fn new() -> Self {
        Self {
            of: hash_lower("of"),
            and: hash_lower("and"),
            the: hash_lower("the"),
            for_: hash_lower("for"),
            on: hash_lower("on"),
        }
    }
}

/// The analysed text of one call: tokens, gazetteer matches and document statistics.
pub(crate) struct Doc<'a> {
    pub text: &'a str,
    pub toks: Vec<Tok>,
    /// For each token: the selected gazetteer match starting here: (end token, pattern).
    pub gaz_at: Vec<Option<(u32, u32)>>,
    /// For each token: 1 + pattern of the selected match covering it (0 = none).
    pub gaz_in: Vec<u32>,
    /// For each token covered by a match: the match's first token.
    gaz_start: Vec<u32>,
    /// Words seen in lower case somewhere in the text.
    pub lower_seen: IdSet,
    /// Words seen capitalised mid-sentence outside title-case zones.
    pub cap_mid: IdSet,
    pub h: Hashes,
}

impl<'a> Doc<'a> {
    #[inline]
    pub fn text_of(&self, k: usize) -> &'a str {
        let t = &self.toks[k];
        self.text.get(t.bs as usize..t.be as usize).unwrap_or("")
    }

    /// `[start, end)` tokens of the gazetteer match covering token `k` (which must be covered).
    pub fn gaz_span(&self, k: usize) -> (usize, usize) {
        let s = self.gaz_start[k] as usize;
        let e = self.gaz_at[s].map_or(k + 1, |(e, _)| e as usize);
        (s, e)
    }
}

/// Everything the stage builds once: gazetteers and word lists.
pub(crate) struct Resources {
    pub gaz: Gazetteer,
    pub lex: Lexicon,
    h: Hashes,
}

impl Resources {
    pub fn new(settings: &EntitySettings) -> anyhow::Result<Self> {
        let mut b = Builder::default();
        for p in &settings.gazetteers {
            b.add_file(p)?;
        }
        if settings.builtin_gazetteers {
            for (name, text, class) in gazetteer::BUILTIN {
                b.add_tsv(name, text, *class, false)?;
            }
            b.add_orgs(gazetteer::ORGS);
        }
        Ok(Self {
            gaz: b.build()?,
            lex: Lexicon::new(),
            h: Hashes::new(),
        })
    }

    pub fn featurizer(&self) -> Featurizer<'_> {
        Featurizer {
            gaz: &self.gaz,
            lex: &self.lex,
        }
    }

    /// Tokenize, collect document statistics and match the gazetteers.
    pub fn analyze<'a>(&self, text: &'a str, title_chars: usize) -> Doc<'a> {
        self.analyze_in(text, title_chars, &mut Scratch::default())
    }

    /// [`Resources::analyze`] in the buffers of `s` (given back with [`Scratch::recycle`]).
    fn analyze_in<'a>(&self, text: &'a str, title_chars: usize, s: &mut Scratch) -> Doc<'a> {
        let mut toks = std::mem::take(&mut s.toks);
        toks.reserve(text.len() / 5 + 8);
        let abbrev = |h: u64| self.lex.bits(h) & lex::ABBREV != 0;
        tokenize(text, title_chars, &abbrev, &mut toks);
        let n = toks.len();
        let mut gaz_at = std::mem::take(&mut s.gaz_at);
        let mut gaz_in = std::mem::take(&mut s.gaz_in);
        let mut gaz_start = std::mem::take(&mut s.gaz_start);
        features::refill(&mut gaz_at, n, None);
        features::refill(&mut gaz_in, n, 0);
        features::refill(&mut gaz_start, n, 0);
        let mut lower_seen = std::mem::take(&mut s.lower_seen);
        let mut cap_mid = std::mem::take(&mut s.cap_mid);
        lower_seen.clear();
        cap_mid.clear();
        lower_seen.reserve(text.len() / 8);
        cap_mid.reserve(text.len() / 32);
        let mut d = Doc {
            text,
            gaz_at,
            gaz_in,
            gaz_start,
            toks,
            lower_seen,
            cap_mid,
            h: self.h,
        };
        self.stats(&mut d);
        self.match_gazetteers(&mut d);
        d
    }

    fn stats(&self, d: &mut Doc) {
        for (k, t) in d.toks.iter().enumerate() {
            if !t.has(WORD) || t.has(DIGIT) {
                continue;
            }
            if !t.has(CAP) {
                // "Wai-ching": a lower-case part glued to a capitalised word.
                let glued = k >= 2
                    && !t.has(SPACE)
                    && !d.toks[k - 1].has(WORD)
                    && !d.toks[k - 1].has(SPACE)
                    && d.toks[k - 2].has(CAP);
                if !glued {
                    d.lower_seen.insert(t.hash);
                }
            } else if !t.has(SENT) && !t.has(TZONE) {
                d.cap_mid.insert(t.hash);
            }
        }
    }

    fn match_gazetteers(&self, d: &mut Doc) {
        let n = d.toks.len();
        // Leftmost-longest over token sequences: at each word token that starts a name, the
        // longest name that follows.
        let toks = &d.toks;
        let g = &self.gaz;
        let mut i = 0;
        while i < n {
            let t = &toks[i];
            if !t.has(WORD) {
                i += 1;
                continue;
            }
            let th = |k: usize| {
                gazetteer::tok_hash(
                    d.text
                        .get(toks[k].bs as usize..toks[k].be as usize)
                        .unwrap_or(""),
                )
            };
            let h0 = th(i);
            if !g.first_tokens.contains(&h0) {
                i += 1;
                continue;
            }
            let mut h = gazetteer::seq_hash(0, h0);
            let mut best = g.by_tokens.get(&h).map(|&p| (i + 1, p));
            let mut j = i + 1;
            while j < n && j < i + g.max_tokens && !toks[j].has(NEWLINE) && g.prefixes.contains(&h)
            {
                h = gazetteer::seq_hash(h, th(j));
                j += 1;
                if let Some(&p) = g.by_tokens.get(&h) {
                    best = Some((j, p));
                }
            }
            match best {
                Some((e, p)) => {
                    d.gaz_at[i] = Some((e as u32, p));
                    i = e;
                }
                None => i += 1,
            }
        }
        // ALL-CAPS lines and datelines: look up upper-cased names (rare; may allocate).
        for i in 0..n {
            if d.gaz_at[i].is_some() || !toks[i].has(ALLCAPS) {
                continue;
            }
            if !toks[i].has(UPZONE) && !toks[i].has(NEWLINE) {
                continue;
            }
            let mut best = None;
            let mut j = i;
            while j < n && j < i + 5 && (toks[j].has(ALLCAPS) || !toks[j].has(WORD)) {
                if toks[j].has(ALLCAPS)
                    && let Some(s) = d.text.get(toks[i].bs as usize..toks[j].be as usize)
                    && let Some(&p) = self.gaz.upper.get(s)
                {
                    best = Some((j as u32 + 1, p));
                }
                j += 1;
            }
            if best.is_some() {
                d.gaz_at[i] = best;
            }
        }
        // Cover tokens (an upper-case match may overlap a later one: the first wins).
        let mut i = 0;
        while i < n {
            if let Some((end, p)) = d.gaz_at[i] {
                let end = (end as usize).min(n);
                for k in i..end {
                    if k > i {
                        d.gaz_at[k] = None;
                    }
                    d.gaz_in[k] = p + 1;
                    d.gaz_start[k] = i as u32;
                }
                i = end.max(i + 1);
            } else {
                i += 1;
            }
        }
    }
}

/// The buffers one call of [`EntityStage::extract`] fills, kept per thread between calls:
/// allocating and freeing a dozen per-token vectors and sets per article was about 12 % of the
/// stage's time.
#[derive(Default)]
pub(crate) struct Scratch {
    toks: Vec<Tok>,
    gaz_at: Vec<Option<(u32, u32)>>,
    gaz_in: Vec<u32>,
    gaz_start: Vec<u32>,
    lower_seen: IdSet,
    cap_mid: IdSet,
    facts: Facts,
    runs: Vec<Run>,
    feats: Vec<u64>,
    em: Vec<[i32; LABELS]>,
    labels: Vec<u8>,
    back: Vec<[u8; LABELS]>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

impl Scratch {
    /// Buffers sized for more tokens than this (an article of a few hundred KB) are not kept.
    const MAX_KEPT_TOKENS: usize = 1 << 16;

    /// Take back the buffers of a finished call.
    fn recycle(&mut self, d: Doc, facts: Facts, runs: Vec<Run>) {
        self.toks = d.toks;
        self.gaz_at = d.gaz_at;
        self.gaz_in = d.gaz_in;
        self.gaz_start = d.gaz_start;
        self.lower_seen = d.lower_seen;
        self.cap_mid = d.cap_mid;
        self.facts = facts;
        self.runs = runs;
    }
}

/// The entities stage. Built once, shared (`Send + Sync`), used through `&self`.
pub struct EntityStage {
    settings: EntitySettings,
    res: Resources,
    model: Model,
    consistency_margin: i32,
}

/// One mention found by the model.
#[derive(Clone, Debug)]
struct Mention {
    t0: u32,
    t1: u32,
    /// Model type: 0 PER, 1 ORG, 2 LOC, 3 MISC.
    ty: usize,
    /// Model score of each type over the mention's tokens.
    scores: [i32; 4],
    /// Canonical name when it differs from the surface text.
    canon: Option<String>,
    entry: Option<u32>,
    /// Type set by a user gazetteer entry.
    forced: Option<EntityKind>,
}

impl EntityStage {
    /// Build the stage: load the shipped and user gazetteers, compile the automaton and load
    /// the model. A bad user gazetteer line is reported with its file name and line number;
    /// a corrupt or mismatched model file is refused with the reason.
    pub fn new(settings: &EntitySettings) -> anyhow::Result<Self> {
        let res = Resources::new(settings)?;
        let model = match &settings.model {
            Some(path) => {
                let bytes = std::fs::read(path)
                    .with_context(|| format!("reading entity model {}", path.display()))?;
                Model::from_bytes(&bytes)
                    .with_context(|| format!("loading entity model {}", path.display()))?
            }
            None => Model::from_bytes(BUILTIN_MODEL)
                .context("loading the built-in entity model (models/entities/model.bin)")?,
        };
        let consistency_margin = model.units(CONSISTENCY_MARGIN);
        Ok(Self {
            settings: settings.clone(),
            res,
            model,
            consistency_margin,
        })
    }

    /// The settings this stage was built with.
    pub fn settings(&self) -> &EntitySettings {
        &self.settings
    }

    /// The entity model's name (recorded in each record's provenance).
    pub fn model_name(&self) -> &str {
        self.model.name()
    }

    /// Find the named entities of one article.
    ///
    /// `text` is the article's normalized text: headline, "\n\n", then body paragraphs
    /// separated by "\n\n". `title_chars` is the number of chars (Unicode scalar values) of
    /// the headline at the start of `text` (0 when no headline). Returned entities are sorted
    /// by salience, descending (ties: first mention first). Never panics on any UTF-8 input.
    pub fn extract(&self, text: &str, title_chars: usize) -> Vec<Entity> {
        if !self.settings.enabled || text.is_empty() {
            return Vec::new();
        }
        SCRATCH.with(|cell| {
            let mut scratch = cell.take();
            let entities = self.extract_in(text, title_chars, &mut scratch);
            // A huge article's buffers are let go rather than kept for the small ones.
            if scratch.toks.capacity() <= Scratch::MAX_KEPT_TOKENS {
                cell.replace(scratch);
            }
            entities
        })
    }

    fn extract_in(&self, text: &str, title_chars: usize, s: &mut Scratch) -> Vec<Entity> {
        let d = self.res.analyze_in(text, title_chars, s);
        let fz = self.res.featurizer();
        let mut facts = fz.facts_in(&d, std::mem::take(&mut s.facts));
        let mut runs = std::mem::take(&mut s.runs);
        fz.runs(&d, &facts, &mut runs);
        fz.doc_context(&d, &mut facts, &runs);
        let mut mentions = Vec::new();
        for &r in &runs {
            s.em.clear();
            for k in r.a as usize..r.b as usize {
                fz.features(&d, &facts, r, k, &mut s.feats);
                s.em.push(self.model.emit(&s.feats));
            }
            model::viterbi_with(&s.em, self.model.trans(), None, &mut s.back, &mut s.labels);
            self.collect(&d, r, &s.em, &s.labels, &mut mentions);
        }
        self.user_entries(&d, &mut mentions);
        self.consistency(&d, &mut mentions);
        let entities = self.resolve(&d, &facts, mentions);
        s.recycle(d, facts, runs);
        entities
    }

    /// A newsroom's own gazetteer is authoritative: an exact match of a user entry is a
    /// mention of that entry, whatever the model said about those tokens.
    fn user_entries(&self, d: &Doc, ms: &mut Vec<Mention>) {
        if self.settings.gazetteers.is_empty() {
            return;
        }
        let mut forced = Vec::new();
        for (s, g) in d.gaz_at.iter().enumerate() {
            let Some((e, p)) = *g else { continue };
            let Some(&en) = self
                .res
                .gaz
                .pattern_entries
                .get(p as usize)
                .and_then(|es| es.first())
            else {
                continue;
            };
            let entry = &self.res.gaz.entries[en as usize];
            if entry.class != class::USER {
                continue;
            }
            let ty = match entry.kind {
                EntityKind::Person => 0,
                EntityKind::Organization => 1,
                EntityKind::Location => 2,
                _ => 3,
            };
            let mut scores = [0; 4];
            scores[ty] = i32::MAX / 8;
            forced.push(Mention {
                t0: s as u32,
                t1: e,
                ty,
                scores,
                canon: None,
                entry: None,
                forced: Some(entry.kind),
            });
        }
        if forced.is_empty() {
            return;
        }
        ms.retain(|m| !forced.iter().any(|f| m.t0 < f.t1 && f.t0 < m.t1));
        ms.extend(forced);
        ms.sort_by_key(|m| m.t0);
    }

    /// Turn one run's labels into mentions (no leading or trailing punctuation or "'s").
    fn collect(
        &self,
        d: &Doc,
        r: Run,
        em: &[[i32; LABELS]],
        labels: &[u8],
        out: &mut Vec<Mention>,
    ) {
        let a = r.a as usize;
        let mut i = 0;
        while i < labels.len() {
            let l = labels[i] as usize;
            if l == 0 || is_inside(l) {
                i += 1;
                continue;
            }
            let ty = type_of(l);
            let mut j = i + 1;
            while j < labels.len() && labels[j] as usize == i_of(ty) {
                j += 1;
            }
            let mut scores = [0i32; 4];
            for (t, s) in scores.iter_mut().enumerate() {
                *s = em[i][b_of(t)] + em[i + 1..j].iter().map(|e| e[i_of(t)]).sum::<i32>();
            }
            let (mut s, mut e) = (a + i, a + j);
            while s < e && !d.toks[s].has(WORD) {
                s += 1;
            }
            while e > s && !d.toks[e - 1].has(WORD) {
                e -= 1;
            }
            // A hyphenated word is one word: "Wong Kwok-kin", not "Wong Kwok" (but
            // "Georgia-based" stays "Georgia"; capitalised parts are the model's call:
            // "U.S.-China").
            while s < e
                && e + 1 < d.toks.len()
                && !d.toks[e].has(WORD)
                && !d.toks[e].has(SPACE)
                && matches!(d.text_of(e), "-" | "\u{2010}")
                && d.toks[e + 1].has(WORD)
                && !d.toks[e + 1].has(SPACE)
                && !d.toks[e + 1].has(DIGIT)
                && !d.toks[e + 1].has(CAP)
                && self.res.lex.bits(d.toks[e + 1].hash) & lex::HYPHEN_STOP == 0
            {
                e += 2;
            }
            // A capitalised word between a title and a person's name belongs to the name
            // ("Vice Premier He Lifeng": "He" reads like a pronoun on its own).
            if ty == 0
                && s > a + 1
                && labels[s - a - 1] == 0
                && d.toks[s - 1].has(WORD)
                && d.toks[s - 1].has(CAP)
                && !d.toks[s - 1].has(SENT)
                && !d.toks[s - 1].has(TZONE)
                && self.res.lex.bits(d.toks[s - 2].hash) & lex::TITLE != 0
            {
                s -= 1;
            }
            // In a title-case line capitals carry no signal: a name made only of everyday
            // words that the article never capitalises mid-sentence is not a name
            // ("Outlook for Future Agreements").
            let shouted_words = (s..e).filter(|&k| d.toks[k].has(WORD)).all(|k| {
                let t = &d.toks[k];
                t.has(TZONE)
                    && self.res.lex.bits(t.hash) & (lex::DICT | lex::COMMON) != 0
                    && !d.cap_mid.contains(&t.hash)
            });
            if s < e && !shouted_words {
                out.push(Mention {
                    t0: s as u32,
                    t1: e as u32,
                    ty,
                    scores,
                    canon: None,
                    entry: None,
                    forced: None,
                });
            }
            i = j;
        }
    }

    /// Key of a mention's surface: its word hashes.
    fn key(d: &Doc, m: &Mention) -> u64 {
        d.toks[m.t0 as usize..m.t1 as usize]
            .iter()
            .filter(|t| t.has(WORD))
            .fold(0xC0FFEE, |h, t| (h ^ t.hash).wrapping_mul(0x100000001b3))
    }

    /// One type per name in an article: the summed scores of all mentions of the same
    /// surface vote; a mention keeps its own type only when it wins by the margin.
    fn consistency(&self, d: &Doc, ms: &mut [Mention]) {
        if ms.len() < 2 {
            return;
        }
        let mut votes: IdMap<([i64; 4], u32)> = IdMap::default();
        for m in ms.iter() {
            let v = votes.entry(Self::key(d, m)).or_insert(([0; 4], 0));
            for t in 0..4 {
                v.0[t] += m.scores[t] as i64;
            }
            v.1 += 1;
        }
        for m in ms.iter_mut() {
            let Some((v, n)) = votes.get(&Self::key(d, m)) else {
                continue;
            };
            if *n < 2 {
                continue;
            }
            let best = (0..4).max_by_key(|&t| v[t]).unwrap_or(m.ty);
            if best != m.ty && m.scores[m.ty] - m.scores[best] < self.consistency_margin {
                m.ty = best;
            }
        }
    }

    fn kind_of(&self, d: &Doc, facts: &Facts, m: &Mention) -> EntityKind {
        match m.ty {
            0 => EntityKind::Person,
            1 => EntityKind::Organization,
            2 => EntityKind::Location,
            _ => {
                let last = (m.t0 as usize..m.t1 as usize)
                    .rev()
                    .find(|&k| d.toks[k].has(WORD))
                    .unwrap_or(m.t0 as usize);
                let g = d.gaz_in[m.t0 as usize];
                if g != 0
                    && self
                        .res
                        .gaz
                        .pattern_classes
                        .get(g as usize - 1)
                        .is_some_and(|c| c & (1 << class::GROUP) != 0)
                {
                    EntityKind::Group
                } else if facts.lex[last] & lex::EVENT_SUFFIX != 0 {
                    EntityKind::Event
                } else {
                    EntityKind::Other
                }
            }
        }
    }

    /// Article-level resolution: gazetteer links, short names, acronyms; then salience.
    fn resolve(&self, d: &Doc, facts: &Facts, mut ms: Vec<Mention>) -> Vec<Entity> {
        let text = d.text;
        let surface = |m: &Mention| -> &str {
            let (s, e) = (
                d.toks[m.t0 as usize].bs as usize,
                d.toks[m.t1 as usize - 1].be as usize,
            );
            text.get(s..e).unwrap_or("")
        };
        let mut kinds: Vec<EntityKind> = ms
            .iter()
            .map(|m| m.forced.unwrap_or_else(|| self.kind_of(d, facts, m)))
            .collect();
        // Gazetteer links: an exact match with an entry of the model's type.
        for (m, kind) in ms.iter_mut().zip(&kinds) {
            let Some((e, p)) = d.gaz_at[m.t0 as usize] else {
                continue;
            };
            if e != m.t1 {
                continue;
            }
            if let Some(en) = self.res.gaz.entry_of_kind(p, *kind) {
                m.entry = Some(en);
                let name = &self.res.gaz.entries[en as usize].name;
                if name != surface(m) {
                    m.canon = Some(name.clone());
                }
            }
        }
        // ALL-CAPS lines and datelines: title-case unknown names ("LONDON" -> "London").
        for m in ms.iter_mut() {
            let toks = &d.toks[m.t0 as usize..m.t1 as usize];
            let shouted = toks.iter().any(|t| t.has(UPZONE))
                || (toks.iter().all(|t| t.has(ALLCAPS) || !t.has(WORD))
                    && facts.dateline[m.t0 as usize] == 1);
            if m.canon.is_none() && shouted {
                m.canon = Some(title_case(surface(m)));
            }
        }
        // Short names: surname -> full person name; "(WTO)" -> its expansion.
        let words = |m: &Mention| {
            d.toks[m.t0 as usize..m.t1 as usize]
                .iter()
                .filter(|t| t.has(WORD))
                .count()
        };
        let mut surname: IdMap<usize> = IdMap::default();
        let mut acronym: IdMap<usize> = IdMap::default();
        for (idx, m) in ms.iter().enumerate() {
            let n = words(m);
            if m.ty == 0 && n >= 2 {
                let last = (m.t0 as usize..m.t1 as usize)
                    .rev()
                    .find(|&k| d.toks[k].has(WORD))
                    .unwrap_or(m.t0 as usize);
                surname.entry(d.toks[last].hash).or_insert(idx);
            }
            let t1 = m.t1 as usize;
            if n >= 2
                && t1 + 2 < d.toks.len()
                && d.text_of(t1) == "("
                && d.toks[t1 + 1].has(ALLCAPS)
                && d.text_of(t1 + 2) == ")"
            {
                acronym.insert(d.toks[t1 + 1].hash, idx);
            }
        }
        let mut names: Vec<String> = ms
            .iter()
            .map(|m| m.canon.clone().unwrap_or_else(|| surface(m).to_string()))
            .collect();
        for idx in 0..ms.len() {
            let m = &ms[idx];
            if words(m) != 1 {
                continue;
            }
            let h = d.toks[m.t0 as usize].hash;
            let country = m.entry.is_some_and(|e| {
                self.res.gaz.entries[e as usize].class == class::COUNTRY
                    || self.res.gaz.entries[e as usize].class == class::USER
            });
            // "Santorum" after "Rick Santorum" is the person, whatever its own context
            // suggested; a country stays a country ("Jordan" after "Will Jordan").
            if !country
                && let Some(&p) = surname.get(&h)
                && p != idx
            {
                names[idx] = names[p].clone();
                kinds[idx] = EntityKind::Person;
                ms[idx].entry = ms[p].entry;
                continue;
            }
            if m.entry.is_none()
                && let Some(&p) = acronym.get(&h)
                && p != idx
            {
                names[idx] = names[p].clone();
                kinds[idx] = kinds[p];
                ms[idx].entry = ms[p].entry;
            }
        }
        // Group mentions by canonical name.
        struct Acc {
            name: String,
            kinds: [u32; 6],
            spans: Vec<[usize; 2]>,
            score: f64,
            first: u32,
            entry: Option<u32>,
        }
        let mut by_name: HashMap<String, usize> = HashMap::new();
        let mut accs: Vec<Acc> = Vec::new();
        for ((m, name), kind) in ms.iter().zip(names).zip(kinds) {
            let t0 = d.toks[m.t0 as usize];
            let t1 = d.toks[m.t1 as usize - 1];
            let w = if t0.has(HEAD) {
                self.settings.headline_weight
            } else if t0.para <= 1 {
                self.settings.lead_weight
            } else {
                1.0
            };
            let ai = *by_name.entry(name.clone()).or_insert_with(|| {
                accs.push(Acc {
                    name,
                    kinds: [0; 6],
                    spans: Vec::new(),
                    score: 0.0,
                    first: t0.cs,
                    entry: None,
                });
                accs.len() - 1
            });
            let acc = &mut accs[ai];
            acc.kinds[kind as usize] += 1;
            acc.spans.push([t0.cs as usize, t1.ce as usize]);
            acc.score += w;
            if acc.entry.is_none() {
                acc.entry = m.entry;
            }
        }
        let max_score = accs.iter().map(|a| a.score).fold(0.0, f64::max);
        const ALL_KINDS: [EntityKind; 6] = [
            EntityKind::Person,
            EntityKind::Organization,
            EntityKind::Location,
            EntityKind::Group,
            EntityKind::Event,
            EntityKind::Other,
        ];
        let mut out: Vec<(u32, Entity)> = accs
            .into_iter()
            .map(|a| {
                let best = (0..6).max_by_key(|&k| (a.kinds[k], 6 - k)).unwrap_or(0);
                let kind = ALL_KINDS[best];
                let rel = if max_score > 0.0 {
                    a.score / max_score
                } else {
                    0.0
                };
                let abs = 1.0 - (-a.score / 4.0).exp();
                let salience = ((0.5 * rel + 0.5 * abs) * 1000.0).round() / 1000.0;
                let ids = a
                    .entry
                    .filter(|&e| self.res.gaz.entries[e as usize].kind == kind)
                    .map(|e| self.res.gaz.entries[e as usize].ids.clone())
                    .unwrap_or_default();
                let mut spans = a.spans;
                spans.sort_unstable();
                spans.dedup();
                (
                    a.first,
                    Entity {
                        name: a.name,
                        kind,
                        mentions: spans.len() as u32,
                        spans,
                        salience,
                        ids,
                    },
                )
            })
            .filter(|(_, e)| e.salience >= self.settings.min_salience)
            .collect();
        out.sort_by(|x, y| y.1.salience.total_cmp(&x.1.salience).then(x.0.cmp(&y.0)));
        let mut out: Vec<Entity> = out.into_iter().map(|(_, e)| e).collect();
        if self.settings.max_entities > 0 {
            out.truncate(self.settings.max_entities);
        }
        out
    }
}

fn title_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if c.is_alphabetic() {
            if start {
                out.push(c);
            } else {
                out.extend(c.to_lowercase());
            }
            start = false;
        } else {
            out.push(c);
            start = c.is_whitespace() || c == '-' || c == '.';
        }
    }
    out
}

#[cfg(test)]
mod tests;
