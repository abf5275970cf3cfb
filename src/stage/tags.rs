//! `tags` stage: topic classification against IPTC Media Topics plus wiredesk issue tags.
//!
//! The taxonomy is data (`config/taxonomy.toml`, see `docs/tags.md`). Every phrase of the
//! taxonomy is compiled into one ASCII-case-insensitive Aho-Corasick automaton; an article
//! is scanned once, matches are checked for word boundaries, and evidence is scored per tag
//! (position weight, saturating frequency, length normalisation, parent propagation).
//!
//! Beside the rules runs a learned topic model ([`model`], issue 13): a linear classifier over
//! hashed words, word pairs, character trigrams of rare words and the kinds of organisations the
//! entities stage found. The rules keep the issue tags and their phrase evidence; the model gives
//! coverage (an article with enough text gets its most likely top-level topic when the calibrated
//! probability passes `model_threshold`) and a prior (a rule-only top-level topic the model finds
//! very unlikely is dropped). See docs/tags.md.

pub mod features;
pub mod model;
mod taxonomy;
pub mod train;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};

use taxonomy::{Compiled, Kind};
pub use taxonomy::{DEFAULT_TAXONOMY, TaxonomyError};

use crate::article::Enriched;
/// The wire type of a tag lives with the other v1 types.
pub use crate::article::Tag;
use model::{Prediction, TopicModel};

/// The committed topic model, embedded so the binary runs without data files
/// (`models/topics/topics.wdtm`, written by `cargo run --release --example train_topics`).
pub const DEFAULT_MODEL: &[u8] = include_bytes!("../../models/topics/topics.wdtm");

/// Settings of the `tags` stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TagSettings {
    /// Run the stage. When false the stage emits no tags.
    pub enabled: bool,
    /// Taxonomy file that replaces the built-in default taxonomy (`config/taxonomy.toml`
    /// embedded in the binary). Unset: use the built-in one.
    pub taxonomy: Option<PathBuf>,
    /// Extra taxonomy files that extend the base taxonomy: new `[[tag]]`s and
    /// `[[extend]]` blocks adding phrases/exclusions/entity rules to existing tags.
    pub extra: Vec<PathBuf>,
    /// Maximum number of tags emitted per article (topics and issues together).
    pub top_k: usize,
    /// Minimum score (0..1) a tag needs to be emitted. A tag's own `min_score`
    /// in the taxonomy can raise (never lower) this for that tag.
    pub threshold: f64,
    /// Run the learned topic model beside the rules. When false only the rules tag.
    pub model_enabled: bool,
    /// Topic model file that replaces the built-in one (`models/topics/topics.wdtm`,
    /// embedded in the binary). Re-read on SIGHUP together with the taxonomy files.
    pub model: Option<PathBuf>,
    /// Calibrated probability (0..1) the model's most likely top-level topic needs to be
    /// emitted; the same bar applies to its second-level topics. Higher: fewer, surer topics.
    pub model_threshold: f64,
    /// Fewest words of the article the model must know (have in its vocabulary) before it adds
    /// or changes topics: a headline of known words is enough, gibberish or a foreign language
    /// is not.
    pub model_min_words: usize,
    /// A top-level topic found only by phrases is dropped when the model gives it less than
    /// this probability (the model as a prior against passing-word topics). 0 disables.
    pub model_prior_floor: f64,
    /// Weight (0..1) of the model's probability in a top-level topic's score:
    /// `score = (1 - w) * rule score + w * probability`, with `w = model_weight *
    /// min(1, model_full_weight_words / words)`, so the model counts fully on briefs (what it
    /// was trained on) and less on long articles, where the phrase rules are reliable.
    /// A topic only the model finds, with no other top-level topic beside it, scores its
    /// probability. 0: the model only fills in articles the rules leave without a topic.
    pub model_weight: f64,
    /// Article length (words) up to which the model has its full `model_weight`.
    pub model_full_weight_words: usize,
}

