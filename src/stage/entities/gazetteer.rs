//! Gazetteers: loading (shipped + user TSV files) and the single Aho-Corasick automaton.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use anyhow::{Context, bail};

use super::EntityKind;

/// Shipped gazetteers, embedded at compile time (the binary needs no data files).
/// Order matters: on a duplicate name or alias the first file wins.
pub(crate) const BUILTIN: &[(&str, &str)] = &[
    (
        "landmarks.tsv",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/gazetteers/landmarks.tsv"
        )),
    ),
    (
        "organizations.tsv",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/gazetteers/organizations.tsv"
        )),
    ),
    (
        "companies.tsv",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/gazetteers/companies.tsv"
        )),
    ),
    (
        "demonyms.tsv",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/gazetteers/demonyms.tsv"
        )),
    ),
    (
        "countries.tsv",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/gazetteers/countries.tsv"
        )),
    ),
    (
        "regions.tsv",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/gazetteers/regions.tsv"
        )),
    ),
    (
        "cities.tsv",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/gazetteers/cities.tsv"
        )),
    ),
];

#[derive(Debug, Clone)]
pub(crate) struct GazEntry {
    pub name: String,
    pub kind: EntityKind,
    pub ids: BTreeMap<String, String>,
    /// True for countries and other entries with an ISO 3166 code (never re-read as a surname).
    pub country: bool,
    /// True when the entry came from a user file.
    pub user: bool,
}

pub(crate) struct Gazetteer {
    pub entries: Vec<GazEntry>,
    /// pattern id -> entry id
    pub pattern_entry: Vec<u32>,
    pub ac: AhoCorasick,
    /// Upper-cased pattern -> entry, for ALL-CAPS headlines and datelines.
    pub upper: HashMap<String, u32>,
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
    pattern_entry: Vec<u32>,
    seen: HashMap<String, u32>,
}

impl Builder {
    fn add_pattern(&mut self, p: &str, entry: u32) {
        let p = p.trim();
        if p.is_empty() || self.seen.contains_key(p) {
            return;
        }
        self.seen.insert(p.to_string(), entry);
        self.patterns.push(p.to_string());
        self.pattern_entry.push(entry);
        // Typographic apostrophe variant.
        if p.contains('\'') {
            let q = p.replace('\'', "\u{2019}");
            if !self.seen.contains_key(&q) {
                self.seen.insert(q.clone(), entry);
                self.patterns.push(q);
                self.pattern_entry.push(entry);
            }
        }
    }

    /// Parse one TSV file: `name<TAB>type<TAB>ids<TAB>alias1|alias2`; `#` starts a comment line.
    pub fn add_tsv(&mut self, origin: &str, text: &str, user: bool) -> anyhow::Result<()> {
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
            let ids = parse_ids(ids);
            let country = ids.contains_key("iso3166");
            let id = self.entries.len() as u32;
            self.entries.push(GazEntry {
                name: name.to_string(),
                kind,
                ids,
                country,
                user,
            });
            self.add_pattern(name, id);
            for a in aliases.split('|') {
                self.add_pattern(a, id);
            }
        }
        Ok(())
    }

    pub fn add_file(&mut self, path: &Path) -> anyhow::Result<()> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading gazetteer {}", path.display()))?;
        self.add_tsv(&path.display().to_string(), &text, true)
    }

    pub fn build(self) -> anyhow::Result<Gazetteer> {
        let ac = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .build(&self.patterns)
            .context("building gazetteer automaton")?;
        let mut upper = HashMap::new();
        for (p, e) in self.patterns.iter().zip(&self.pattern_entry) {
            upper.entry(p.to_uppercase()).or_insert(*e);
        }
        Ok(Gazetteer {
            entries: self.entries,
            pattern_entry: self.pattern_entry,
            ac,
            upper,
        })
    }
}
