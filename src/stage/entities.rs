//! The `entities` stage: named-entity recognition for news text.
//!
//! Rules plus gazetteers, in one linear pass: a tokenizer that keeps char offsets, one
//! Aho-Corasick automaton over every gazetteer name and alias, capitalisation chunking with
//! context cues (titles, organization/place suffixes, prepositions, datelines), then an
//! article-level resolution step (short names to full names, acronyms to expansions,
//! aliases to canonical names). See `docs/entities.md`.
//!
//! Spans are `[start, end)` offsets in **chars** (Unicode scalar values) into the `text`
//! given to [`EntityStage::extract`], i.e. `text.chars().skip(start).take(end - start)`.

mod gazetteer;
mod tokenize;
mod words;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use gazetteer::{Builder, Gazetteer};
use tokenize::*;

/// Settings of the entities stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct EntitySettings {
    /// Run the stage. When false, `extract` returns no entities.
    pub enabled: bool,
    /// User gazetteer files (TSV: `name<TAB>type<TAB>ids<TAB>alias1|alias2`, `#` comments),
    /// e.g. a newsroom list of people and companies with their ids. They take precedence over
    /// the shipped gazetteers. See `config/gazetteers/example.tsv` and `docs/entities.md`.
    pub gazetteers: Vec<PathBuf>,
    /// Keep at most this many entities per article (the most salient ones). 0 = no limit.
    pub max_entities: usize,
    /// Use the gazetteers shipped inside the binary (countries, regions, cities, demonyms,
    /// organizations, companies, landmarks). Turn off only to test user lists alone.
    pub builtin_gazetteers: bool,
    /// Drop entities whose salience is below this value (0.0 keeps all).
    pub min_salience: f64,
    /// Weight of a mention in the headline, for salience (body mentions weigh 1).
    pub headline_weight: f64,
    /// Weight of a mention in the first body paragraph (the lead), for salience.
    pub lead_weight: f64,
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
        }
    }
}

/// Entity type.
///
/// * `person`: people, real or fictional ("Donald Trump", "He Lifeng").
/// * `organization`: companies, agencies, ministries, parties, teams, media
///   ("World Trade Organization", "Ministry of Commerce", "Apple", "Reuters").
/// * `location`: countries, regions, cities, landmarks and venues
///   ("China", "Guangdong", "London", "Lancaster House", "White House").
/// * `group`: nationalities and demonyms, political and religious groups
///   ("Chinese", "Americans", "Republicans", "Muslims").
/// * `event`: named events ("World Cup", "World War II", "Davos Summit").
/// * `other`: products, laws, works and other names ("iPhone", "Affordable Care Act").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Person,
    Organization,
    Location,
    Group,
    Event,
    Other,
}

/// One entity of an article (all its mentions merged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Entity {
    /// Canonical name: the gazetteer name, or the longest form used in the article.
    pub name: String,
    /// Entity type.
    #[serde(rename = "type")]
    pub kind: EntityKind,
    /// Number of mentions in the article.
    pub mentions: u32,
    /// Mention offsets `[start, end)` in chars (Unicode scalar values) into the input text,
    /// in text order. Titles ("President"), determiners and possessive "'s" are not included.
    pub spans: Vec<[usize; 2]>,
    /// Salience in 0..1: mention count weighted by position (headline and lead weigh more).
    pub salience: f64,
    /// Known identifiers: `iso3166`, `iso3166-2`, `geonames`, `country`, or user ids.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ids: BTreeMap<String, String>,
}

impl EntityKind {
    /// The snake_case name used in JSON ("person", "organization", ...).
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Person => "person",
            EntityKind::Organization => "organization",
            EntityKind::Location => "location",
            EntityKind::Group => "group",
            EntityKind::Event => "event",
            EntityKind::Other => "other",
        }
    }
}

struct WordSets {
    titles: HashSet<u64>,
    role_domains: HashSet<u64>,
    org_suffix: HashSet<u64>,
    loc_suffix: HashSet<u64>,
    of_heads: HashSet<u64>,
    event_suffix: HashSet<u64>,
    particles: HashSet<u64>,
    abbrev: HashSet<u64>,
    never: HashSet<u64>,
    common: HashSet<u64>,
    said: HashSet<u64>,
    loc_prep: HashSet<u64>,
    geo_heads: HashSet<u64>,
    determiners: HashSet<u64>,
    pronouns: HashSet<u64>,
    first_names: HashSet<u64>,
    /// Everyday English vocabulary (`data/gazetteers/common_words.txt`, ~20k lower-case words,
    /// no given names or common surnames): a name made only of these is not a person by default.
    dict: HashSet<u64>,
    /// Public-body heads that close a long name joined over "and" ("National Disaster Risk
    /// Reduction and Management Authority").
    body_heads: HashSet<u64>,
    hyphen_stop: HashSet<u64>,
    compass: HashSet<u64>,
    org_nouns: HashSet<u64>,
    place_of: HashSet<u64>,
    not_acronyms: HashSet<u64>,
    /// Heads joined to a following name by "for" ("International Organization for Migration").
    for_heads: HashSet<u64>,
    /// Heads joined to a following name by "on" ("Council on Foreign Relations").
    on_heads: HashSet<u64>,
    /// Nouns for people that make an apposition describe a person, not an organization.
    person_nouns: HashSet<u64>,
}

fn set(words: &str) -> HashSet<u64> {
    words.split_whitespace().map(hash_lower).collect()
}

/// The entities stage. Built once, shared (`Send + Sync`), used through `&self`.
pub struct EntityStage {
    settings: EntitySettings,
    gaz: Gazetteer,
    w: WordSets,
    h_of: u64,
    h_the: u64,
    h_and: u64,
    h_who: u64,
    h_for: u64,
    h_on: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Strength {
    /// Single capitalised word with no cue: typed at resolution.
    Weak = 0,
    /// Default guess for a multi-word name.
    Default = 1,
    /// Context cue: title, suffix, preposition, speech verb.
    Cue = 2,
    /// Gazetteer.
    Gaz = 3,
}

#[derive(Clone, Debug)]
struct Mention {
    t0: u32,
    t1: u32,
    kind: EntityKind,
    strength: Strength,
    entry: Option<u32>,
    /// Canonical name when it differs from the surface text (gazetteer, ALL-CAPS, resolved).
    canon: Option<String>,
}

/// Per-call working state.
struct Doc<'a> {
    text: &'a str,
    toks: Vec<Tok>,
    /// For each token: gazetteer match starting here: (end token exclusive, entry).
    gaz_at: Vec<Option<(u32, u32)>>,
    /// For each token: covered by a gazetteer match.
    gaz_cover: Vec<bool>,
    lower_seen: HashSet<u64>,
    cap_mid: HashSet<u64>,
    /// Capitalised words seen right before or after another capitalised word ("Marrow" in
    /// "Marrow Logistics"), i.e. used inside a multi-word name.
    cap_pair: HashSet<u64>,
    mentions: Vec<Mention>,
}

