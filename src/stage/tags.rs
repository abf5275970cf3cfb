//! `tags` stage: topic classification against IPTC Media Topics plus wiredesk issue tags.
//!
//! The taxonomy is data (`config/taxonomy.toml`, see `docs/tags.md`). Every phrase of the
//! taxonomy is compiled into one ASCII-case-insensitive Aho-Corasick automaton; an article
//! is scanned once, matches are checked for word boundaries, and evidence is scored per tag
//! (position weight, saturating frequency, length normalisation, parent propagation).

mod taxonomy;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};

use taxonomy::{Compiled, Kind};
pub use taxonomy::{DEFAULT_TAXONOMY, TaxonomyError};

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
}

impl Default for TagSettings {
    fn default() -> Self {
        TagSettings {
            enabled: true,
            taxonomy: None,
            extra: Vec::new(),
            top_k: 16,
            threshold: 0.2,
        }
    }
}

/// One assigned tag.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Tag {
    /// Tag id, e.g. `medtop:20000373` or `wiredesk-issue:tariffs`.
    pub id: String,
    /// Human-readable label.
    pub label: String,
    /// `iptc-medtop` or `wiredesk-issue` (or a scheme from a user taxonomy).
    pub scheme: String,
    /// Confidence-like score in 0..1.
    pub score: f64,
    /// Parent tag id, `None` for a top-level subject.
    pub parent: Option<String>,
    /// Matched phrases (and `entity:` conditions) that support the tag, strongest first.
    pub evidence: Vec<String>,
}

/// The tags stage. Cheap to share (`Arc<TagStage>`); all methods take `&self`.
pub struct TagStage {
    settings: TagSettings,
    compiled: ArcSwap<Compiled>,
}

impl std::fmt::Debug for TagStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TagStage")
            .field("settings", &self.settings)
            .field("taxonomy", &self.taxonomy_version())
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
        let compiled = taxonomy::load(settings.taxonomy.as_ref(), &settings.extra)?;
        Ok(TagStage {
            settings: settings.clone(),
            compiled: ArcSwap::from_pointee(compiled),
        })
    }

    /// Re-read the configured taxonomy files and swap the compiled taxonomy atomically.
    /// On error the previous taxonomy stays in force and the error is returned.
    pub fn reload(&self) -> anyhow::Result<()> {
        let compiled = taxonomy::load(self.settings.taxonomy.as_ref(), &self.settings.extra)?;
        self.compiled.store(Arc::new(compiled));
        Ok(())
    }

    /// Version of the taxonomy in force: `name@version[+extra@version...] (fingerprint)`.
    pub fn taxonomy_version(&self) -> String {
        self.compiled.load().version.clone()
    }

    /// Tag one article.
    ///
    /// `text`: normalized article text = headline + "\n\n" + body paragraphs separated by
    /// "\n\n"; `title_chars`: number of chars (Unicode scalar values) of the headline at the
    /// start of text (0 if none); `entities`: (canonical name, type) pairs from the entities
    /// stage, type one of person|organization|location|group|event|other.
    pub fn tag(&self, text: &str, title_chars: usize, entities: &[(&str, &str)]) -> Vec<Tag> {
        if !self.settings.enabled {
            return Vec::new();
        }
        let compiled = self.compiled.load();
        score(
            &compiled,
            text,
            title_chars,
            entities,
            self.settings.top_k,
            self.settings.threshold,
        )
    }
}

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

fn score(
    c: &Compiled,
    text: &str,
    title_chars: usize,
    entities: &[(&str, &str)],
    top_k: usize,
    threshold: f64,
) -> Vec<Tag> {
    let Some(ac) = c.automaton.as_ref() else {
        return Vec::new();
    };
    if text.is_empty() || top_k == 0 {
        return Vec::new();
    }
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
    let mut hits: Vec<Hit> = Vec::new();
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
            Tag {
                id: t.id.clone(),
                label: t.label.clone(),
                scheme: t.scheme.clone(),
                score: s,
                parent: t.parent.map(|p| c.tags[p as usize].id.clone()),
                evidence: ev
                    .into_iter()
                    .take(taxonomy::MAX_EVIDENCE_ITEMS)
                    .map(|(e, _)| e)
                    .collect(),
            }
        })
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