impl Default for TagSettings {
    fn default() -> Self {
        TagSettings {
            enabled: true,
            taxonomy: None,
            extra: Vec::new(),
            top_k: 16,
            threshold: 0.2,
            model_enabled: true,
            model: None,
            model_threshold: 0.2,
            model_min_words: 3,
            model_prior_floor: 0.0,
            model_weight: 0.5,
            model_full_weight_words: 60,
        }
    }
}

/// The tags stage. Cheap to share (`Arc<TagStage>`); all methods take `&self`.
pub struct TagStage {
    settings: TagSettings,
    /// Taxonomy and model, swapped together on reload so a record never mixes two versions.
    loaded: ArcSwap<Loaded>,
}

/// What a reload replaces.
struct Loaded {
    compiled: Compiled,
    model: Option<Linked>,
}

/// A model linked to the taxonomy in force: class index -> taxonomy tag index (`None` when the
/// taxonomy lacks the class's id; such a class is never emitted).
struct Linked {
    model: TopicModel,
    tag_of: Vec<Option<usize>>,
    /// Per taxonomy tag: the hash of its id, the key of its rule-score feature.
    tag_feature: Vec<u32>,
}

fn load_all(settings: &TagSettings) -> anyhow::Result<Loaded> {
    let compiled = taxonomy::load(settings.taxonomy.as_ref(), &settings.extra)?;
    let model = if settings.model_enabled {
        let m = match &settings.model {
            Some(path) => {
                let bytes = std::fs::read(path)
                    .map_err(|e| anyhow::anyhow!("reading topic model {}: {e}", path.display()))?;
                TopicModel::from_bytes(&bytes)
                    .map_err(|e| anyhow::anyhow!("invalid topic model {}: {e}", path.display()))?
            }
            None => TopicModel::from_bytes(DEFAULT_MODEL)
                .map_err(|e| anyhow::anyhow!("invalid built-in topic model: {e}"))?,
        };
        let ids: HashMap<&str, usize> = compiled
            .tags
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id.as_str(), i))
            .collect();
        let tag_of = m
            .classes
            .iter()
            .map(|c| ids.get(c.id.as_str()).copied())
            .collect();
        let tag_feature = compiled
            .tags
            .iter()
            .map(|t| features::rule_feature(&t.id))
            .collect();
        Some(Linked {
            model: m,
            tag_of,
            tag_feature,
        })
    } else {
        None
    };
    Ok(Loaded { compiled, model })
}

impl std::fmt::Debug for TagStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TagStage")
            .field("settings", &self.settings)
            .field("taxonomy", &self.taxonomy_version())
            .field("model", &self.model_version())
            .finish()
    }
}

impl TagStage {
    /// Load and compile the configured taxonomy. A malformed taxonomy is refused with
    /// file, line:column and reason.
    pub fn new(settings: &TagSettings) -> anyhow::Result<Self> {
        if !(settings.threshold >= 0.0 && settings.threshold <= 1.0) {
            anyhow::bail!(
                "tags.threshold must be in [0, 1], got {}",
                settings.threshold
            );
        }
        for (name, v) in [
            ("tags.model_threshold", settings.model_threshold),
            ("tags.model_prior_floor", settings.model_prior_floor),
            ("tags.model_weight", settings.model_weight),
        ] {
            if !(0.0..=1.0).contains(&v) {
                anyhow::bail!("{name} must be in [0, 1], got {v}");
            }
        }
        Ok(TagStage {
            settings: settings.clone(),
            loaded: ArcSwap::from_pointee(load_all(settings)?),
        })
    }

    /// Re-read the configured taxonomy files and the topic model file and swap both
    /// atomically. On error the previous taxonomy and model stay in force and the error is
    /// returned.
    pub fn reload(&self) -> anyhow::Result<()> {
        self.loaded.store(Arc::new(load_all(&self.settings)?));
        Ok(())
    }

