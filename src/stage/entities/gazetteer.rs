//! Gazetteers: loading (shipped + user TSV files) and one index of every name by its tokens.
//!
//! A gazetteer match is evidence, not a decision: the model sees which kinds of list a
//! name is on (a feature class per list, e.g. city and football club for "Chelsea") and
//! decides the type; the entry then gives the canonical name and ids of an entity whose
//! type agrees with the model.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, bail};

use super::EntityKind;
use super::features::{IdMap, IdSet};
use super::tokenize::{Tok, WORD, tokenize};

/// Feature classes of gazetteer entries (bit positions in a `u16` mask).
pub(crate) mod class {
    pub const PERSON: u8 = 0;
    pub const ORG: u8 = 1;
    pub const LANDMARK: u8 = 2;
    pub const COUNTRY: u8 = 3;
    pub const REGION: u8 = 4;
    pub const CITY: u8 = 5;
    pub const GROUP: u8 = 6;
    pub const OTHER: u8 = 7;
    pub const COMPANY: u8 = 8;
    pub const CLUB: u8 = 9;
    pub const PARTY: u8 = 10;
    pub const UNIVERSITY: u8 = 11;
    pub const GOVERNMENT: u8 = 12;
    pub const NGO: u8 = 13;
    pub const USER: u8 = 14;
}

/// A shipped gazetteer file: name, text, and the feature class of its entries (`None`: by
/// the entry's type).
type Shipped = (&'static str, &'static str, Option<u8>);

/// Shipped gazetteers, embedded at compile time (the binary needs no data files).
/// Order matters: the first entry of a type wins for linking.
pub(crate) const BUILTIN: &[Shipped] = &[
    (
        "landmarks.tsv",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/gazetteers/landmarks.tsv"
        )),
        None,
    ),
    (
        "organizations.tsv",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/gazetteers/organizations.tsv"
        )),
        Some(class::ORG),
    ),
    (
        "companies.tsv",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/gazetteers/companies.tsv"
        )),
        Some(class::COMPANY),
    ),
    (
        "demonyms.tsv",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/gazetteers/demonyms.tsv"
        )),
        Some(class::GROUP),
    ),
    (
        "countries.tsv",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/gazetteers/countries.tsv"
        )),
        Some(class::COUNTRY),
    ),
    (
        "regions.tsv",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/gazetteers/regions.tsv"
        )),
        Some(class::REGION),
    ),
    (
        "cities.tsv",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/gazetteers/cities.tsv"
        )),
        Some(class::CITY),
    ),
];

/// Organisations from open registries (ROR, Party Facts, openfootball, Hipo, S&P 500), see
/// `data/org-gazetteers/README.md`. Format: `canonical<TAB>kind<TAB>ids<TAB>aliases`.
pub(crate) const ORGS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/org-gazetteers/organizations.tsv"
));

#[derive(Debug, Clone)]
pub(crate) struct GazEntry {
    pub name: String,
    pub kind: EntityKind,
    pub ids: BTreeMap<String, String>,
    /// Feature class ([`class`]).
    pub class: u8,
}

pub(crate) struct Gazetteer {
    pub entries: Vec<GazEntry>,
    /// pattern id -> the entries with that name or alias, in precedence order.
    pub pattern_entries: Vec<Box<[u32]>>,
    /// pattern id -> union of the feature classes of its entries.
    pub pattern_classes: Vec<u16>,
    /// Token-sequence hash ([`seq_hash`]) of every name -> pattern id.
    pub by_tokens: IdMap<u32>,
    /// Exact-case hashes of the first token of every name.
    pub first_tokens: IdSet,
    /// Hashes of every proper prefix (in tokens) of every name, to stop looking early.
    pub prefixes: IdSet,
    /// Most tokens in a name.
    pub max_tokens: usize,
    /// Upper-cased pattern -> pattern id, for ALL-CAPS headlines and datelines.
    pub upper: HashMap<String, u32>,
}