impl EntityStage {
    /// Build the stage: load the shipped and user gazetteers and compile the automaton.
    /// A bad user gazetteer line is reported with its file name and line number.
    pub fn new(settings: &EntitySettings) -> anyhow::Result<Self> {
        let mut b = Builder::default();
        for p in &settings.gazetteers {
            b.add_file(p)?;
        }
        if settings.builtin_gazetteers {
            for (name, text) in gazetteer::BUILTIN {
                b.add_tsv(name, text, false)?;
            }
        }
        let gaz = b.build()?;
        let common = set(words::COMMON);
        let w = WordSets {
            titles: set(words::TITLES),
            role_domains: set(words::ROLE_DOMAINS),
            org_suffix: set(words::ORG_SUFFIX),
            loc_suffix: set(words::LOC_SUFFIX),
            of_heads: set(words::OF_HEADS),
            event_suffix: set(words::EVENT_SUFFIX),
            particles: set(words::PARTICLES),
            abbrev: set(words::ABBREV),
            never: set(words::NEVER),
            common: common.clone(),
            said: set(
                "said says told added explained wrote argued noted stated announced insisted \
                claimed replied asked admitted warned urged confirmed denied believes thinks who \
                whose declared tweeted commented testified",
            ),
            loc_prep: set(
                "in near outside inside across throughout around towards toward via into \
                within",
            ),
            geo_heads: set(
                "gulf bay strait isle sea cape lake mount river city province region \
                county district islands plains straits coast republic kingdom state museum gallery",
            ),
            determiners: set("the a an this that these those our my his her their its"),
            pronouns: set("we i it he she they you"),
            first_names: FIRST_NAMES
                .lines()
                .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
                .map(|l| hash_lower(l.trim()))
                .filter(|h| !common.contains(h))
                .collect(),
            dict: COMMON_WORDS
                .lines()
                .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
                .map(|l| hash_lower(l.trim()))
                .collect(),
            body_heads: set(
                "authority agency commission administration board bureau council committee \
                department ministry office service directorate secretariat inspectorate",
            ),
            hyphen_stop: set(
                "based led born owned backed made style like era wide bound linked related run \
                funded type class level area friendly free focused oriented controlled sponsored",
            ),
            compass: set(words::COMPASS),
            org_nouns: set(words::ORG_NOUNS),
            place_of: set(words::PLACE_OF),
            not_acronyms: set(words::NOT_ACRONYMS),
            for_heads: set(
                "agency centre center institute organization organisation office party alliance \
                coalition campaign council foundation society bank fund association union \
                movement commission committee ministry federation league network trust \
                partnership forum school college academy authority board",
            ),
            on_heads: set("council committee commission conference panel"),
            person_nouns: set(
                "official officials spokesman spokeswoman spokesperson head member members \
                employee employees worker workers boss chief executive founder director \
                manager analyst economist lawyer adviser advisor researcher shareholders \
                investors customers staff executives",
            ),
        };
        Ok(Self {
            settings: settings.clone(),
            gaz,
            w,
            h_of: hash_lower("of"),
            h_the: hash_lower("the"),
            h_and: hash_lower("and"),
            h_who: hash_lower("who"),
            h_for: hash_lower("for"),
            h_on: hash_lower("on"),
        })
    }

    /// The settings this stage was built with.
    pub fn settings(&self) -> &EntitySettings {
        &self.settings
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
        let mut doc = Doc {
            text,
            toks: Vec::with_capacity(text.len() / 5 + 8),
            gaz_at: Vec::new(),
            gaz_cover: Vec::new(),
            lower_seen: HashSet::new(),
            cap_mid: HashSet::new(),
            cap_pair: HashSet::new(),
            mentions: Vec::new(),
        };
        let abbrev = |h: u64| self.w.abbrev.contains(&h);
        tokenize(text, title_chars, &abbrev, &mut doc.toks);
        self.stats(&mut doc);
        self.match_gazetteers(&mut doc);
        self.chunk(&mut doc);
        self.resolve(doc)
    }

    fn stats(&self, d: &mut Doc) {
        let mut lower_seen = std::mem::take(&mut d.lower_seen);
        let mut cap_mid = std::mem::take(&mut d.cap_mid);
        let mut cap_pair = std::mem::take(&mut d.cap_pair);
        for (k, t) in d.toks.iter().enumerate() {
            if !t.has(WORD) || t.has(DIGIT) {
                continue;
            }
            if !t.has(CAP) {
                if self.hyphen_cont(d, k) {
                    continue; // "Wai-ching"
                }
                lower_seen.insert(t.hash);
            } else {
                if !t.has(SENT) && !t.has(TZONE) {
                    cap_mid.insert(t.hash);
                }
                if !t.has(TZONE)
                    && !t.has(ALLCAPS)
                    && d.toks.get(k + 1).is_some_and(|x| {
                        x.has(WORD) && x.has(CAP) && x.has(SPACE) && !x.has(DIGIT) && !x.has(SENT)
                    })
                {
                    cap_pair.insert(t.hash);
                }
            }
        }
        d.lower_seen = lower_seen;
        d.cap_mid = cap_mid;
        d.cap_pair = cap_pair;
    }