    /// Version of the taxonomy in force: `name@version[+extra@version...] (fingerprint)`.
    pub fn taxonomy_version(&self) -> String {
        self.loaded.load().compiled.version.clone()
    }

    /// Version of the topic model in force (`name@version`), `None` when it is disabled.
    pub fn model_version(&self) -> Option<String> {
        self.loaded
            .load()
            .model
            .as_ref()
            .map(|m| m.model.version.clone())
    }

    /// Tag one document in place: its tags, and the model version in its provenance (read from
    /// the same snapshot, so the two always agree).
    pub fn apply_to(&self, doc: &mut Enriched) {
        let found: Vec<(&str, &str)> = doc
            .entities
            .iter()
            .map(|e| (e.name.as_str(), e.kind.as_str()))
            .collect();
        let (tags, version) = self.tag_versioned(&doc.text, doc.title_chars, &found);
        doc.tags = tags;
        doc.provenance.topics_model = version;
    }

    /// The rules' reading of an article as model features (the trainer uses this so training
    /// and run time see the same features). Empty when the taxonomy has no phrases.
    pub fn rule_features(
        &self,
        text: &str,
        title_chars: usize,
        entities: &[(&str, &str)],
    ) -> Vec<(u32, f32)> {
        let loaded = self.loaded.load();
        let c = &loaded.compiled;
        let Some(ac) = c.automaton.as_ref() else {
            return Vec::new();
        };
        let (acc, _) = rule_acc(c, ac, text, title_chars, entities);
        let keys: Vec<u32> = c
            .tags
            .iter()
            .map(|t| features::rule_feature(&t.id))
            .collect();
        rule_features(c, &acc, &keys)
    }

    /// The model's own reading of an article (for evaluation and debugging): calibrated
    /// probabilities per model class, with the class ids. `None` when the model is disabled.
    pub fn predict(
        &self,
        text: &str,
        title_chars: usize,
        entities: &[(&str, &str)],
    ) -> Option<Vec<(String, f32)>> {
        let loaded = self.loaded.load();
        let linked = loaded.model.as_ref()?;
        let m = &linked.model;
        let c = &loaded.compiled;
        let rules = match c.automaton.as_ref() {
            Some(ac) => {
                let (acc, _) = rule_acc(c, ac, text, title_chars, entities);
                rule_features(c, &acc, &linked.tag_feature)
            }
            None => Vec::new(),
        };
        let p = m.predict(text, title_chars, entities, &rules);
        Some(
            m.classes
                .iter()
                .zip(p.probs)
                .map(|(c, p)| (c.id.clone(), p))
                .collect(),
        )
    }

    /// Tag one article.
    ///
    /// `text`: normalized article text = headline + "\n\n" + body paragraphs separated by
    /// "\n\n"; `title_chars`: number of chars (Unicode scalar values) of the headline at the
    /// start of text (0 if none); `entities`: (canonical name, type) pairs from the entities
    /// stage, type one of person|organization|location|group|event|other.
    pub fn tag(&self, text: &str, title_chars: usize, entities: &[(&str, &str)]) -> Vec<Tag> {
        self.tag_versioned(text, title_chars, entities).0
    }

    fn tag_versioned(
        &self,
        text: &str,
        title_chars: usize,
        entities: &[(&str, &str)],
    ) -> (Vec<Tag>, Option<String>) {
        if !self.settings.enabled {
            return (Vec::new(), None);
        }
        let loaded = self.loaded.load();
        let s = &self.settings;
        let view = loaded.model.as_ref().map(|l| ModelView {
            model: &l.model,
            tag_of: &l.tag_of,
            tag_feature: &l.tag_feature,
            threshold: s.model_threshold,
            min_words: s.model_min_words,
            prior_floor: s.model_prior_floor,
            weight: s.model_weight,
            full_weight_words: s.model_full_weight_words,
        });
        let tags = score_with(
            &loaded.compiled,
            text,
            title_chars,
            entities,
            s.top_k,
            s.threshold,
            view.as_ref(),
        );
        (tags, loaded.model.as_ref().map(|l| l.model.version.clone()))
    }
}

