//! Training the entity model: read annotated corpora, build the same documents, runs and
//! features the stage computes at run time, and fit an averaged structured perceptron
//! (Collins 2002) with Viterbi decoding. Deterministic: a fixed seed drives the order of
//! examples and the data augmentation, and nothing depends on hash-map order or threads.
//!
//! Input format (`sentences.conll`, one file per source): `token<TAB>tag` lines, IOB2 tags
//! over PER, ORG, LOC, MISC; a blank line ends a sentence; `# doc <id>` starts a document
//! (optionally followed by a tab and a genre). See `data/ner-train/README.md`.
//!
//! Held out: a document whose FNV-1a hash of `<source>/<doc>` is 3 mod 10 is never trained
//! on; `tests/entities_eval.rs` scores exactly those documents.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::features::{FEATURE_VERSION, Featurizer};
use super::model::{self, LABELS, Model, b_of, i_of};
use super::{EntitySettings, Resources};

/// Options of one training run (`train-entities --help`).
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Corpus folders: each `sentences.conll` below them is one source.
    pub data: Vec<PathBuf>,
    /// Also read sources below a `share-alike/` folder (CC BY-SA: the model becomes CC BY-SA).
    pub share_alike: bool,
    /// Passes over the data.
    pub epochs: usize,
    /// Weight table size: `2^bits` rows.
    pub bits: u32,
    /// Seed for example order and augmentation.
    pub seed: u64,
    /// Synthesize headlines and datelines from training documents.
    pub augment: bool,
    /// Where to write the model.
    pub out: PathBuf,
    /// Model name prefix (the payload hash is appended).
    pub name: String,
    /// Update weight per source (folder name); sources not listed weigh 1.
    pub weights: Vec<(String, f32)>,
    /// Synthetic sports documents added when augmenting.
    pub sport_docs: usize,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            data: vec![PathBuf::from("data/ner-train")],
            share_alike: true,
            epochs: 8,
            bits: 17,
            seed: 12,
            augment: true,
            out: PathBuf::from("models/entities/model.bin"),
            name: format!("wiredesk-entities-f{FEATURE_VERSION}"),
            weights: Vec::new(),
            sport_docs: 1500,
        }
    }
}

/// Which types a source annotates: a source without MISC (or with only part of it) leaves
/// MISC-like names as `O`, so there the model is not punished for predicting MISC on `O`.
fn misc_is_partial(source: &str) -> bool {
    matches!(
        source,
        "btc" | "uner_en_pud" | "uner_en_ewt" | "wnut17" | "re3d"
    )
}

/// The held-out split's hash: FNV-1a, then the MurmurHash3 finalizer (FNV's low digits
/// alone are poorly spread).
pub fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ceb9fe1a85ec53);
    h ^ (h >> 33)
}

/// True for the documents kept out of training (`<source>/<doc>`).
pub fn is_held_out(source: &str, doc: &str) -> bool {
    fnv1a(&format!("{source}/{doc}")) % 10 == 3
}

/// One annotated document as text.
struct TextDoc {
    text: String,
    title_chars: usize,
    /// Gold entities: char start, char end, type index (0 PER, 1 ORG, 2 LOC, 3 MISC).
    gold: Vec<(usize, usize, usize)>,
    partial_misc: bool,
    weight: f32,
}

fn type_index(t: &str) -> Option<usize> {
    model::TYPES.iter().position(|x| *x == t)
}

fn no_space_before(t: &str) -> bool {
    matches!(
        t,
        "." | ","
            | ";"
            | ":"
            | "!"
            | "?"
            | ")"
            | "]"
            | "}"
            | "%"
            | "'s"
            | "'"
            | "n't"
            | "'re"
            | "'ve"
            | "'ll"
            | "'d"
            | "'m"
            | "\u{2019}s"
    )
}

/// Sentences of one document: tokens and tags.
type Sentences = Vec<Vec<(String, String)>>;

/// Long documents are cut into units of this many sentences, named `<doc>#<n>`: the
/// held-out split works on units, so a corpus of a few long documents (sec_filings) still
/// has a held-out part.
const CHUNK: usize = 30;

