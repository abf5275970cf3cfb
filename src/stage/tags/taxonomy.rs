//! Taxonomy files: parsing, validation and compilation into one Aho-Corasick automaton.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use serde::Deserialize;
use toml::Spanned;

/// Built-in taxonomy, compiled into the binary.
pub const DEFAULT_TAXONOMY: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/config/taxonomy.toml"));
/// Name used for the embedded taxonomy in error messages.
pub const DEFAULT_NAME: &str = "<embedded>/config/taxonomy.toml";

const MAX_VARIANTS: usize = 64;
const MAX_EVIDENCE: usize = 8;

/// A refused taxonomy file: where and why.
#[derive(Debug, thiserror::Error)]
pub struct TaxonomyError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub reason: String,
}

impl fmt::Display for TaxonomyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid taxonomy {}:{}:{}: {}",
            self.file, self.line, self.column, self.reason
        )
    }
}

// ---------------------------------------------------------------- file format

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    taxonomy: Option<Header>,
    scoring: Option<Spanned<ScoringFile>>,
    #[serde(default)]
    tag: Vec<Spanned<TagFile>>,
    #[serde(default)]
    extend: Vec<Spanned<ExtendFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    #[serde(default)]
    name: Option<String>,
    version: Spanned<String>,
    #[serde(default)]
    #[allow(dead_code)]
    attribution: Option<String>,
}

#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields, default)]
struct ScoringFile {
    headline_weight: f64,
    lead_weight: f64,
    lead_chars: usize,
    length_norm_words: f64,
    parent_share: f64,
    scale: f64,
    relative_cut: f64,
    single_phrase_min_score: f64,
    weak_weight: f64,
    weak_min_phrases: usize,
}