/// The model's reading of one article and the settings for combining it with the rules.
struct ModelView<'a> {
    model: &'a TopicModel,
    tag_of: &'a [Option<usize>],
    /// Feature hash of each taxonomy tag (its rule score is a model feature).
    tag_feature: &'a [u32],
    threshold: f64,
    min_words: usize,
    prior_floor: f64,
    weight: f64,
    full_weight_words: usize,
}

impl ModelView<'_> {
    /// Calibrated probability of taxonomy tag `ti`, if the model has a class for it.
    fn prob_of(&self, prediction: &Prediction, ti: usize) -> Option<f64> {
        self.tag_of
            .iter()
            .position(|&t| t == Some(ti))
            .and_then(|c| prediction.probs.get(c))
            .map(|&p| f64::from(p))
    }
}

/// Matches kept per taxonomy rule and article (see `rule_acc`).
const MAX_HITS_PER_RULE: usize = 256;

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

#[derive(Clone, Copy)]
struct Hit {
    tag: u32,
    kind: Kind,
    rule: u32,
    start: usize,
    end: usize,
}

#[derive(Default, Clone)]
struct TagAcc {
    raw: f64,
    vetoed: bool,
    requires_ok: bool,
    /// (evidence text, contribution)
    evidence: Vec<(String, f64)>,
    /// Whether this tag (or a descendant) has positive phrase or entity evidence.
    has_evidence: bool,
    /// Largest weight among the positive evidence (own phrases, descendants; entities = 1).
    max_weight: f64,
}

#[cfg(test)]
fn score(
    c: &Compiled,
    text: &str,
    title_chars: usize,
    entities: &[(&str, &str)],
    top_k: usize,
    threshold: f64,
) -> Vec<Tag> {
    score_with(c, text, title_chars, entities, top_k, threshold, None)
}

/// Below this effective weight the model is skipped for articles the phrases already cover.
const MIN_MODEL_WEIGHT: f64 = 0.1;

fn round4(p: f64) -> f64 {
    (p * 10000.0).round() / 10000.0
}

/// The top-level subject an organisation kind points at (issue 13, item 3).
fn kind_topic(k: features::OrgKind) -> &'static str {
    match k {
        features::OrgKind::Sport => "medtop:15000000",
        features::OrgKind::Company => "medtop:04000000",
        features::OrgKind::Politics => "medtop:11000000",
        features::OrgKind::University => "medtop:05000000",
        features::OrgKind::Health => "medtop:07000000",
    }
}