/// Cut documents into units of [`CHUNK`] sentences.
fn chunk_docs(docs: Vec<(String, Sentences)>) -> Vec<(String, Sentences)> {
    let mut out = Vec::new();
    for (id, sents) in docs {
        for (i, c) in sents.chunks(CHUNK).enumerate() {
            out.push((format!("{id}#{i}"), c.to_vec()));
        }
    }
    out
}

/// Read one `sentences.conll`; returns (doc id, sentences) in file order.
fn read_conll(path: &Path) -> anyhow::Result<Vec<(String, Sentences)>> {
    let data =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut docs: Vec<(String, Sentences)> = Vec::new();
    let mut sent: Vec<(String, String)> = Vec::new();
    for (i, line) in data.lines().enumerate() {
        if let Some(rest) = line.strip_prefix("# doc ") {
            if !sent.is_empty()
                && let Some(d) = docs.last_mut()
            {
                d.1.push(std::mem::take(&mut sent));
            }
            let id = rest.split('\t').next().unwrap_or("").to_string();
            docs.push((id, Vec::new()));
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        if line.trim().is_empty() {
            if !sent.is_empty() {
                if docs.is_empty() {
                    docs.push((format!("line{i}"), Vec::new()));
                }
                if let Some(d) = docs.last_mut() {
                    d.1.push(std::mem::take(&mut sent));
                }
            }
            continue;
        }
        let Some((tok, tag)) = line.split_once('\t') else {
            bail!("{}:{}: expected token<TAB>tag", path.display(), i + 1);
        };
        let tag = tag.trim();
        let ok = tag == "O"
            || tag
                .split_once('-')
                .is_some_and(|(p, t)| (p == "B" || p == "I") && type_index(t).is_some());
        if !ok {
            bail!(
                "{}:{}: bad tag {tag:?} (expected O, B-X or I-X with X in PER, ORG, LOC, MISC)",
                path.display(),
                i + 1
            );
        }
        sent.push((tok.to_string(), tag.to_string()));
    }
    if !sent.is_empty() {
        if docs.is_empty() {
            docs.push(("doc".to_string(), Vec::new()));
        }
        if let Some(d) = docs.last_mut() {
            d.1.push(sent);
        }
    }
    Ok(docs)
}

/// Deterministic pseudo-random numbers (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// News agencies for synthetic datelines.
const AGENCIES: &[&str] = &[
    "Reuters",
    "AP",
    "AFP",
    "Bloomberg",
    "dpa",
    "Xinhua",
    "Kyodo",
    "Yonhap",
    "ANSA",
    "EFE",
    "PTI",
    "Anadolu",
    "TASS",
    "Interfax",
    "UPI",
    "AAP",
    "PA",
    "CP",
    "Bernama",
    "NTB",
];

const MONTHS: &[&str] = &[
    "Jan", "Feb", "March", "April", "May", "June", "July", "Aug", "Sept", "Oct", "Nov", "Dec",
];

/// Title-case a headline in place: capitalise the first letter of every word longer than
/// three letters and of the first word (only where that keeps the char count).
fn title_case_headline(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, w) in s.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let mut cs = w.chars();
        match cs.next() {
            Some(c) if (i == 0 || w.chars().count() > 3) && c.is_lowercase() => {
                let mut up = c.to_uppercase();
                match (up.next(), up.next()) {
                    (Some(u), None) => out.push(u),
                    _ => out.push(c),
                }
                out.extend(cs);
            }
            _ => out.push_str(w),
        }
    }
    out
}