/// Exact-case hash of one token's text.
#[inline]
pub(crate) fn tok_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// Hash of a token sequence: the token hashes chained, so "New York" and "NewYork" differ.
#[inline]
pub(crate) fn seq_hash(prev: u64, tok: u64) -> u64 {
    (prev.rotate_left(23) ^ tok).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl Gazetteer {
    /// The first entry of `pattern` whose type is `kind`.
    pub fn entry_of_kind(&self, pattern: u32, kind: EntityKind) -> Option<u32> {
        self.pattern_entries
            .get(pattern as usize)?
            .iter()
            .copied()
            .find(|&e| self.entries[e as usize].kind == kind)
    }
}

pub(crate) fn parse_kind(s: &str) -> Option<EntityKind> {
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "person" | "per" => EntityKind::Person,
        "organization" | "organisation" | "org" => EntityKind::Organization,
        "location" | "loc" | "place" | "gpe" => EntityKind::Location,
        "group" | "norp" => EntityKind::Group,
        "event" => EntityKind::Event,
        "other" | "misc" => EntityKind::Other,
        _ => return None,
    })
}

fn class_of_kind(kind: EntityKind) -> u8 {
    match kind {
        EntityKind::Person => class::PERSON,
        EntityKind::Organization => class::ORG,
        EntityKind::Location => class::LANDMARK,
        EntityKind::Group => class::GROUP,
        EntityKind::Event | EntityKind::Other => class::OTHER,
    }
}

fn org_class(kind: &str) -> u8 {
    match kind {
        "company" => class::COMPANY,
        "sports_club" => class::CLUB,
        "political_party" => class::PARTY,
        "university" => class::UNIVERSITY,
        "government" => class::GOVERNMENT,
        "ngo" => class::NGO,
        _ => class::ORG,
    }
}

fn parse_ids(s: &str) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for part in s.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            Some((k, v)) => m.insert(k.trim().to_string(), v.trim().to_string()),
            None => m.insert("id".to_string(), part.to_string()),
        };
    }
    m
}

#[derive(Default)]
pub(crate) struct Builder {
    entries: Vec<GazEntry>,
    patterns: Vec<String>,
    pattern_entries: Vec<Vec<u32>>,
    seen: HashMap<String, u32>,
}

/// At most this many entries per name are kept (enough for one per type and a few more).
const MAX_ENTRIES_PER_NAME: usize = 6;

impl Builder {
    fn add_pattern(&mut self, p: &str, entry: u32) {
        let p = p.trim();
        if p.is_empty() {
            return;
        }
        self.add_one(p.to_string(), entry);
        // Typographic apostrophe variant.
        if p.contains('\'') {
            self.add_one(p.replace('\'', "\u{2019}"), entry);
        }
    }

    fn add_one(&mut self, p: String, entry: u32) {
        match self.seen.get(&p) {
            Some(&id) => {
                let list = &mut self.pattern_entries[id as usize];
                if list.len() < MAX_ENTRIES_PER_NAME && !list.contains(&entry) {
                    list.push(entry);
                }
            }
            None => {
                let id = self.patterns.len() as u32;
                self.seen.insert(p.clone(), id);
                self.patterns.push(p);
                self.pattern_entries.push(vec![entry]);
            }
        }
    }

    fn push_entry(&mut self, entry: GazEntry, aliases: &str) {
        let id = self.entries.len() as u32;
        let name = entry.name.clone();
        self.entries.push(entry);
        self.add_pattern(&name, id);
        for a in aliases.split('|') {
            self.add_pattern(a, id);
        }
    }