    fn match_gazetteers(&self, d: &mut Doc) {
        let n = d.toks.len();
        d.gaz_at = vec![None; n];
        d.gaz_cover = vec![false; n];
        let toks = &d.toks;
        for m in self.gaz.ac.find_overlapping_iter(d.text) {
            let (s, e) = (m.start() as u32, m.end() as u32);
            let Ok(i) = toks.binary_search_by_key(&s, |t| t.bs) else {
                continue;
            };
            let Ok(j) = toks.binary_search_by_key(&e, |t| t.be) else {
                continue;
            };
            if j < i {
                continue;
            }
            // Do not match inside a word joined by a hyphen or dot ("Anti-China" is fine, but
            // "Georgia" in "Georgia-based" is allowed too; only letters glued on are rejected).
            let entry = self.gaz.pattern_entry[m.pattern().as_usize()];
            let end = j as u32 + 1;
            match d.gaz_at[i] {
                Some((e0, _)) if e0 >= end => {}
                _ => d.gaz_at[i] = Some((end, entry)),
            }
        }
        // ALL-CAPS lines and datelines: look up upper-cased names (rare; may allocate).
        for i in 0..n {
            if d.gaz_at[i].is_some() || !toks[i].has(ALLCAPS) {
                continue;
            }
            let upzone = toks[i].has(UPZONE);
            let dateline = toks[i].has(NEWLINE);
            if !upzone && !dateline {
                continue;
            }
            let mut best = None;
            let mut j = i;
            while j < n && j < i + 5 && (toks[j].has(ALLCAPS) || !toks[j].has(WORD)) {
                if toks[j].has(ALLCAPS) {
                    let s = &d.text[toks[i].bs as usize..toks[j].be as usize];
                    if let Some(&e) = self.gaz.upper.get(s) {
                        best = Some((j as u32 + 1, e));
                    }
                }
                j += 1;
            }
            if best.is_some() {
                d.gaz_at[i] = best;
            }
        }
        // Greedy leftmost-longest selection.
        let mut i = 0;
        while i < n {
            if let Some((end, _)) = d.gaz_at[i] {
                for k in i + 1..end as usize {
                    d.gaz_at[k] = None;
                }
                for c in &mut d.gaz_cover[i..end as usize] {
                    *c = true;
                }
                i = end as usize;
            } else {
                i += 1;
            }
        }
    }

    #[inline]
    fn is_name_tok(&self, d: &Doc, i: usize) -> bool {
        let t = &d.toks[i];
        (t.has(WORD) && t.has(CAP) && !self.w.never.contains(&t.hash)) || d.gaz_at[i].is_some()
    }

    /// A lower-case word glued to a capitalised one by a hyphen ("Wai-ching").
    fn hyphen_cont(&self, d: &Doc, k: usize) -> bool {
        k >= 2
            && d.toks[k].has(WORD)
            && !d.toks[k].has(SPACE)
            && !d.toks[k - 1].has(WORD)
            && !d.toks[k - 1].has(SPACE)
            && d.toks[k - 2].has(CAP)
            && matches!(self.text_of(d, k - 1), "-" | "\u{2010}")
    }