/// Build the text of one document the way news text looks: tokens joined by spaces
/// (none before closing punctuation), a paragraph break every three sentences; optionally
/// the first sentence as a (title-cased) headline and a synthetic dateline.
fn build_doc(
    sents: &Sentences,
    partial_misc: bool,
    rng: &mut Rng,
    augment: bool,
    cities: &[String],
) -> TextDoc {
    let mut text = String::new();
    let mut len = 0usize;
    let mut gold = Vec::new();
    let mut title_chars = 0;
    let headline = augment && sents.len() >= 3 && rng.chance(25);
    let title_case = headline && rng.chance(50);
    let dateline = augment && sents.len() >= 2 && !cities.is_empty() && rng.chance(12);
    for (si, sent) in sents.iter().enumerate() {
        if si > 0 {
            let sep = if (headline && si == 1) || si.is_multiple_of(3) {
                "\n\n"
            } else {
                " "
            };
            text.push_str(sep);
            len += sep.chars().count();
        }
        if dateline && si == usize::from(headline) {
            let city = cities[rng.below(cities.len())].to_uppercase();
            let agency = AGENCIES[rng.below(AGENCIES.len())];
            gold.push((len, len + city.chars().count(), 2));
            text.push_str(&city);
            len += city.chars().count();
            if rng.chance(50) {
                let date = format!(", {} {}", MONTHS[rng.below(12)], 1 + rng.below(28));
                len += date.chars().count();
                text.push_str(&date);
            }
            text.push_str(" (");
            len += 2;
            gold.push((len, len + agency.chars().count(), 1));
            text.push_str(agency);
            len += agency.chars().count();
            text.push_str(") - ");
            len += 4;
        }
        let start_len = len;
        let sent_start = text.len();
        let mut open: Option<(usize, usize)> = None;
        for (ti, (tok, tag)) in sent.iter().enumerate() {
            if (tag == "O" || tag.starts_with("B-"))
                && let Some((s, t)) = open.take()
            {
                gold.push((s, len, t));
            }
            if ti > 0 && !no_space_before(tok) && !text.ends_with(['(', '[', '$', '#', '@']) {
                text.push(' ');
                len += 1;
            }
            let ty = tag.get(2..).and_then(type_index);
            match (tag.as_bytes().first(), ty) {
                (Some(b'B'), Some(t)) => open = Some((len, t)),
                // A stray I- without B- starts an entity.
                (Some(b'I'), Some(t)) if open.is_none() => open = Some((len, t)),
                _ => {}
            }
            text.push_str(tok);
            len += tok.chars().count();
        }
        if let Some((s, t)) = open.take() {
            gold.push((s, len, t));
        }
        if headline && si == 0 {
            title_chars = len - start_len;
            if title_case {
                let h = title_case_headline(&text[sent_start..]);
                text.truncate(sent_start);
                text.push_str(&h);
            }
        }
    }
    TextDoc {
        text,
        title_chars,
        gold,
        partial_misc,
        weight: 1.0,
    }
}

/// Sentence templates of sports copy for [`synth_sports`]. `{T}`/`{U}`: teams (ORG),
/// `{P}`: a person, `{a}`/`{b}`: scores, `{D}`: a weekday, `{C}`: a city (LOC). The genre
/// is missing from every training corpus, and team names that are also places ("Leeds",
/// "Belgium") are exactly where the model has to read the context.
const SPORT_TEMPLATES: &[&str] = &[
    "{T} beat {U} {a}-{b} on {D} .",
    "{T} {a} {U} {b}",
    "{T} drew {a}-{a} with {U} on {D} night .",
    "{T} coach {P} said his side had deserved the win .",
    "{P} scored twice as {T} won {a}-{b} at {U} .",
    "{T} were held to a {a}-{a} draw by {U} in {C} .",
    "{T} host {U} on {D} , while {P} is expected to return for the visitors .",
    "{T} moved top of the table after a {a}-{b} win over {U} .",
    "{T} lost {a}-{b} to {U} , their third defeat in a row .",
    "{U} striker {P} was sent off in the second half .",
    "{T} have signed {P} from {U} on a three-year deal .",
    "{T} manager {P} told reporters : \" We were brave . \"",
    "{T} edged {U} {a}-{b} in overtime behind {P} .",
    "{T} and {U} meet in the final in {C} on {D} .",
    "{P} gave {T} the lead before {U} equalised .",
    "Elsewhere , {T} beat {U} {a}-{b} and {T} drew with {U} .",
    "{T} fans celebrated in {C} after the {a}-{b} victory .",
    "{T} ( {a} ) v {U} ( {b} )",
    "{P} , who joined {T} last year , scored the winner .",
    "{T} face {U} in the quarter-finals .",
];