    /// Parse one TSV file: `name<TAB>type<TAB>ids<TAB>alias1|alias2`; `#` starts a comment
    /// line. `class`: the feature class of every entry (`None`: from its type).
    pub fn add_tsv(
        &mut self,
        origin: &str,
        text: &str,
        class: Option<u8>,
        user: bool,
    ) -> anyhow::Result<()> {
        for (lineno, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let mut cols = line.split('\t');
            let name = cols.next().unwrap_or("").trim();
            let kind = cols.next().unwrap_or("").trim();
            let ids = cols.next().unwrap_or("");
            let aliases = cols.next().unwrap_or("");
            if cols.next().is_some() {
                bail!(
                    "{origin}:{}: too many columns (expected name, type, ids, aliases)",
                    lineno + 1
                );
            }
            if name.is_empty() {
                bail!("{origin}:{}: empty name", lineno + 1);
            }
            let Some(kind) = parse_kind(kind) else {
                bail!(
                    "{origin}:{}: unknown type {kind:?} (expected person, organization, location, group, event or other)",
                    lineno + 1
                );
            };
            let class = if user {
                class::USER
            } else {
                class.unwrap_or_else(|| class_of_kind(kind))
            };
            let entry = GazEntry {
                name: name.to_string(),
                kind,
                ids: parse_ids(ids),
                class,
            };
            self.push_entry(entry, aliases);
        }
        Ok(())
    }

    /// The organisation registry file ([`ORGS`]): `canonical<TAB>kind<TAB>ids<TAB>aliases`
    /// with kind company, sports_club, political_party, university, government or ngo.
    pub fn add_orgs(&mut self, text: &str) {
        for line in text.lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let mut cols = line.split('\t');
            let name = cols.next().unwrap_or("").trim();
            let kind = cols.next().unwrap_or("");
            let ids = cols.next().unwrap_or("");
            let aliases = cols.next().unwrap_or("");
            if name.is_empty() {
                continue;
            }
            let entry = GazEntry {
                name: name.to_string(),
                kind: EntityKind::Organization,
                ids: parse_ids(ids),
                class: org_class(kind),
            };
            self.push_entry(entry, aliases);
        }
    }

    pub fn add_file(&mut self, path: &Path) -> anyhow::Result<()> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading gazetteer {}", path.display()))?;
        self.add_tsv(&path.display().to_string(), &text, None, true)
    }

    /// Index every name by its token sequence (the stage's own tokenizer), so matching is
    /// a few hash look-ups per capitalised token and always falls on token boundaries.
    pub fn build(self) -> anyhow::Result<Gazetteer> {
        let mut by_tokens: IdMap<u32> = IdMap::default();
        let mut first_tokens = IdSet::default();
        let mut prefixes = IdSet::default();
        let mut max_tokens = 1;
        let mut toks: Vec<Tok> = Vec::new();
        let never = |_: u64| false;
        for (id, p) in self.patterns.iter().enumerate() {
            tokenize(p, 0, &never, &mut toks);
            let Some(first) = toks.first() else { continue };
            if !first.has(WORD) {
                continue;
            }
            let mut h = 0u64;
            for (k, t) in toks.iter().enumerate() {
                if k > 0 {
                    prefixes.insert(h);
                }
                h = seq_hash(
                    h,
                    tok_hash(p.get(t.bs as usize..t.be as usize).unwrap_or("")),
                );
            }
            first_tokens.insert(tok_hash(
                p.get(first.bs as usize..first.be as usize).unwrap_or(""),
            ));
            max_tokens = max_tokens.max(toks.len());
            // The first name wins a clash (user files come first).
            by_tokens.entry(h).or_insert(id as u32);
        }
        if self.patterns.len() > u32::MAX as usize / 2 {
            bail!("too many gazetteer names");
        }
        let mut upper = HashMap::new();
        for (id, p) in self.patterns.iter().enumerate() {
            upper.entry(p.to_uppercase()).or_insert(id as u32);
        }
        let pattern_classes = self
            .pattern_entries
            .iter()
            .map(|es| {
                es.iter()
                    .fold(0u16, |m, &e| m | 1 << self.entries[e as usize].class)
            })
            .collect();
        Ok(Gazetteer {
            entries: self.entries,
            pattern_entries: self
                .pattern_entries
                .into_iter()
                .map(Vec::into_boxed_slice)
                .collect(),
            pattern_classes,
            by_tokens,
            first_tokens,
            prefixes,
            max_tokens: max_tokens.min(16),
            upper,
        })
    }
}