fn score_with(
    c: &Compiled,
    text: &str,
    title_chars: usize,
    entities: &[(&str, &str)],
    top_k: usize,
    threshold: f64,
    model: Option<&ModelView<'_>>,
) -> Vec<Tag> {
    let Some(ac) = c.automaton.as_ref() else {
        return Vec::new();
    };
    if text.is_empty() || top_k == 0 {
        return Vec::new();
    }
    let sc = &c.scoring;
    let (mut acc, words) = rule_acc(c, ac, text, title_chars, entities);

    let mut out: Vec<(usize, f64)> = Vec::new();
    let mut best_top: Option<(usize, f64)> = None;
    for (ti, a) in acc.iter().enumerate() {
        if !a.has_evidence || a.raw <= 0.0 {
            continue;
        }
        let s = 1.0 - (-a.raw / sc.scale).exp();
        let s = (s * 10000.0).round() / 10000.0;
        // Corroboration: one phrase alone must be strong (headline, lead, repeated);
        // a top-level subject seen only through weak words needs several of them.
        let n_ev = a.evidence.iter().filter(|(_, w)| *w > 0.0).count();
        if n_ev < 2 && s < sc.single_phrase_min_score {
            continue;
        }
        if c.tags[ti].parent.is_none()
            && a.max_weight <= sc.weak_weight
            && n_ev < sc.weak_min_phrases
        {
            continue;
        }
        if c.tags[ti].parent.is_none() && best_top.is_none_or(|(_, b)| s > b) {
            best_top = Some((ti, s));
        }
        if s >= threshold.max(c.tags[ti].min_score) && s > 0.0 {
            out.push((ti, s));
        }
    }
    // The model is not consulted where it could change next to nothing: a long article whose
    // phrases found a subject, where the model's weight is below `MIN_MODEL_WEIGHT` and no prior
    // floor is set (saves its cost on long copy; briefs always get it).
    let has_top = out.iter().any(|&(ti, _)| c.tags[ti].parent.is_none());
    let prediction = model
        .filter(|m| {
            let w = m.weight * (m.full_weight_words as f64 / words.max(1) as f64).min(1.0);
            !(has_top && m.prior_floor == 0.0 && w < MIN_MODEL_WEIGHT)
        })
        .map(|m| {
            let rules = rule_features(c, &acc, m.tag_feature);
            m.model.predict(text, title_chars, entities, &rules)
        });
    // The topic model (issue 13): a prior against phrase-only subjects it finds very unlikely,
    // then coverage: its most likely subject (and that subject's second-level topics) when the
    // calibrated probability passes the bar. A subject both found keeps the higher score.
    let mut from_model: Vec<(usize, f64)> = Vec::new();
    if let Some(m) = model
        && let Some(prediction) = &prediction
        && prediction.known_words >= m.min_words
    {
        if m.prior_floor > 0.0 {
            let unlikely = |ti: usize| {
                c.tags[ti].parent.is_none()
                    && m.prob_of(prediction, ti).is_some_and(|p| p < m.prior_floor)
            };
            out.retain(|&(ti, _)| !unlikely(ti));
            if best_top.is_some_and(|(ti, _)| unlikely(ti)) {
                best_top = None;
            }
        }
        let probs = &prediction.probs;
        let n_top = m.model.n_top.min(probs.len());
        let w = m.weight * (m.full_weight_words as f64 / words.max(1) as f64).min(1.0);
        // prior: blend the probability into the rules' top-level scores, raising only: the
        // softmax spreads little mass over an article's second and third subjects, which the
        // phrases find well, so a low probability must not pull them down (that is the job of
        // `prior_floor`)
        for e in out.iter_mut() {
            if c.tags[e.0].parent.is_none()
                && let Some(p) = m.prob_of(prediction, e.0)
            {
                e.1 = round4(e.1.max((1.0 - w) * e.1 + w * p));
            }
        }
        let best = (0..n_top).max_by(|&a, &b| probs[a].total_cmp(&probs[b]));
        if let Some(b) = best
            && f64::from(probs[b]) >= m.threshold
        {
            let alone = !out.iter().any(|&(ti, _)| c.tags[ti].parent.is_none());
            let mut add = |k: usize, p: f64, top: bool| {
                let Some(ti) = m.tag_of.get(k).copied().flatten() else {
                    return;
                };
                match out.iter_mut().find(|(t, _)| *t == ti) {
                    Some(_) if top => {} // already blended above
                    Some(e) => e.1 = e.1.max(p),
                    None if top && !alone => out.push((ti, round4(w * p))),
                    None => out.push((ti, p)),
                }
                from_model.push((ti, p));
            };
            add(b, round4(f64::from(probs[b])), true);
            // By index: `k` is a class id (into `classes`) as well as into `probs`.
            #[allow(clippy::needless_range_loop)]
            for k in n_top..probs.len() {
                let p = round4(f64::from(probs[k]));
                if m.model.classes[k].parent == Some(b) && p >= m.threshold {
                    add(k, p, false);
                }
            }
        }
    }

    // Relative cut: drop top-level subjects far weaker than the strongest one
    // (long articles touch many subjects in passing).
    if sc.relative_cut > 0.0 {
        let best = out
            .iter()
            .filter(|&&(ti, _)| c.tags[ti].parent.is_none())
            .map(|&(_, s)| s)
            .fold(0.0, f64::max);
        out.retain(|&(ti, s)| c.tags[ti].parent.is_some() || s >= sc.relative_cut * best);
    }
    // An article with evidence gets at least one top-level subject.
    if !out.is_empty()
        && !out.iter().any(|&(ti, _)| c.tags[ti].parent.is_none())
        && let Some(b) = best_top
    {
        out.push(b);
    }
    out.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then_with(|| c.tags[a.0].id.cmp(&c.tags[b.0].id))
    });
    if out.len() > top_k {
        let keep_top = out[..top_k]
            .iter()
            .any(|&(ti, _)| c.tags[ti].parent.is_none());
        let first_top = out
            .iter()
            .copied()
            .find(|&(ti, _)| c.tags[ti].parent.is_none());
        out.truncate(top_k);
        if !keep_top && let Some(t) = first_top {
            // replace the weakest kept tag with the strongest top-level subject
            out[top_k - 1] = t;
        }
    }
    out.into_iter()
        .map(|(ti, s)| {
            let t = &c.tags[ti];
            let mut ev = std::mem::take(&mut acc[ti].evidence);
            ev.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            // Model evidence comes last and is never cut: `model:p=<probability>`, then the
            // organisation kinds that point at this subject (`entity-kind:sport`).
            let mut tail: Vec<String> = Vec::new();
            if let Some(&(_, p)) = from_model.iter().find(|(x, _)| *x == ti) {
                tail.push(format!("model:p={p:.2}"));
                if let Some(pred) = &prediction {
                    let top_id = t.parent.map_or(t.id.as_str(), |p| {
                        c.tags[p as usize]
                            .parent
                            .map_or(c.tags[p as usize].id.as_str(), |q| {
                                c.tags[q as usize].id.as_str()
                            })
                    });
                    for k in &pred.org_kinds {
                        if kind_topic(*k) == top_id {
                            tail.push(format!("entity-kind:{}", k.as_str()));
                        }
                    }
                }
            }
            let keep = taxonomy::MAX_EVIDENCE_ITEMS.saturating_sub(tail.len());
            let mut evidence: Vec<String> = ev.into_iter().take(keep).map(|(e, _)| e).collect();
            evidence.extend(tail);
            Tag {
                id: t.id.clone(),
                label: t.label.clone(),
                scheme: t.scheme.clone(),
                score: s,
                parent: t.parent.map(|p| c.tags[p as usize].id.clone()),
                evidence,
            }
        })
        .collect()
}