const WEEKDAYS: &[&str] = &[
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Names for [`synth_sports`].
struct SportNames {
    teams: Vec<String>,
    places: Vec<String>,
    people: Vec<String>,
}

/// Synthetic sports documents: results lines, standings and match-report sentences over
/// club names (organisation registry), countries and cities as team names, all ORG.
fn synth_sports(rng: &mut Rng, names: &SportNames, docs: usize) -> Vec<TextDoc> {
    let mut out = Vec::with_capacity(docs);
    if names.teams.is_empty() || names.places.is_empty() || names.people.is_empty() {
        return out;
    }
    for _ in 0..docs {
        let mut text = String::new();
        let mut gold = Vec::new();
        let mut len = 0usize;
        let n = 2 + rng.below(4);
        for si in 0..n {
            if si > 0 {
                text.push(' ');
                len += 1;
            }
            // A standings line now and then.
            let tpl = if rng.chance(10) {
                "{N}. {T} {a}, {b}"
            } else {
                SPORT_TEMPLATES[rng.below(SPORT_TEMPLATES.len())]
            };
            let mut first = true;
            for piece in tpl.split(' ') {
                let (word, ty): (String, Option<usize>) = match piece {
                    "{T}" | "{U}" => {
                        // Clubs, or places (cities, countries) standing for a team.
                        let name = if rng.chance(60) {
                            names.teams[rng.below(names.teams.len())].clone()
                        } else {
                            names.places[rng.below(names.places.len())].clone()
                        };
                        (name, Some(1))
                    }
                    "{P}" => (names.people[rng.below(names.people.len())].clone(), Some(0)),
                    "{C}" => (names.places[rng.below(names.places.len())].clone(), Some(2)),
                    "{D}" => (WEEKDAYS[rng.below(7)].to_string(), None),
                    "{N}." => (format!("{}.", 1 + rng.below(20)), None),
                    "{a}-{b}" => (format!("{}-{}", rng.below(5), rng.below(4)), None),
                    "{a}-{a}" => {
                        let x = rng.below(4);
                        (format!("{x}-{x}"), None)
                    }
                    "{a}" | "{b}" | "{a}," => {
                        let big = rng.chance(30);
                        let x = rng.below(if big { 130 } else { 6 });
                        let comma = if piece.ends_with(',') { "," } else { "" };
                        (format!("{x}{comma}"), None)
                    }
                    p => (p.to_string(), None),
                };
                let glue = !first && no_space_before(&word);
                if !first && !glue {
                    text.push(' ');
                    len += 1;
                }
                first = false;
                let wl = word.chars().count();
                if let Some(t) = ty {
                    gold.push((len, len + wl, t));
                }
                text.push_str(&word);
                len += wl;
            }
            if si % 2 == 1 {
                text.push('\n');
                len += 1;
            }
        }
        out.push(TextDoc {
            text,
            title_chars: 0,
            gold,
            partial_misc: false,
            weight: 1.0,
        });
    }
    out
}

/// One training example: a candidate run.
struct Example {
    /// Feature rows per token.
    feats: Vec<Vec<u32>>,
    gold: Vec<u8>,
    /// Allowed labels per token when the source leaves MISC partly unannotated.
    mask: Option<Vec<u16>>,
    /// Update weight (from the source).
    weight: f32,
}

/// Counts reported by [`train`].
#[derive(Debug, Default, Clone)]
pub struct TrainReport {
    pub sources: Vec<(String, usize, usize)>,
    pub documents: usize,
    pub examples: usize,
    pub gold_entities: usize,
    /// Gold entities that start outside every candidate run (the recall ceiling).
    pub unreachable: usize,
    pub model_name: String,
    pub model_bytes: usize,
}

fn make_examples(
    res: &Resources,
    fz: &Featurizer,
    doc: &TextDoc,
    mask: u64,
    out: &mut Vec<Example>,
    report: &mut TrainReport,
) {
    let d = res.analyze(&doc.text, doc.title_chars);
    let mut facts = fz.facts(&d);
    let mut runs = Vec::new();
    fz.runs(&d, &facts, &mut runs);
    fz.doc_context(&d, &mut facts, &runs);
    // Char -> gold entity (1-based) map, then token labels.
    let nchars = doc.text.chars().count();
    let mut ent_at = vec![0u32; nchars + 1];
    for (i, &(s, e, _)) in doc.gold.iter().enumerate() {
        for x in &mut ent_at[s.min(nchars)..e.min(nchars)] {
            *x = i as u32 + 1;
        }
    }
    let n = d.toks.len();
    let mut labels = vec![0u8; n];
    let mut prev_ent = 0;
    for (k, t) in d.toks.iter().enumerate() {
        let e = ent_at.get(t.cs as usize).copied().unwrap_or(0);
        labels[k] = if e == 0 {
            0
        } else {
            let ty = doc.gold[e as usize - 1].2;
            if e == prev_ent {
                i_of(ty) as u8
            } else {
                b_of(ty) as u8
            }
        };
        prev_ent = e;
    }
    let mut in_run = vec![false; n];
    for r in &runs {
        for x in &mut in_run[r.a as usize..r.b as usize] {
            *x = true;
        }
    }
    for k in 0..n {
        if labels[k] != 0 && model::is_inside(labels[k] as usize) {
            continue;
        }
        if labels[k] != 0 {
            report.gold_entities += 1;
            if !in_run[k] {
                report.unreachable += 1;
            }
        }
    }
    let mut feats = Vec::new();
    for &r in &runs {
        let (a, b) = (r.a as usize, r.b as usize);
        let mut ex = Example {
            feats: Vec::with_capacity(b - a),
            gold: Vec::with_capacity(b - a),
            mask: None,
            weight: doc.weight,
        };
        for (k, &label) in labels.iter().enumerate().take(b).skip(a) {
            fz.features(&d, &facts, r, k, &mut feats);
            ex.feats
                .push(feats.iter().map(|&f| (f & mask) as u32).collect());
            // A run cannot start inside an entity: the first token's I- becomes B-.
            let mut l = label as usize;
            if k == a && model::is_inside(l) {
                l -= 1;
            }
            ex.gold.push(l as u8);
        }
        if doc.partial_misc {
            let misc = 1u16 << b_of(3) | 1u16 << i_of(3);
            ex.mask = Some(
                ex.gold
                    .iter()
                    .map(|&g| if g == 0 { 1 | misc } else { 1u16 << g })
                    .collect(),
            );
        }
        out.push(ex);
    }
}

/// Team, place and person names for [`synth_sports`], from the gazetteers (ASCII names of
/// one or two words, so the templates read like wire copy).
fn sport_names(res: &Resources) -> SportNames {
    use super::gazetteer::class;
    let short = |n: &str| {
        n.is_ascii()
            && n.split(' ').count() <= 3
            && !n.contains(['(', ','])
            && n.chars().next().is_some_and(char::is_uppercase)
    };
    let mut teams = Vec::new();
    let mut places = Vec::new();
    for e in &res.gaz.entries {
        if e.class == class::CLUB && short(&e.name) {
            teams.push(e.name.clone());
        } else if (e.class == class::COUNTRY || e.class == class::CITY) && short(&e.name) {
            places.push(e.name.clone());
        }
    }
    let firsts: Vec<&str> = super::features::FIRST_NAMES
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.is_empty() && l.is_ascii())
        .collect();
    let mut people = Vec::new();
    // Surnames: given names and one-word club names double as surnames often enough.
    for (i, f) in firsts.iter().enumerate() {
        let s = firsts[(i * 7919 + 13) % firsts.len()];
        let mut sur = s.to_string();
        if let Some(c) = sur.get_mut(0..1) {
            c.make_ascii_uppercase();
        }
        let mut first = f.to_string();
        if let Some(c) = first.get_mut(0..1) {
            c.make_ascii_uppercase();
        }
        people.push(format!("{first} {sur}"));
    }
    SportNames {
        teams,
        places,
        people,
    }
}