impl Default for ScoringFile {
    fn default() -> Self {
        ScoringFile {
            headline_weight: 2.5,
            lead_weight: 1.5,
            lead_chars: 500,
            length_norm_words: 400.0,
            parent_share: 0.8,
            scale: 2.0,
            relative_cut: 0.0,
            single_phrase_min_score: 0.0,
            weak_weight: 0.0,
            weak_min_phrases: 0,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TagFile {
    id: Spanned<String>,
    label: Spanned<String>,
    scheme: Spanned<String>,
    #[serde(default)]
    parent: Option<Spanned<String>>,
    #[serde(default)]
    min_score: Option<Spanned<f64>>,
    #[serde(default)]
    phrases: Vec<Spanned<PhraseGroup>>,
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
    #[serde(default)]
    veto: Vec<Spanned<String>>,
    #[serde(default)]
    requires: Vec<Spanned<String>>,
    #[serde(default)]
    entities: Vec<Spanned<EntityRuleFile>>,
}

/// Repeats `TagFile`'s rule fields on purpose: serde cannot combine `flatten` with
/// `deny_unknown_fields`, and the latter is what reports a misspelt key with its position.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExtendFile {
    id: Spanned<String>,
    #[serde(default)]
    phrases: Vec<Spanned<PhraseGroup>>,
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
    #[serde(default)]
    veto: Vec<Spanned<String>>,
    #[serde(default)]
    requires: Vec<Spanned<String>>,
    #[serde(default)]
    entities: Vec<Spanned<EntityRuleFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PhraseGroup {
    weight: Spanned<f64>,
    terms: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntityRuleFile {
    names: Vec<Spanned<String>>,
    #[serde(default, rename = "type")]
    kind: Option<Spanned<String>>,
    boost: Spanned<f64>,
    #[serde(default)]
    sufficient: bool,
}

// ---------------------------------------------------------------- compiled form

#[derive(Debug, Clone, Copy)]
pub(crate) struct Scoring {
    pub headline_weight: f64,
    pub lead_weight: f64,
    pub lead_chars: usize,
    pub length_norm_words: f64,
    pub parent_share: f64,
    pub scale: f64,
    pub relative_cut: f64,
    /// A tag whose evidence is a single distinct phrase (no entity) needs at least this score.
    pub single_phrase_min_score: f64,
    /// Top-level subjects whose strongest evidence weight is <= `weak_weight` ...
    pub weak_weight: f64,
    /// ... need at least this many distinct evidence phrases.
    pub weak_min_phrases: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Kind {
    /// Positive (or negative) evidence with a weight.
    Phrase(f64),
    /// Cancels overlapping phrase matches of the same tag.
    Exclude,
    /// Any occurrence removes the tag for the whole document.
    Veto,
    /// Co-occurrence condition: the tag needs one of these somewhere.
    Requires,
}

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub tag: u32,
    pub kind: Kind,
    /// Index of the rule phrase (as written) this variant came from; evidence key.
    pub rule: u32,
    /// `Some(variant)` when the phrase is case-sensitive (`=` prefix).
    pub exact: Option<Box<str>>,
    /// `*` suffix: no word-boundary check on the right.
    pub prefix: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct EntityRule {
    pub tag: u32,
    pub kind: Option<String>,
    pub boost: f64,
    pub sufficient: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct TagDef {
    pub id: String,
    pub label: String,
    pub scheme: String,
    pub parent: Option<u32>,
    pub min_score: f64,
    pub has_requires: bool,
}

pub(crate) struct Compiled {
    pub version: String,
    pub scoring: Scoring,
    pub tags: Vec<TagDef>,
    /// Tag indices ordered so that every child comes before its parent.
    pub bottom_up: Vec<u32>,
    pub automaton: Option<AhoCorasick>,
    /// Per automaton pattern: the rule entries sharing that (case-folded) pattern.
    pub entries: Vec<Vec<Entry>>,
    /// Rule phrases as written, indexed by `Entry::rule`.
    pub rule_text: Vec<String>,
    /// Lower-cased entity name -> rules.
    pub entity_rules: HashMap<String, Vec<EntityRule>>,
}

impl fmt::Debug for Compiled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compiled")
            .field("version", &self.version)
            .field("tags", &self.tags.len())
            .field("patterns", &self.entries.len())
            .finish()
    }
}

pub(crate) const MAX_EVIDENCE_ITEMS: usize = MAX_EVIDENCE;

// ---------------------------------------------------------------- loading

/// A source to compile: a display name and its text.
pub(crate) struct Source {
    pub name: String,
    pub text: String,
}

impl Source {
    pub fn read(path: &Path) -> anyhow::Result<Source> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read taxonomy file {}: {e}", path.display()))?;
        Ok(Source {
            name: path.display().to_string(),
            text,
        })
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let mut line = 1;
    let mut col = 1;
    for (i, c) in text.char_indices() {
        if i >= offset {
            break;
        }
        if c == '\n' {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    (line, col)
}

struct Ctx<'a> {
    src: &'a Source,
}

impl Ctx<'_> {
    fn err(&self, span: std::ops::Range<usize>, reason: impl Into<String>) -> TaxonomyError {
        let (line, column) = line_col(&self.src.text, span.start);
        TaxonomyError {
            file: self.src.name.clone(),
            line,
            column,
            reason: reason.into(),
        }
    }
}

/// Intermediate, validated tag (before compilation).
struct RawTag {
    def: TagDef,
    parent_id: Option<(String, usize /*src*/, std::ops::Range<usize>)>,
    phrases: Vec<(String, Kind, usize, std::ops::Range<usize>)>,
    entities: Vec<(Vec<String>, Option<String>, f64, bool)>,
    id_span: (usize, std::ops::Range<usize>),
}

fn check_unit(
    ctx: &Ctx,
    v: &Spanned<f64>,
    lo: f64,
    hi: f64,
    what: &str,
) -> Result<f64, TaxonomyError> {
    let x = *v.get_ref();
    if !x.is_finite() || x < lo || x > hi {
        return Err(ctx.err(v.span(), format!("{what} {x} out of range [{lo}, {hi}]")));
    }
    Ok(x)
}

// One argument per rule list of a tag or extension entry: a struct would only repeat them.
#[allow(clippy::too_many_arguments)]
fn add_rules(
    ctx: &Ctx,
    src_idx: usize,
    raw: &mut RawTag,
    phrases: &[Spanned<PhraseGroup>],
    exclude: &[Spanned<String>],
    veto: &[Spanned<String>],
    requires: &[Spanned<String>],
    entities: &[Spanned<EntityRuleFile>],
) -> Result<(), TaxonomyError> {
    for g in phrases {
        let g = g.get_ref();
        let w = check_unit(ctx, &g.weight, -1.0, 1.0, "phrase weight")?;
        if w == 0.0 {
            return Err(ctx.err(g.weight.span(), "phrase weight must not be 0"));
        }
        if g.terms.is_empty() {
            return Err(ctx.err(g.weight.span(), "phrase group has no terms"));
        }
        for t in &g.terms {
            raw.phrases
                .push((t.get_ref().clone(), Kind::Phrase(w), src_idx, t.span()));
        }
    }
    for (list, kind) in [
        (exclude, Kind::Exclude),
        (veto, Kind::Veto),
        (requires, Kind::Requires),
    ] {
        for t in list {
            raw.phrases
                .push((t.get_ref().clone(), kind, src_idx, t.span()));
        }
    }
    if !requires.is_empty() {
        raw.def.has_requires = true;
    }
    for e in entities {
        let e = e.get_ref();
        let boost = check_unit(ctx, &e.boost, 0.0, 1.0, "entity boost")?;
        let mut names = Vec::new();
        for n in &e.names {
            let s = n.get_ref().trim();
            if s.is_empty() {
                return Err(ctx.err(n.span(), "empty entity name"));
            }
            names.push(s.to_lowercase());
        }
        if names.is_empty() {
            return Err(ctx.err(e.boost.span(), "entity rule has no names"));
        }
        let kind = match &e.kind {
            None => None,
            Some(spanned) => {
                let k = spanned.get_ref().as_str();
                if !matches!(
                    k,
                    "person" | "organization" | "location" | "group" | "event" | "other"
                ) {
                    return Err(ctx.err(
                        spanned.span(),
                        format!("unknown entity type {k:?} (person|organization|location|group|event|other)"),
                    ));
                }
                Some(k.to_string())
            }
        };
        raw.entities.push((names, kind, boost, e.sufficient));
    }
    Ok(())
}

/// Parse, validate and compile a base taxonomy plus extension files.
pub(crate) fn compile(base: &Source, extras: &[Source]) -> Result<Compiled, TaxonomyError> {
    let all: Vec<&Source> = std::iter::once(base).chain(extras.iter()).collect();
    let mut files = Vec::new();
    for src in &all {
        let ctx = Ctx { src };
        let f: File = toml::from_str(&src.text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            ctx.err(span, e.message().trim().to_string())
        })?;
        files.push(f);
    }

    let base_ctx = Ctx { src: base };
    let header = files[0]
        .taxonomy
        .as_ref()
        .ok_or_else(|| base_ctx.err(0..0, "missing [taxonomy] table with `version`"))?;
    let mut version = format!(
        "{}@{}",
        header.name.clone().unwrap_or_else(|| "taxonomy".into()),
        header.version.get_ref()
    );
    if header.version.get_ref().trim().is_empty() {
        return Err(base_ctx.err(header.version.span(), "empty version"));
    }

    let sc = files[0]
        .scoring
        .as_ref()
        .map(|s| *s.get_ref())
        .unwrap_or_default();
    if let Some(s) = &files[0].scoring {
        let bad = |what: &str| Err(base_ctx.err(s.span(), format!("[scoring] {what}")));
        if !(sc.headline_weight >= 1.0 && sc.headline_weight <= 10.0) {
            return bad("headline_weight must be in [1, 10]");
        }
        if !(sc.lead_weight >= 1.0 && sc.lead_weight <= 10.0) {
            return bad("lead_weight must be in [1, 10]");
        }
        if sc.length_norm_words.is_nan() || sc.length_norm_words < 1.0 {
            return bad("length_norm_words must be >= 1");
        }
        if !(sc.parent_share >= 0.0 && sc.parent_share <= 1.0) {
            return bad("parent_share must be in [0, 1]");
        }
        if !(sc.scale > 0.0 && sc.scale.is_finite()) {
            return bad("scale must be > 0");
        }
        if !(sc.relative_cut >= 0.0 && sc.relative_cut <= 1.0) {
            return bad("relative_cut must be in [0, 1]");
        }
        if !(sc.single_phrase_min_score >= 0.0 && sc.single_phrase_min_score <= 1.0) {
            return bad("single_phrase_min_score must be in [0, 1]");
        }
        if !(sc.weak_weight >= 0.0 && sc.weak_weight <= 1.0) {
            return bad("weak_weight must be in [0, 1]");
        }
    }
    let scoring = Scoring {
        headline_weight: sc.headline_weight,
        lead_weight: sc.lead_weight,
        lead_chars: sc.lead_chars,
        length_norm_words: sc.length_norm_words,
        parent_share: sc.parent_share,
        scale: sc.scale,
        relative_cut: sc.relative_cut,
        single_phrase_min_score: sc.single_phrase_min_score,
        weak_weight: sc.weak_weight,
        weak_min_phrases: sc.weak_min_phrases,
    };

    let mut raws: Vec<RawTag> = Vec::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for (si, f) in files.iter().enumerate() {
        let ctx = Ctx { src: all[si] };
        if si > 0 {
            if let Some(scoring) = &f.scoring {
                return Err(ctx.err(
                    scoring.span(),
                    "[scoring] is only allowed in the base taxonomy",
                ));
            }
            if let Some(h) = &f.taxonomy {
                version.push_str(&format!(
                    "+{}@{}",
                    h.name.clone().unwrap_or_else(|| "extra".into()),
                    h.version.get_ref()
                ));
            }
        }
        for t in &f.tag {
            let t = t.get_ref();
            let id = t.id.get_ref().trim().to_string();
            if id.is_empty() {
                return Err(ctx.err(t.id.span(), "empty tag id"));
            }
            if by_id.contains_key(&id) {
                return Err(ctx.err(t.id.span(), format!("duplicate tag id {id:?}")));
            }
            if t.label.get_ref().trim().is_empty() {
                return Err(ctx.err(t.label.span(), "empty label"));
            }
            let scheme = t.scheme.get_ref().trim();
            if scheme.is_empty() {
                return Err(ctx.err(t.scheme.span(), "empty scheme"));
            }
            let min_score = match &t.min_score {
                Some(m) => check_unit(&ctx, m, 0.0, 1.0, "min_score")?,
                None => 0.0,
            };
            let mut raw = RawTag {
                def: TagDef {
                    id: id.clone(),
                    label: t.label.get_ref().trim().to_string(),
                    scheme: scheme.to_string(),
                    parent: None,
                    min_score,
                    has_requires: false,
                },
                parent_id: t
                    .parent
                    .as_ref()
                    .map(|p| (p.get_ref().trim().to_string(), si, p.span())),
                phrases: Vec::new(),
                entities: Vec::new(),
                id_span: (si, t.id.span()),
            };
            add_rules(
                &ctx,
                si,
                &mut raw,
                &t.phrases,
                &t.exclude,
                &t.veto,
                &t.requires,
                &t.entities,
            )?;
            by_id.insert(id, raws.len());
            raws.push(raw);
        }
    }
    // `[[extend]]` entries, applied after all tags are known.
    for (si, f) in files.iter().enumerate() {
        let ctx = Ctx { src: all[si] };
        for x in &f.extend {
            let x = x.get_ref();
            let id = x.id.get_ref().trim();
            let Some(&ti) = by_id.get(id) else {
                return Err(ctx.err(x.id.span(), format!("[[extend]] of unknown tag id {id:?}")));
            };
            add_rules(
                &ctx,
                si,
                &mut raws[ti],
                &x.phrases,
                &x.exclude,
                &x.veto,
                &x.requires,
                &x.entities,
            )?;
        }
    }

    // parents (by index: the loop reads other entries of `raws` by id while walking it)
    #[allow(clippy::needless_range_loop)]
    for i in 0..raws.len() {
        if let Some((pid, si, span)) = raws[i].parent_id.clone() {
            let ctx = Ctx { src: all[si] };
            let Some(&pi) = by_id.get(&pid) else {
                return Err(ctx.err(span, format!("unknown parent id {pid:?}")));
            };
            if pi == i {
                return Err(ctx.err(span, format!("tag {pid:?} is its own parent")));
            }
            raws[i].def.parent = Some(pi as u32);
        }
    }
    // cycles
    let n = raws.len();
    let mut depth = vec![0usize; n];
    for i in 0..n {
        let mut cur = raws[i].def.parent;
        let mut d = 0;
        while let Some(p) = cur {
            d += 1;
            if d > n {
                let (si, span) = raws[i].id_span.clone();
                let ctx = Ctx { src: all[si] };
                return Err(ctx.err(
                    span,
                    format!("parent cycle involving tag {:?}", raws[i].def.id),
                ));
            }
            cur = raws[p as usize].def.parent;
        }
        depth[i] = d;
    }
    let mut bottom_up: Vec<u32> = (0..n as u32).collect();
    bottom_up.sort_by_key(|&i| std::cmp::Reverse(depth[i as usize]));

    // phrases -> patterns
    let mut pattern_ix: HashMap<String, usize> = HashMap::new();
    let mut patterns: Vec<String> = Vec::new();
    let mut entries: Vec<Vec<Entry>> = Vec::new();
    let mut rule_text: Vec<String> = Vec::new();
    let mut entity_rules: HashMap<String, Vec<EntityRule>> = HashMap::new();
    for (ti, raw) in raws.iter().enumerate() {
        for (phrase, kind, si, span) in &raw.phrases {
            let ctx = Ctx { src: all[*si] };
            let parsed = parse_phrase(phrase).map_err(|r| ctx.err(span.clone(), r))?;
            let rule = rule_text.len() as u32;
            rule_text.push(parsed.display.clone());
            let mut seen = HashSet::new();
            for v in parsed.variants {
                let key = v.to_ascii_lowercase();
                if !seen.insert(key.clone()) {
                    continue;
                }
                let pi = *pattern_ix.entry(key).or_insert_with(|| {
                    patterns.push(v.clone());
                    entries.push(Vec::new());
                    patterns.len() - 1
                });
                entries[pi].push(Entry {
                    tag: ti as u32,
                    kind: *kind,
                    rule,
                    exact: parsed.exact.then(|| v.clone().into_boxed_str()),
                    prefix: parsed.prefix,
                });
            }
        }
        for (names, kind, boost, sufficient) in &raw.entities {
            for name in names {
                entity_rules
                    .entry(name.clone())
                    .or_default()
                    .push(EntityRule {
                        tag: ti as u32,
                        kind: kind.clone(),
                        boost: *boost,
                        sufficient: *sufficient,
                    });
            }
        }
    }
    let automaton = if patterns.is_empty() {
        None
    } else {
        Some(
            AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .build(&patterns)
                .map_err(|e| base_ctx.err(0..0, format!("cannot build automaton: {e}")))?,
        )
    };

    // content fingerprint (FNV-1a) so a reload with edits but no version bump is visible
    let mut h: u64 = 0xcbf29ce484222325;
    for s in &all {
        for b in s.text.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
    }
    version.push_str(&format!(" ({:08x})", h as u32));

    Ok(Compiled {
        version,
        scoring,
        tags: raws.into_iter().map(|r| r.def).collect(),
        bottom_up,
        automaton,
        entries,
        rule_text,
        entity_rules,
    })
}

// ---------------------------------------------------------------- phrase syntax

pub(crate) struct ParsedPhrase {
    pub display: String,
    pub variants: Vec<String>,
    pub exact: bool,
    pub prefix: bool,
}

/// Phrase syntax: `=` prefix = case-sensitive; `*` suffix = prefix match (no right word
/// boundary); `{a,b,}` = alternatives (several groups multiply). Whitespace is collapsed.
/// Multi-word phrases also match with hyphens ("trade war" ~ "trade-war"), and `'` also
/// matches the typographic apostrophe.
pub(crate) fn parse_phrase(input: &str) -> Result<ParsedPhrase, String> {
    let mut s = input.trim();
    let exact = s.starts_with('=');
    if exact {
        s = s[1..].trim_start();
    }
    let prefix = s.ends_with('*');
    if prefix {
        s = s[..s.len() - 1].trim_end();
    }
    let collapsed: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.is_empty() {
        return Err(format!("empty phrase {input:?}"));
    }
    if collapsed.contains('*') || collapsed.contains('=') {
        return Err(format!(
            "`*` is only allowed at the end and `=` only at the start: {input:?}"
        ));
    }
    // brace expansion
    let mut variants = vec![String::new()];
    let mut rest = collapsed.as_str();
    while !rest.is_empty() {
        match rest.find(['{', '}']) {
            None => {
                for v in &mut variants {
                    v.push_str(rest);
                }
                rest = "";
            }
            Some(i) if rest.as_bytes()[i] == b'}' => {
                return Err(format!("unbalanced `}}` in phrase {input:?}"));
            }
            Some(i) => {
                for v in &mut variants {
                    v.push_str(&rest[..i]);
                }
                let after = &rest[i + 1..];
                let close = after
                    .find(['{', '}'])
                    .filter(|&j| after.as_bytes()[j] == b'}');
                let Some(j) = close else {
                    return Err(format!("unbalanced or nested `{{` in phrase {input:?}"));
                };
                let alts: Vec<&str> = after[..j].split(',').collect();
                let mut next = Vec::new();
                for v in &variants {
                    for a in &alts {
                        next.push(format!("{v}{}", a.trim()));
                    }
                }
                if next.len() > MAX_VARIANTS {
                    return Err(format!(
                        "phrase {input:?} expands to more than {MAX_VARIANTS} variants"
                    ));
                }
                variants = next;
                rest = &after[j + 1..];
            }
        }
    }
    let mut out: Vec<String> = Vec::new();
    for v in variants {
        let v: String = v.split_whitespace().collect::<Vec<_>>().join(" ");
        if v.is_empty() {
            return Err(format!("phrase {input:?} has an empty variant"));
        }
        let mut forms = vec![v.clone()];
        if v.contains(' ') && v.matches(' ').count() <= 3 {
            forms.push(v.replace(' ', "-"));
        }
        if v.contains('\'') {
            let more: Vec<String> = forms.iter().map(|f| f.replace('\'', "\u{2019}")).collect();
            forms.extend(more);
        }
        for f in forms {
            if !out.contains(&f) {
                out.push(f);
            }
        }
    }
    Ok(ParsedPhrase {
        display: collapsed,
        variants: out,
        exact,
        prefix,
    })
}

/// Load the configured taxonomy (embedded default or replacement) plus extras.
pub(crate) fn load(taxonomy: Option<&PathBuf>, extra: &[PathBuf]) -> anyhow::Result<Compiled> {
    let base = match taxonomy {
        Some(p) => Source::read(p)?,
        None => Source {
            name: DEFAULT_NAME.to_string(),
            text: DEFAULT_TAXONOMY.to_string(),
        },
    };
    let extras = extra
        .iter()
        .map(|p| Source::read(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(compile(&base, &extras)?)
}