    fn text_of<'a>(&self, d: &Doc<'a>, i: usize) -> &'a str {
        let t = &d.toks[i];
        &d.text[t.bs as usize..t.be as usize]
    }

    fn is_punct(&self, d: &Doc, i: usize, s: &str) -> bool {
        let t = &d.toks[i];
        !t.has(WORD) && &d.text[t.bs as usize..t.be as usize] == s
    }

    /// Split the token stream into capitalised chunks and classify each.
    fn chunk(&self, d: &mut Doc) {
        let n = d.toks.len();
        let mut i = 0;
        while i < n {
            if !self.is_name_tok(d, i) {
                i += 1;
                continue;
            }
            // Dateline: "LONDON (Reuters) -", "BEIJING, June 3 -".
            if d.toks[i].has(NEWLINE)
                && d.toks[i].has(ALLCAPS)
                && !d.toks[i].has(UPZONE)
                && !d.toks[i].has(HEAD)
            {
                // One or more cities separated by "/" ("GENEVA/WASHINGTON").
                let mut segs = [(0usize, 0usize); 4];
                let mut nseg = 0;
                let mut s = i;
                let mut j = i;
                loop {
                    while j < n && d.toks[j].has(ALLCAPS) && (j == s || d.toks[j].has(SPACE)) {
                        j += 1;
                    }
                    if j > s && nseg < segs.len() {
                        segs[nseg] = (s, j);
                        nseg += 1;
                    }
                    if j + 1 < n
                        && self.is_punct(d, j, "/")
                        && d.toks[j + 1].has(ALLCAPS)
                        && !d.toks[j + 1].has(DIGIT)
                    {
                        s = j + 1;
                        j = s;
                        continue;
                    }
                    break;
                }
                if j < n
                    && ["(", ",", "-", "\u{2014}", "\u{2013}"]
                        .iter()
                        .any(|p| self.is_punct(d, j, p))
                {
                    for &(s, e) in &segs[..nseg] {
                        self.push_dateline_city(d, s, e);
                    }
                    // "(Reuters)", "(Meridian Wire)": the news agency.
                    let mut next = j;
                    if self.is_punct(d, j, "(") {
                        let mut e = j + 1;
                        while e < n
                            && e < j + 8
                            && (self.is_name_tok(d, e)
                                || ["&", ".", "-"].iter().any(|p| self.is_punct(d, e, p)))
                        {
                            e += 1;
                        }
                        if e > j + 1 && e < n && self.is_punct(d, e, ")") {
                            let entry = d.gaz_at[j + 1]
                                .filter(|&(ge, _)| ge as usize == e)
                                .map(|(_, en)| en);
                            let kind = entry
                                .map(|en| self.gaz.entries[en as usize].kind)
                                .unwrap_or(EntityKind::Organization);
                            let canon = match entry {
                                Some(en) => Some(self.gaz.entries[en as usize].name.clone()),
                                None if d.toks[j + 1..e].iter().any(|t| t.has(UPZONE)) => {
                                    Some(title_case(
                                        &d.text
                                            [d.toks[j + 1].bs as usize..d.toks[e - 1].be as usize],
                                    ))
                                }
                                None => None,
                            };
                            d.mentions.push(Mention {
                                t0: (j + 1) as u32,
                                t1: e as u32,
                                kind,
                                strength: Strength::Cue,
                                entry,
                                canon,
                            });
                            next = e + 1;
                        }
                    }
                    i = next;
                    continue;
                }
            }
            let a = i;
            let mut b = i;
            let mut has_of = false;
            loop {
                if b >= n {
                    break;
                }
                if let Some((e, _)) = d.gaz_at[b]
                    && (b == a || !d.toks[b].has(SENT))
                {
                    b = e as usize;
                    continue;
                }
                if b > a && d.toks[b].has(SENT) {
                    break;
                }
                if self.is_name_tok(d, b) {
                    b += 1;
                    continue;
                }
                if b == a {
                    break;
                }
                let t = d.toks[b];
                let next_name = b + 1 < n && self.is_name_tok(d, b + 1) && !d.toks[b + 1].has(SENT);
                let last = d.toks[b - 1];
                if t.has(WORD) && !t.has(CAP) {
                    if self.w.particles.contains(&t.hash) && !has_of {
                        if next_name {
                            b += 1;
                            continue;
                        }
                        // "van der Berg"
                        if b + 2 < n
                            && self.w.particles.contains(&d.toks[b + 1].hash)
                            && !d.toks[b + 1].has(CAP)
                            && self.is_name_tok(d, b + 2)
                        {
                            b += 2;
                            continue;
                        }
                    }
                    if t.hash == self.h_of && self.w.of_heads.contains(&last.hash) {
                        if next_name {
                            has_of = true;
                            b += 1;
                            continue;
                        }
                        if b + 2 < n
                            && d.toks[b + 1].hash == self.h_the
                            && self.is_name_tok(d, b + 2)
                        {
                            has_of = true;
                            b += 2;
                            continue;
                        }
                    }
                    // "International Organization for Migration", "Council on Foreign Relations"
                    if ((t.hash == self.h_for && self.w.for_heads.contains(&last.hash))
                        || (t.hash == self.h_on && self.w.on_heads.contains(&last.hash)))
                        && last.has(CAP)
                        && next_name
                        && !self.w.never.contains(&d.toks[b + 1].hash)
                    {
                        has_of = true;
                        b += 1;
                        continue;
                    }
                    if t.hash == self.h_and && has_of && next_name && {
                        // not when a second organization follows ("... and Kestrel Systems Inc")
                        let mut k = b + 1;
                        let mut org = false;
                        while k < n && self.is_name_tok(d, k) {
                            org |= self.w.org_suffix.contains(&d.toks[k].hash)
                                || d.gaz_at[k].is_some();
                            k += 1;
                        }
                        !org
                    } {
                        b += 1;
                        continue;
                    }
                    if t.hash == self.h_and && !has_of && next_name && self.and_body(d, a, b) {
                        b += 1;
                        continue;
                    }
                    break;
                }
                let txt = self.text_of(d, b);
                if (txt == "-" || txt == "\u{2010}")
                    && !t.has(SPACE)
                    && last.has(CAP)
                    && b + 1 < n
                    && d.toks[b + 1].has(WORD)
                    && !d.toks[b + 1].has(SPACE)
                    && !d.toks[b + 1].has(CAP)
                    && !d.toks[b + 1].has(DIGIT)
                    && !self.w.hyphen_stop.contains(&d.toks[b + 1].hash)
                    && !self.w.common.contains(&d.toks[b + 1].hash)
                {
                    b += 2;
                    continue;
                }
                if (txt == "&" || txt == "-" || txt == "\u{2010}") && next_name {
                    let glued = !t.has(SPACE) && !d.toks[b + 1].has(SPACE);
                    if txt == "&" || glued {
                        b += 1;
                        continue;
                    }
                }
                if txt == "."
                    && !t.has(SPACE)
                    && (self.w.abbrev.contains(&last.hash)
                        || (last.ce - last.cs == 1 && last.has(CAP)))
                    && next_name
                {
                    b += 1;
                    continue;
                }
                break;
            }
            // Trim trailing connectors.
            while b > a && !self.is_name_tok(d, b - 1) && !self.hyphen_cont(d, b - 1) {
                b -= 1;
            }
            if b > a {
                self.classify(d, a, b, false, 0);
            }
            i = b.max(a + 1);
        }
    }

    /// One city of a dateline ("WASHINGTON" -> Washington): the gazetteer entry if any
    /// (upper-case lookup), else a title-cased location.
    fn push_dateline_city(&self, d: &mut Doc, s: usize, e: usize) {
        let surface = &d.text[d.toks[s].bs as usize..d.toks[e - 1].be as usize];
        let entry = match d.gaz_at[s] {
            Some((ge, en)) if ge as usize == e => Some(en),
            _ => self.gaz.upper.get(surface).copied(),
        };
        let (kind, canon) = match entry {
            Some(en) => {
                let g = &self.gaz.entries[en as usize];
                (g.kind, Some(g.name.clone()))
            }
            None => (EntityKind::Location, Some(title_case(surface))),
        };
        d.mentions.push(Mention {
            t0: s as u32,
            t1: e as u32,
            kind,
            strength: Strength::Cue,
            entry,
            canon,
        });
    }

    fn reliable(&self, d: &Doc, k: usize) -> bool {
        let t = &d.toks[k];
        if d.gaz_cover[k] {
            return true;
        }
        if !t.has(WORD) {
            return false;
        }
        if t.has(UPZONE) {
            return false;
        }
        d.cap_mid.contains(&t.hash) || (t.has(ALLCAPS) && !t.has(DIGIT))
    }

    /// Classify the capitalised chunk `[a, b)` and push its mentions.
    fn classify(&self, d: &mut Doc, mut a: usize, b: usize, prefix: bool, depth: u8) {
        if a >= b || depth > 6 {
            return;
        }
        // 1. Title-case headline / ALL-CAPS line: keep only runs of reliable tokens.
        if d.toks[a..b].iter().any(|t| t.has(TZONE)) {
            let mut k = a;
            let mut any_unreliable = false;
            while k < b {
                if !self.reliable(d, k) && d.toks[k].has(WORD) && self.is_name_tok(d, k) {
                    any_unreliable = true;
                }
                k += 1;
            }
            if any_unreliable {
                let mut k = a;
                while k < b {
                    if let Some((e, _)) = d.gaz_at[k] {
                        let e = (e as usize).min(b);
                        self.classify_reliable(d, k, e, prefix, depth);
                        k = e;
                        continue;
                    }
                    if self.reliable(d, k) && self.is_name_tok(d, k) {
                        let s = k;
                        while k < b
                            && d.gaz_at[k].is_none()
                            && (self.reliable(d, k) || !self.is_name_tok(d, k))
                        {
                            k += 1;
                        }
                        let mut e = k;
                        while e > s && !self.is_name_tok(d, e - 1) {
                            e -= 1;
                        }
                        self.classify_reliable(d, s, e, prefix, depth);
                        continue;
                    }
                    k += 1;
                }
                return;
            }
        }
        // 2. Sentence-initial common word: "Meanwhile Beijing", "Analysts".
        if d.toks[a].has(SENT) && d.gaz_at[a].is_none_or(|(e, _)| e as usize > b) {
            let h = d.toks[a].hash;
            let known = d.cap_mid.contains(&h);
            if !known
                && (self.w.common.contains(&h)
                    || d.lower_seen.contains(&h)
                    || (b - a == 1
                        && !d.toks[a].has(ALLCAPS)
                        && !self.w.titles.contains(&h)
                        // "Marrow said" after "Marrow Logistics"; "Quorvi, the developer"
                        && !d.cap_pair.contains(&h)
                        && !self.org_apposition(d, a, b)))
            {
                a += 1;
                while a < b && !self.is_name_tok(d, a) {
                    a += 1;
                }
            }
        }
        if a >= b {
            return;
        }
        // Days, months and other never-names split the chunk.
        if let Some(k) = (a..b).find(|&k| {
            d.toks[k].has(WORD) && self.w.never.contains(&d.toks[k].hash) && !d.gaz_cover[k]
        }) {
            self.classify(d, a, k, prefix, depth + 1);
            self.classify(d, k + 1, b, prefix, depth + 1);
            return;
        }
        self.classify_reliable(d, a, b, prefix, depth);
    }

    fn classify_reliable(&self, d: &mut Doc, a: usize, b: usize, prefix: bool, depth: u8) {
        if a >= b || depth > 6 {
            return;
        }
        // 3. Exactly one gazetteer name.
        if let Some((e, entry)) = d.gaz_at[a]
            && e as usize == b
        {
            self.push_gaz(d, a, b, entry);
            return;
        }
        let last = self.last_word(d, a, b);
        let lh = d.toks[last].hash;
        let n_words = d.toks[a..b].iter().filter(|t| t.has(WORD)).count();
        // "Refugee Council Enver Solomon": an organization followed by a person's full name.
        if n_words >= 4 {
            for k in a + 1..b.saturating_sub(2) {
                let t = d.toks[k];
                let f = d.toks[k + 1];
                if t.has(WORD)
                    && !d.gaz_cover[k]
                    && self.w.org_suffix.contains(&t.hash)
                    && self.w.first_names.contains(&f.hash)
                    && !d.gaz_cover[k + 1]
                {
                    let rest = d.toks[k + 1..b].iter().filter(|t| t.has(WORD)).count();
                    if (2..=3).contains(&rest) {
                        self.push(d, a, k + 1, EntityKind::Organization, Strength::Cue);
                        self.push(d, k + 1, b, EntityKind::Person, Strength::Cue);
                        return;
                    }
                }
            }
        }
        // 4. Organization / place / event by its last word ("Ministry", "House", "Summit").
        if n_words >= 2 && !d.gaz_cover[last] {
            let kind = if self.w.org_suffix.contains(&lh) {
                Some(EntityKind::Organization)
            } else if self.w.loc_suffix.contains(&lh) {
                Some(EntityKind::Location)
            } else if self.w.event_suffix.contains(&lh) {
                Some(EntityKind::Event)
            } else {
                None
            };
            if let Some(kind) = kind {
                // Strip a leading title/role ("President Obama Foundation" is rare; keep whole).
                self.push(d, a, b, kind, Strength::Cue);
                return;
            }
        }
        // "University of X", "Gulf of X", "National Gallery of Art", "Institute for X",
        // "Council on X": the head word before the first connector types the name.
        if n_words >= 2
            && let Some(k) = (a + 1..b.saturating_sub(1)).find(|&k| {
                let t = d.toks[k];
                t.has(WORD) && !t.has(CAP) && !self.w.particles.contains(&t.hash)
            })
            && {
                let (c, h) = (d.toks[k].hash, d.toks[k - 1].hash);
                (c == self.h_of && self.w.of_heads.contains(&h))
                    || (c == self.h_for && self.w.for_heads.contains(&h))
                    || (c == self.h_on && self.w.on_heads.contains(&h))
            }
            && !d.gaz_cover[k - 1]
            // "Colorado State University of the US": a country after an inner head is not
            // part of the name.
            && (k == a + 1 || !self.country_at(d, k + 1, b))
        {
            let kind = if self.w.geo_heads.contains(&d.toks[k - 1].hash) {
                EntityKind::Location
            } else {
                EntityKind::Organization
            };
            self.push(d, a, b, kind, Strength::Cue);
            return;
        }
        // 5. Titles and roles: "U.S. Commerce Secretary Howard Lutnick".
        if let Some(t) = (a..b).find(|&k| {
            d.toks[k].has(WORD) && !d.gaz_cover[k] && self.w.titles.contains(&d.toks[k].hash)
        }) {
            let mut r = t + 1;
            while r < b
                && !d.gaz_cover[r]
                && (self.w.titles.contains(&d.toks[r].hash)
                    || self.w.role_domains.contains(&d.toks[r].hash)
                    || d.toks[r].hash == self.h_of
                    || d.toks[r].hash == self.h_the
                    || !d.toks[r].has(WORD))
            {
                r += 1;
            }
            // prefix: strip trailing role domains ("Commerce", "Trade")
            let mut pe = t;
            while pe > a
                && (self.w.role_domains.contains(&d.toks[pe - 1].hash) || !d.toks[pe - 1].has(WORD))
                && !d.gaz_cover[pe - 1]
            {
                pe -= 1;
            }
            if pe > a {
                self.classify_reliable(d, a, pe, true, depth + 1);
            }
            while r < b && !self.is_name_tok(d, r) {
                r += 1;
            }
            if r < b {
                self.push(d, r, b, EntityKind::Person, Strength::Cue);
            }
            return;
        }
        // "Valeska Paris", "Israel Folau"-like: an unknown given name + a one-word city.
        if b - a == 2 && !prefix {
            let (x, y) = (d.toks[a], d.toks[a + 1]);
            let city = |k: usize| {
                d.gaz_at[k].is_some_and(|(e, en)| {
                    e as usize == k + 1 && {
                        let g = &self.gaz.entries[en as usize];
                        g.kind == EntityKind::Location && !g.country
                    }
                })
            };
            if city(a + 1)
                && !d.gaz_cover[a]
                && x.has(CAP)
                && !x.has(ALLCAPS)
                && (!x.has(SENT) || self.w.first_names.contains(&x.hash))
                && !self.w.common.contains(&x.hash)
                && !self.w.role_domains.contains(&x.hash)
                && !d.lower_seen.contains(&x.hash)
                && y.has(SPACE)
                && !self.w.loc_suffix.contains(&x.hash)
            {
                self.push(d, a, b, EntityKind::Person, Strength::Default);
                return;
            }
        }
        // 6. Partly covered by gazetteer names: split around them.
        if (a..b).any(|k| d.gaz_cover[k]) {
            let mut k = a;
            while k < b {
                if let Some((e, entry)) = d.gaz_at[k] {
                    let e = e as usize;
                    if e <= b {
                        self.push_gaz(d, k, e, entry);
                        k = e;
                        continue;
                    }
                }
                let s = k;
                k += 1;
                while k < b && d.gaz_at[k].is_none() {
                    k += 1;
                }
                let (mut s2, mut e2) = (s, k);
                while s2 < e2 && !self.is_name_tok(d, s2) {
                    s2 += 1;
                }
                while e2 > s2 && !self.is_name_tok(d, e2 - 1) {
                    e2 -= 1;
                }
                if s2 < e2 {
                    self.unknown(d, s2, e2, prefix);
                }
            }
            return;
        }
        self.unknown(d, a, b, prefix);
    }

    fn last_word(&self, d: &Doc, a: usize, b: usize) -> usize {
        let mut l = b - 1;
        while l > a && (d.toks[l].has(DIGIT) || !d.toks[l].has(WORD)) {
            l -= 1;
        }
        l
    }

    /// A name with no gazetteer entry and no internal cue: type it from context.
    fn unknown(&self, d: &mut Doc, a: usize, b: usize, prefix: bool) {
        let n_words = d.toks[a..b].iter().filter(|t| t.has(WORD)).count();
        if n_words == 0 {
            return;
        }
        let first = d.toks[a];
        // Lone role words or suffix words are not names ("Ministry", "Commerce").
        if n_words == 1
            && (self.w.role_domains.contains(&first.hash)
                || self.w.org_suffix.contains(&first.hash)
                || self.w.titles.contains(&first.hash))
            && !first.has(ALLCAPS)
        {
            return;
        }
        if prefix && n_words == 1 && !first.has(ALLCAPS) {
            return;
        }
        let prev = (0..a).rev().find(|&k| d.toks[k].has(WORD));
        let prev_w = prev.filter(|&k| k + 3 >= a).map(|k| d.toks[k]);
        let next_w = (b..d.toks.len().min(b + 3))
            .find(|&k| d.toks[k].has(WORD))
            .map(|k| d.toks[k]);
        let all_caps_acr = n_words == 1 && first.has(ALLCAPS) && first.ce - first.cs <= 6;
        // Abbreviations that are not entities ("AI", "CEO", "EV") and shouted everyday words
        // ("HUGE", "UNLESS").
        if n_words == 1
            && first.has(ALLCAPS)
            && (self.w.not_acronyms.contains(&first.hash)
                || self.w.common.contains(&first.hash)
                || d.lower_seen.contains(&first.hash))
        {
            return;
        }
        // A single everyday word (also written in lower case here) is only a name with a
        // title before it ("Migration urged" is not a person).
        let everyday = n_words == 1
            && (self.w.common.contains(&first.hash) || d.lower_seen.contains(&first.hash));
        let prev_adj = prev.filter(|&k| k + 1 == a).map(|k| d.toks[k]);
        let compass = |t: &Tok| self.w.compass.contains(&t.hash);
        let (kind, strength) =
            if prev_w.is_some_and(|p| !p.has(CAP) && self.w.titles.contains(&p.hash)) {
                (EntityKind::Person, Strength::Cue)
            } else if all_caps_acr {
                (EntityKind::Organization, Strength::Default)
            } else if !prefix && self.org_apposition(d, a, b) {
                (EntityKind::Organization, Strength::Cue)
            } else if next_w.is_some_and(|t| {
                !t.has(CAP) && (self.w.said.contains(&t.hash) || t.hash == self.h_who)
            }) && !prefix
                && !everyday
            {
                (EntityKind::Person, Strength::Cue)
            } else if prev_adj.is_some_and(|p| !p.has(CAP) && self.w.loc_prep.contains(&p.hash))
                || self.place_of(d, a)
                || (n_words == 1
                    && !everyday
                    && !self.w.first_names.contains(&first.hash)
                    && self.after_location(d, a))
            {
                (EntityKind::Location, Strength::Cue)
            } else if n_words == 2
                && !prefix
                && d.toks[a..b].iter().all(|t| t.has(WORD) && !t.has(DIGIT))
                && (compass(&d.toks[a]) ^ compass(&d.toks[b - 1]))
            {
                // "North Darfur", "Rukum West"
                (EntityKind::Location, Strength::Default)
            } else if prefix {
                (EntityKind::Organization, Strength::Default)
            } else if (2..=4).contains(&n_words)
                && d.toks[a..b]
                    .iter()
                    .all(|t| !t.has(DIGIT) && (!t.has(ALLCAPS) || t.has(DOTTED)))
            {
                // A given name first, or no everyday word at all ("Wang Wentao"): a person.
                let given = self.w.first_names.contains(&first.hash)
                    || (first.has(DOTTED) && first.ce - first.cs <= 2);
                let plain = d.toks[a..b]
                    .iter()
                    .filter(|t| t.has(WORD) && t.has(CAP))
                    .all(|t| {
                        !self.w.common.contains(&t.hash)
                            && !d.lower_seen.contains(&t.hash)
                            && !self.w.loc_suffix.contains(&t.hash)
                    });
                // Only dictionary words ("Golden Age", "Dark Matters"): not a person without a
                // given name or another cue; a name keeps one unknown token ("Noam Chomsky").
                // Two-letter tokens do not count as words ("Mu Li", "Xi").
                let all_dict = d.toks[a..b]
                    .iter()
                    .filter(|t| t.has(WORD) && t.has(CAP))
                    .all(|t| t.ce - t.cs > 2 && self.w.dict.contains(&t.hash));
                if given || (plain && !all_dict) {
                    (EntityKind::Person, Strength::Default)
                } else {
                    (EntityKind::Other, Strength::Weak)
                }
            } else if n_words >= 2 {
                (EntityKind::Other, Strength::Weak)
            } else if self.w.first_names.contains(&first.hash) && !first.has(ALLCAPS) {
                (EntityKind::Person, Strength::Default)
            } else {
                (EntityKind::Other, Strength::Weak)
            };
        self.push(d, a, b, kind, strength);
    }

    /// "and" at `b` inside one public body's name: "National Disaster Risk Reduction and
    /// Management Authority", "Fish and Wildlife Service". What follows is one to three name
    /// words ending in a body head (Authority, Agency, Commission, ...), none known to a
    /// gazetteer and not a given name first; what precedes is two or more capitalised words,
    /// or one everyday word, not itself ending an organization name ("Fiji and Samoa Shipping
    /// Authority" and "Tax Office and Revenue Agency" stay apart).
    fn and_body(&self, d: &Doc, a: usize, b: usize) -> bool {
        let n = d.toks.len();
        let pre: Vec<&Tok> = d.toks[a..b].iter().filter(|t| t.has(WORD)).collect();
        let Some(last) = pre.last() else {
            return false;
        };
        if !pre.iter().all(|t| t.has(CAP))
            || self.w.org_suffix.contains(&last.hash)
            || (pre.len() < 2 && !self.w.dict.contains(&last.hash))
            || (a..b).any(|k| d.gaz_cover[k])
        {
            return false;
        }
        let mut k = b + 1;
        while k < n && k < b + 5 && self.is_name_tok(d, k) && d.toks[k].has(WORD) {
            if d.gaz_cover[k] {
                return false;
            }
            k += 1;
        }
        let m = k - b - 1;
        (1..=3).contains(&m)
            && !(k < n && self.is_name_tok(d, k))
            && self.w.body_heads.contains(&d.toks[k - 1].hash)
            && !self.w.first_names.contains(&d.toks[b + 1].hash)
    }

    /// Organization cue around an unknown name: an organization noun right before it ("the EU
    /// border agency Frontex", "campaign group Digital Rights Watch") or an apposition after
    /// it that ends in one ("Nordlys Energi, the Danish developer").
    fn org_apposition(&self, d: &Doc, a: usize, b: usize) -> bool {
        let n = d.toks.len();
        if a > 0 {
            let p = d.toks[a - 1];
            if p.has(WORD) && !p.has(CAP) && self.w.org_nouns.contains(&p.hash) {
                return true;
            }
        }
        if b + 2 < n && self.is_punct(d, b, ",") {
            let det = d.toks[b + 1];
            if !(det.has(WORD)
                && (det.hash == self.h_the
                    || self.text_of(d, b + 1) == "a"
                    || self.text_of(d, b + 1) == "an"))
            {
                return false;
            }
            let mut k = b + 2;
            while k < n && k < b + 8 {
                let t = d.toks[k];
                if !t.has(WORD) {
                    let txt = self.text_of(d, k);
                    if txt == "-" || txt == "'s" || txt == "\u{2019}s" {
                        k += 1;
                        continue;
                    }
                    return false;
                }
                if !t.has(CAP) && self.w.org_nouns.contains(&t.hash) {
                    // the noun must end the phrase ("the company's chief executive" is a person)
                    let nx = d.toks.get(k + 1);
                    return match nx {
                        None => true,
                        Some(x) if !x.has(WORD) => {
                            let txt = self.text_of(d, k + 1);
                            txt != "'s" && txt != "\u{2019}s" && txt != "-"
                        }
                        Some(x) => {
                            !x.has(CAP)
                                && x.hash != self.h_of
                                && !self.w.person_nouns.contains(&x.hash)
                                && !self.w.titles.contains(&x.hash)
                                && !self.w.org_nouns.contains(&x.hash)
                        }
                    };
                }
                if !t.has(CAP)
                    && (self.w.titles.contains(&t.hash) || self.w.person_nouns.contains(&t.hash))
                {
                    return false;
                }
                k += 1;
            }
        }
        false
    }

    /// The word after a one-word mention ending before token `k` does not make it a modifier
    /// ("Halvorsen said", "Halvorsen's stock", "advised Halvorsen," but not "Paralympic
    /// athletes").
    fn used_as_noun(&self, d: &Doc, k: usize) -> bool {
        match d.toks.get(k) {
            None => true,
            Some(t) if !t.has(WORD) => true,
            Some(t) if t.has(CAP) => false,
            Some(t) => {
                self.w.common.contains(&t.hash)
                    || self.w.said.contains(&t.hash)
                    || self.w.titles.contains(&t.hash)
                    || self.w.person_nouns.contains(&t.hash)
            }
        }
    }

    /// Tokens `[s, e)` (after an optional "the") are exactly one gazetteer country.
    fn country_at(&self, d: &Doc, mut s: usize, e: usize) -> bool {
        if s < e && d.toks[s].hash == self.h_the {
            s += 1;
        }
        s < e
            && d.gaz_at[s]
                .is_some_and(|(ge, en)| ge as usize == e && self.gaz.entries[en as usize].country)
    }

    /// "the island of Heligoland", "the Stockholm suburb of Solna".
    fn place_of(&self, d: &Doc, a: usize) -> bool {
        a >= 2
            && d.toks[a - 1].hash == self.h_of
            && !d.toks[a - 1].has(CAP)
            && !d.toks[a - 2].has(CAP)
            && self.w.place_of.contains(&d.toks[a - 2].hash)
    }

    /// "in Darfur and Kordofan": a name coordinated with a location found just before.
    fn after_location(&self, d: &Doc, a: usize) -> bool {
        a >= 2
            && (d.toks[a - 1].hash == self.h_and || self.text_of(d, a - 1) == "or")
            && !d.toks[a - 1].has(CAP)
            && d.mentions.last().is_some_and(|m| {
                m.t1 as usize == a - 1
                    && m.kind == EntityKind::Location
                    && m.strength >= Strength::Cue
            })
    }

    fn push_gaz(&self, d: &mut Doc, mut a: usize, b: usize, entry: u32) {
        let e = &self.gaz.entries[entry as usize];
        if b - a > 1 && d.toks[a].hash == self.h_the {
            a += 1;
        }
        // A lone gazetteer word that is also a common word, at a sentence start or in a
        // title-case headline, is not trusted ("Reading", "Visa").
        if b - a == 1 && (d.toks[a].has(SENT) || d.toks[a].has(TZONE)) && !e.user {
            let h = d.toks[a].hash;
            if (self.w.common.contains(&h) || d.lower_seen.contains(&h)) && !d.cap_mid.contains(&h)
            {
                return;
            }
        }
        let t0 = &d.toks[a];
        let t1 = &d.toks[b - 1];
        let surface = &d.text[t0.bs as usize..t1.be as usize];
        let canon = if surface == e.name {
            None
        } else {
            Some(e.name.clone())
        };
        d.mentions.push(Mention {
            t0: a as u32,
            t1: b as u32,
            kind: e.kind,
            strength: Strength::Gaz,
            entry: Some(entry),
            canon,
        });
    }

    fn push(&self, d: &mut Doc, mut a: usize, b: usize, kind: EntityKind, strength: Strength) {
        let det = |t: &Tok| {
            self.w.determiners.contains(&t.hash)
                || (t.has(SENT) && self.w.pronouns.contains(&t.hash))
        };
        while b - a > 1 && (det(&d.toks[a]) || !d.toks[a].has(WORD)) {
            a += 1;
        }
        if b - a == 1 && det(&d.toks[a]) {
            return;
        }
        let canon = if d.toks[a..b].iter().any(|t| t.has(UPZONE)) {
            Some(title_case(
                &d.text[d.toks[a].bs as usize..d.toks[b - 1].be as usize],
            ))
        } else {
            None
        };
        d.mentions.push(Mention {
            t0: a as u32,
            t1: b as u32,
            kind,
            strength,
            entry: None,
            canon,
        });
    }

    /// Article-level resolution: short names, acronyms, aliases, types; then salience.
    fn resolve(&self, mut d: Doc) -> Vec<Entity> {
        d.mentions.sort_by_key(|m| m.t0);
        let text = d.text;
        let surface = |m: &Mention| -> &str {
            &text[d.toks[m.t0 as usize].bs as usize..d.toks[m.t1 as usize - 1].be as usize]
        };
        // Surname -> full person name (from multi-word person mentions).
        let mut surname: HashMap<u64, usize> = HashMap::new();
        let mut acronym: HashMap<u64, usize> = HashMap::new();
        let mut org_first: HashMap<u64, usize> = HashMap::new();
        for (idx, m) in d.mentions.iter().enumerate() {
            let words = (m.t0..m.t1)
                .filter(|&k| d.toks[k as usize].has(WORD))
                .count();
            if m.kind == EntityKind::Person && words >= 2 && m.strength >= Strength::Default {
                let last = self.last_word(&d, m.t0 as usize, m.t1 as usize);
                surname.entry(d.toks[last].hash).or_insert(idx);
            }
            // "Halvorsen Logistics" -> later "Halvorsen"
            if m.kind == EntityKind::Organization
                && words >= 2
                && m.entry.is_none()
                && m.strength >= Strength::Cue
            {
                let f = d.toks[m.t0 as usize];
                if f.has(WORD)
                    && f.has(CAP)
                    && !f.has(ALLCAPS)
                    && !d.gaz_cover[m.t0 as usize]
                    && !self.w.common.contains(&f.hash)
                    && !self.w.role_domains.contains(&f.hash)
                    && !self.w.titles.contains(&f.hash)
                    && !self.w.compass.contains(&f.hash)
                    && !self.w.org_suffix.contains(&f.hash)
                    && !d.lower_seen.contains(&f.hash)
                {
                    org_first.entry(f.hash).or_insert(idx);
                }
            }
            // "World Trade Organization (WTO)"
            let t1 = m.t1 as usize;
            if words >= 2
                && t1 + 2 < d.toks.len()
                && self.is_punct(&d, t1, "(")
                && d.toks[t1 + 1].has(ALLCAPS)
                && self.is_punct(&d, t1 + 2, ")")
            {
                acronym.insert(d.toks[t1 + 1].hash, idx);
            }
        }
        // Initials of multi-word organizations: "Hong Kong Democratic Party" ~ "HKDP" (rare), "NASA".
        let mut resolved: Vec<(String, EntityKind, Strength, Option<u32>)> =
            Vec::with_capacity(d.mentions.len());
        for m in &d.mentions {
            let s = surface(m);
            let canon = m.canon.clone().unwrap_or_else(|| s.to_string());
            resolved.push((canon, m.kind, m.strength, m.entry));
        }
        for idx in 0..d.mentions.len() {
            let m = &d.mentions[idx];
            let words = (m.t0..m.t1)
                .filter(|&k| d.toks[k as usize].has(WORD))
                .count();
            if words != 1 {
                continue;
            }
            let h = d.toks[m.t0 as usize].hash;
            let country = m.entry.is_some_and(|e| {
                self.gaz.entries[e as usize].country || self.gaz.entries[e as usize].user
            });
            if !country
                && let Some(&p) = surname.get(&h)
                && p != idx
            {
                resolved[idx] = (
                    resolved[p].0.clone(),
                    EntityKind::Person,
                    Strength::Cue.max(m.strength),
                    None,
                );
                continue;
            }
            if m.entry.is_none()
                && m.strength <= Strength::Cue
                && let Some(&p) = org_first.get(&h)
                && p != idx
                && self.used_as_noun(&d, m.t1 as usize)
            {
                resolved[idx] = (
                    resolved[p].0.clone(),
                    EntityKind::Organization,
                    Strength::Cue,
                    None,
                );
                continue;
            }
            if m.entry.is_none()
                && let Some(&p) = acronym.get(&h)
                && p != idx
            {
                resolved[idx] = (
                    resolved[p].0.clone(),
                    resolved[p].1,
                    resolved[p].2,
                    resolved[p].3,
                );
            }
        }
        // Group mentions by canonical name.
        struct Acc {
            name: String,
            kinds: [(u32, u8); 6],
            spans: Vec<[usize; 2]>,
            score: f64,
            first: u32,
            entry: Option<u32>,
        }
        let mut by_name: HashMap<String, usize> = HashMap::new();
        let mut accs: Vec<Acc> = Vec::new();
        for (m, (canon, kind, strength, entry)) in d.mentions.iter().zip(resolved) {
            let t0 = d.toks[m.t0 as usize];
            let t1 = d.toks[m.t1 as usize - 1];
            let w = if t0.has(HEAD) {
                self.settings.headline_weight
            } else if t0.para <= 1 {
                self.settings.lead_weight
            } else {
                1.0
            };
            let ai = *by_name.entry(canon.clone()).or_insert_with(|| {
                accs.push(Acc {
                    name: canon,
                    kinds: [(0, 0); 6],
                    spans: Vec::new(),
                    score: 0.0,
                    first: t0.cs,
                    entry: None,
                });
                accs.len() - 1
            });
            let acc = &mut accs[ai];
            let ki = kind as usize;
            acc.kinds[ki].0 += 1;
            acc.kinds[ki].1 = acc.kinds[ki].1.max(strength as u8);
            acc.spans.push([t0.cs as usize, t1.ce as usize]);
            acc.score += w;
            if acc.entry.is_none() {
                acc.entry = entry;
            }
        }
        let max_score = accs.iter().map(|a| a.score).fold(0.0, f64::max);
        let mut out: Vec<(u32, Entity)> = accs
            .into_iter()
            .map(|a| {
                let mut best = 0usize;
                for k in 1..6 {
                    let (c, s) = a.kinds[k];
                    let (bc, bs) = a.kinds[best];
                    if (s, c) > (bs, bc) {
                        best = k;
                    }
                }
                let kind = [
                    EntityKind::Person,
                    EntityKind::Organization,
                    EntityKind::Location,
                    EntityKind::Group,
                    EntityKind::Event,
                    EntityKind::Other,
                ][best];
                let rel = if max_score > 0.0 {
                    a.score / max_score
                } else {
                    0.0
                };
                let abs = 1.0 - (-a.score / 4.0).exp();
                let salience = ((0.5 * rel + 0.5 * abs) * 1000.0).round() / 1000.0;
                let ids = a
                    .entry
                    .map(|e| self.gaz.entries[e as usize].ids.clone())
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

const COMMON_WORDS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/gazetteers/common_words.txt"
));

const FIRST_NAMES: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/gazetteers/first_names.txt"
));

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