/// Every `sentences.conll` below `dir` (sorted), skipping `share-alike/` unless asked.
fn find_sources(dir: &Path, share_alike: bool, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if !share_alike && p.file_name().is_some_and(|n| n == "share-alike") {
                continue;
            }
            find_sources(&p, share_alike, out)?;
        } else if p.file_name().is_some_and(|n| n == "sentences.conll") {
            out.push(p);
        }
    }
    Ok(())
}

/// Train a model and write it to `opts.out`. Progress goes to `log`.
pub fn train(opts: &TrainOptions, log: &mut dyn Write) -> anyhow::Result<TrainReport> {
    let res = Resources::new(&EntitySettings::default())?;
    let fz = res.featurizer();
    let cities: Vec<String> = res
        .gaz
        .entries
        .iter()
        .filter(|e| e.class == super::gazetteer::class::CITY && e.name.is_ascii())
        .map(|e| e.name.clone())
        .collect();
    let mut files = Vec::new();
    for d in &opts.data {
        if d.is_file() {
            files.push(d.clone());
        } else {
            find_sources(d, opts.share_alike, &mut files)?;
        }
    }
    if files.is_empty() {
        bail!("no sentences.conll found in {:?}", opts.data);
    }
    let mut rng = Rng(opts.seed.wrapping_mul(0x9E3779B97F4A7C15) | 1);
    let mask = (1u64 << opts.bits) - 1;
    let mut report = TrainReport::default();
    let mut examples = Vec::new();
    for f in &files {
        let source = f
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "user".to_string());
        let docs = chunk_docs(read_conll(f)?);
        let (mut used, mut held) = (0, 0);
        for (doc_id, sents) in &docs {
            if is_held_out(&source, doc_id) {
                held += 1;
                continue;
            }
            used += 1;
            let mut td = build_doc(
                sents,
                misc_is_partial(&source),
                &mut rng,
                opts.augment,
                &cities,
            );
            td.weight = opts
                .weights
                .iter()
                .find(|(s, _)| *s == source)
                .map_or(1.0, |(_, w)| *w);
            make_examples(&res, &fz, &td, mask, &mut examples, &mut report);
        }
        writeln!(log, "{source}: {used} documents (held out: {held})")?;
        report.sources.push((source, used, held));
        report.documents += used;
    }
    if opts.augment {
        let names = sport_names(&res);
        let docs = synth_sports(&mut rng, &names, opts.sport_docs);
        for td in &docs {
            make_examples(&res, &fz, td, mask, &mut examples, &mut report);
        }
        writeln!(log, "synthetic sports: {} documents", docs.len())?;
    }
    report.examples = examples.len();
    writeln!(
        log,
        "{} documents, {} runs, {} gold entities ({} start outside any run)",
        report.documents, report.examples, report.gold_entities, report.unreachable
    )?;
    let size = 1usize << opts.bits;
    let mut w = vec![[0f32; LABELS]; size];
    let mut u = vec![[0f32; LABELS]; size];
    let mut tw = [[0f32; LABELS]; LABELS];
    let mut tu = [[0f32; LABELS]; LABELS];
    let mut c: f32 = 1.0;
    let mut order: Vec<usize> = (0..examples.len()).collect();
    let mut em: Vec<[f32; LABELS]> = Vec::new();
    let mut pred = Vec::new();
    let mut gold_path = Vec::new();
    for epoch in 0..opts.epochs {
        for i in (1..order.len()).rev() {
            let j = rng.below(i + 1);
            order.swap(i, j);
        }
        let mut errors = 0usize;
        for &ei in &order {
            let ex = &examples[ei];
            em.clear();
            for fs in &ex.feats {
                let mut s = [0f32; LABELS];
                for &f in fs {
                    let row = &w[f as usize];
                    for l in 0..LABELS {
                        s[l] += row[l];
                    }
                }
                em.push(s);
            }
            model::viterbi(&em, &tw, None, &mut pred);
            let gold: &[u8] = match &ex.mask {
                Some(m) => {
                    model::viterbi(&em, &tw, Some(m), &mut gold_path);
                    &gold_path
                }
                None => &ex.gold,
            };
            if pred == gold {
                c += 1.0;
                continue;
            }
            errors += 1;
            let wt = ex.weight;
            for (k, fs) in ex.feats.iter().enumerate() {
                let (g, p) = (gold[k] as usize, pred[k] as usize);
                if g != p {
                    for &f in fs {
                        let f = f as usize;
                        w[f][g] += wt;
                        w[f][p] -= wt;
                        u[f][g] += c * wt;
                        u[f][p] -= c * wt;
                    }
                }
                let (gp, pp) = if k == 0 {
                    (0, 0)
                } else {
                    (gold[k - 1] as usize, pred[k - 1] as usize)
                };
                if (gp, g) != (pp, p) {
                    tw[gp][g] += wt;
                    tw[pp][p] -= wt;
                    tu[gp][g] += c * wt;
                    tu[pp][p] -= c * wt;
                }
            }
            c += 1.0;
        }
        writeln!(
            log,
            "epoch {}: {errors} of {} runs wrong",
            epoch + 1,
            order.len()
        )?;
    }
    // Averaged weights: w - u / c.
    for (row, acc) in w.iter_mut().zip(&u) {
        for l in 0..LABELS {
            row[l] -= acc[l] / c;
        }
    }
    for (row, acc) in tw.iter_mut().zip(&tu) {
        for l in 0..LABELS {
            row[l] -= acc[l] / c;
        }
    }
    let bytes = Model::to_bytes(&opts.name, opts.bits, &w, &tw);
    let model = Model::from_bytes(&bytes).context("re-reading the trained model")?;
    if let Some(dir) = opts.out.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&opts.out, &bytes).with_context(|| format!("writing {}", opts.out.display()))?;
    report.model_name = model.name().to_string();
    report.model_bytes = bytes.len();
    writeln!(
        log,
        "wrote {} ({} bytes, model {})",
        opts.out.display(),
        bytes.len(),
        model.name()
    )?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_keep_gold_spans_on_their_text() {
        let sents: Sentences = vec![
            vec![
                ("Leeds".into(), "B-ORG".into()),
                ("beat".into(), "O".into()),
                ("Burnley".into(), "B-ORG".into()),
                (".".into(), "O".into()),
            ],
            vec![
                ("Daniel".into(), "B-PER".into()),
                ("Farke".into(), "I-PER".into()),
                ("said".into(), "O".into()),
                ("so".into(), "O".into()),
                (".".into(), "O".into()),
            ],
        ];
        let mut rng = Rng(7);
        let d = build_doc(&sents, false, &mut rng, false, &[]);
        assert_eq!(d.text, "Leeds beat Burnley. Daniel Farke said so.");
        let chars: Vec<char> = d.text.chars().collect();
        let got: Vec<String> = d
            .gold
            .iter()
            .map(|&(s, e, _)| chars[s..e].iter().collect())
            .collect();
        assert_eq!(got, ["Leeds", "Burnley", "Daniel Farke"]);
    }

    #[test]
    fn held_out_split_is_about_a_tenth() {
        let n = (0..10_000)
            .filter(|i| is_held_out("src", &format!("d{i}")))
            .count();
        assert!((800..1200).contains(&n), "{n}");
    }

    #[test]
    fn bad_tags_are_reported_with_their_line() {
        let dir = std::env::temp_dir().join(format!("wiredesk-train-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("sentences.conll");
        std::fs::write(&p, "# doc a\nParis\tB-LOC\nis\tO\n\nRome\tB-CITY\n").unwrap();
        let err = read_conll(&p).unwrap_err().to_string();
        assert!(err.contains(":5:") && err.contains("B-CITY"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