/// The rules' evidence per tag: one scan of the text, entity conditions, vetoes and
/// co-occurrence, then bottom-up propagation to parents. Also returns the word count.
fn rule_acc(
    c: &Compiled,
    ac: &aho_corasick::AhoCorasick,
    text: &str,
    title_chars: usize,
    entities: &[(&str, &str)],
) -> (Vec<TagAcc>, usize) {
    let sc = &c.scoring;
    let headline_end = if title_chars == 0 {
        0
    } else {
        text.char_indices()
            .nth(title_chars)
            .map(|(i, _)| i)
            .unwrap_or(text.len())
    };
    let lead_end = headline_end.saturating_add(sc.lead_chars);

    // Word count (whitespace-separated tokens) for length normalisation.
    let mut words = 0usize;
    let mut in_word = false;
    for b in text.bytes() {
        let space = b.is_ascii_whitespace();
        if !space && !in_word {
            words += 1;
        }
        in_word = !space;
    }

    // One pass over the text; overlapping matches so that every tag sees its own phrases.
    // At most MAX_HITS_PER_RULE matches are kept per rule, so a text that repeats one phrase
    // (1 MB of "west bank ") costs a scan, not a sort and a score of every match; a rule's
    // contribution grows with the log of its matches, so the matches beyond the cap would
    // change its score by a few per cent at most.
    let mut hits: Vec<Hit> = Vec::new();
    let mut per_rule_hits: Vec<u16> = vec![0; c.rule_text.len()];
    for m in ac.find_overlapping_iter(text) {
        let (start, end) = (m.start(), m.end());
        if !text.is_char_boundary(start) || !text.is_char_boundary(end) {
            continue;
        }
        if text[..start].chars().next_back().is_some_and(is_word_char) {
            continue;
        }
        let right_ok = !text[end..].chars().next().is_some_and(is_word_char);
        for e in &c.entries[m.pattern().as_usize()] {
            if !e.prefix && !right_ok {
                continue;
            }
            if let Some(exact) = &e.exact
                && &text[start..end] != exact.as_ref()
            {
                continue;
            }
            let Some(count) = per_rule_hits.get_mut(e.rule as usize) else {
                continue;
            };
            if usize::from(*count) >= MAX_HITS_PER_RULE {
                continue;
            }
            *count += 1;
            hits.push(Hit {
                tag: e.tag,
                kind: e.kind,
                rule: e.rule,
                start,
                end,
            });
        }
    }

    let n = c.tags.len();
    let mut acc: Vec<TagAcc> = vec![TagAcc::default(); n];
    for (i, a) in acc.iter_mut().enumerate() {
        a.requires_ok = !c.tags[i].has_requires;
    }
    let length_norm = (words as f64 / sc.length_norm_words).max(1.0).sqrt();

    if !hits.is_empty() {
        hits.sort_by(|a, b| {
            (a.tag, a.start, std::cmp::Reverse(a.end)).cmp(&(
                b.tag,
                b.start,
                std::cmp::Reverse(b.end),
            ))
        });
        let mut i = 0;
        while i < hits.len() {
            let tag = hits[i].tag;
            let mut j = i;
            while j < hits.len() && hits[j].tag == tag {
                j += 1;
            }
            score_tag(
                c,
                &hits[i..j],
                text,
                headline_end,
                lead_end,
                length_norm,
                &mut acc[tag as usize],
            );
            i = j;
        }
    }

    // Entity conditions.
    for (name, kind) in entities {
        let key = name.trim().to_lowercase();
        if let Some(rules) = c.entity_rules.get(&key) {
            for r in rules {
                if r.kind
                    .as_deref()
                    .is_some_and(|k| !k.eq_ignore_ascii_case(kind))
                {
                    continue;
                }
                let a = &mut acc[r.tag as usize];
                if a.vetoed || !(a.raw > 0.0 || r.sufficient) {
                    continue;
                }
                let label = format!("entity:{}", name.trim());
                if a.evidence.iter().any(|(e, _)| *e == label) {
                    continue; // one boost per entity name
                }
                a.raw += r.boost;
                a.has_evidence = true;
                a.max_weight = 1.0;
                a.evidence.push((label, r.boost));
            }
        }
    }

    // Invalidate tags that failed co-occurrence or were vetoed, then propagate bottom-up.
    for a in acc.iter_mut() {
        if a.vetoed || !a.requires_ok {
            a.raw = 0.0;
            a.has_evidence = false;
            a.max_weight = 0.0;
            a.evidence.clear();
        }
    }
    for &ti in &c.bottom_up {
        let ti = ti as usize;
        let Some(p) = c.tags[ti].parent else { continue };
        let p = p as usize;
        if acc[ti].raw <= 0.0 || acc[p].vetoed {
            continue;
        }
        let share = acc[ti].raw * sc.parent_share;
        let child_ev: Vec<(String, f64)> = acc[ti]
            .evidence
            .iter()
            .map(|(e, w)| (e.clone(), w * sc.parent_share))
            .collect();
        let child_max = acc[ti].max_weight;
        let pa = &mut acc[p];
        pa.raw += share;
        pa.has_evidence = true;
        pa.max_weight = pa.max_weight.max(child_max);
        for (e, w) in child_ev {
            match pa.evidence.iter_mut().find(|(x, _)| *x == e) {
                Some(x) => x.1 = x.1.max(w),
                None => pa.evidence.push((e, w)),
            }
        }
    }
    (acc, words)
}

/// The rules' reading as model features: every tag with positive evidence, valued by its
/// score (0..1), keyed by the hash of its id (`tag_feature`).
fn rule_features(c: &Compiled, acc: &[TagAcc], tag_feature: &[u32]) -> Vec<(u32, f32)> {
    acc.iter()
        .zip(tag_feature)
        .filter(|(a, _)| a.has_evidence && a.raw > 0.0)
        .map(|(a, &h)| (h, (1.0 - (-a.raw / c.scoring.scale).exp()) as f32))
        .collect()
}

/// Score the hits of one tag (sorted by start asc, end desc).
/// Exclusion spans of one tag, merged into disjoint intervals sorted by start, so that checking a
/// phrase match is a binary search. (A scan of every exclusion per match was quadratic: 2 MB of
/// "west bank " cost tens of seconds.)
struct Exclusions(Vec<(usize, usize)>);

impl Exclusions {
    fn new(mut spans: Vec<(usize, usize)>) -> Self {
        spans.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
        for (s, e) in spans {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        Exclusions(merged)
    }

    /// Whether `[start, end)` overlaps an exclusion. Among the merged intervals starting before
    /// `end`, the last one reaches furthest (they are disjoint and sorted), so it is the only
    /// one to check.
    fn overlaps(&self, start: usize, end: usize) -> bool {
        let before_end = self.0.partition_point(|&(s, _)| s < end);
        before_end > 0 && self.0[before_end - 1].1 > start
    }
}

fn score_tag(
    c: &Compiled,
    hits: &[Hit],
    text: &str,
    headline_end: usize,
    lead_end: usize,
    length_norm: f64,
    a: &mut TagAcc,
) {
    let sc = &c.scoring;
    let mut excl: Vec<(usize, usize)> = Vec::new();
    for h in hits {
        match h.kind {
            Kind::Veto => a.vetoed = true,
            Kind::Requires => a.requires_ok = true,
            Kind::Exclude => excl.push((h.start, h.end)),
            Kind::Phrase(_) => {}
        }
    }
    if a.vetoed {
        return;
    }
    let excluded = Exclusions::new(excl);
    // per rule: (weight, position mass, surface form)
    let mut per_rule: HashMap<u32, (f64, f64, usize, usize)> = HashMap::new();
    let mut last_kept: Option<(usize, usize)> = None;
    for h in hits {
        let Kind::Phrase(w) = h.kind else { continue };
        if excluded.overlaps(h.start, h.end) {
            continue;
        }
        // drop a match contained in a longer kept match of the same tag
        if let Some((s, e)) = last_kept
            && h.start >= s
            && h.end <= e
        {
            continue;
        }
        last_kept = Some((h.start, h.end));
        let pos = if h.start < headline_end {
            sc.headline_weight
        } else if h.start < lead_end {
            sc.lead_weight
        } else {
            1.0
        };
        let r = per_rule.entry(h.rule).or_insert((w, 0.0, h.start, h.end));
        r.1 += pos;
    }
    for (rule, (w, mass, s, e)) in per_rule {
        let contrib = w * (1.0 + mass).ln() / length_norm;
        a.raw += contrib;
        if w > 0.0 {
            a.has_evidence = true;
            a.max_weight = a.max_weight.max(w);
            let mut end = e;
            // prefix rules: show the whole word
            if let Some(rest) = text.get(e..) {
                end += rest
                    .find(|ch: char| !is_word_char(ch))
                    .unwrap_or(rest.len());
            }
            let surface = text.get(s..end).unwrap_or(&c.rule_text[rule as usize]);
            let surface = surface.to_lowercase().replace('\u{2019}', "'");
            match a.evidence.iter_mut().find(|(x, _)| *x == surface) {
                Some(x) => x.1 += contrib,
                None => a.evidence.push((surface, contrib)),
            }
        }
    }
}

#[cfg(test)]
mod tests;
