//! Features of a token inside a candidate run, for the entity model.
//!
//! Every feature is a 64-bit hash of a template id and a value (a word, a shape, a
//! gazetteer class, ...); the model maps it to a row of its weight table. Nothing here
//! allocates per token. Changing what a template means, or adding one, is a new
//! [`FEATURE_VERSION`]: a model trained on other features is refused at load.

use super::Doc;
use super::gazetteer::Gazetteer;
use super::tokenize::*;
use super::words;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Version of the feature set. Stored in the model file; a mismatch is a load error.
pub(crate) const FEATURE_VERSION: u32 = 1;

/// A hasher for keys that are already hashes (token hashes): no re-hashing.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x100000001b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

pub(crate) type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;
pub(crate) type IdSet = std::collections::HashSet<u64, BuildHasherDefault<IdHasher>>;

/// Word-list membership bits ([`Lexicon`]).
pub(crate) mod lex {
    pub const FIRST_NAME: u32 = 1 << 0;
    pub const DICT: u32 = 1 << 1;
    pub const COMMON: u32 = 1 << 2;
    pub const TITLE: u32 = 1 << 3;
    pub const ORG_SUFFIX: u32 = 1 << 4;
    pub const LOC_SUFFIX: u32 = 1 << 5;
    pub const EVENT_SUFFIX: u32 = 1 << 6;
    pub const ROLE: u32 = 1 << 7;
    pub const COMPASS: u32 = 1 << 8;
    pub const PARTICLE: u32 = 1 << 9;
    pub const NEVER: u32 = 1 << 10;
    pub const SAID: u32 = 1 << 11;
    pub const LOC_PREP: u32 = 1 << 12;
    pub const ORG_NOUN: u32 = 1 << 13;
    pub const PERSON_NOUN: u32 = 1 << 14;
    pub const DETERMINER: u32 = 1 << 15;
    pub const NOT_ACRONYM: u32 = 1 << 16;
    pub const PLACE_OF: u32 = 1 << 17;
    pub const OF_HEAD: u32 = 1 << 18;
    pub const SPORT: u32 = 1 << 19;
    pub const MARKET: u32 = 1 << 20;
    pub const ABBREV: u32 = 1 << 21;
    pub const HYPHEN_STOP: u32 = 1 << 22;
}

/// The hand-written word lists and name lists, as one map from a word's hash to the lists it
/// is on. They are features: the model learns how much each list means where.
pub(crate) struct Lexicon {
    map: IdMap<u32>,
}

pub(crate) const FIRST_NAMES: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/gazetteers/first_names.txt"
));

const COMMON_WORDS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/gazetteers/common_words.txt"
));

impl Lexicon {
    pub fn new() -> Self {
        let mut map: IdMap<u32> = IdMap::default();
        let mut add = |words: &str, bit: u32| {
            for w in words.split_whitespace() {
                *map.entry(hash_lower(w)).or_insert(0) |= bit;
            }
        };
        let lines = |s: &'static str| {
            s.lines()
                .map(str::trim)
                .filter(|l| !l.starts_with('#') && !l.is_empty())
        };
        for l in lines(FIRST_NAMES) {
            add(l, lex::FIRST_NAME);
        }
        for l in lines(COMMON_WORDS) {
            add(l, lex::DICT);
        }
        add(words::COMMON, lex::COMMON);
        add(words::TITLES, lex::TITLE);
        add(words::ORG_SUFFIX, lex::ORG_SUFFIX);
        add(words::LOC_SUFFIX, lex::LOC_SUFFIX);
        add(words::EVENT_SUFFIX, lex::EVENT_SUFFIX);
        add(words::ROLE_DOMAINS, lex::ROLE);
        add(words::COMPASS, lex::COMPASS);
        add(words::PARTICLES, lex::PARTICLE);
        add(words::NEVER, lex::NEVER);
        add(words::SAID, lex::SAID);
        add(words::LOC_PREP, lex::LOC_PREP);
        add(words::ORG_NOUNS, lex::ORG_NOUN);
        add(words::PERSON_NOUNS, lex::PERSON_NOUN);
        add(words::DETERMINERS, lex::DETERMINER);
        add(words::NOT_ACRONYMS, lex::NOT_ACRONYM);
        add(words::PLACE_OF, lex::PLACE_OF);
        add(words::OF_HEADS, lex::OF_HEAD);
        add(words::SPORT_CUES, lex::SPORT);
        add(words::MARKET_CUES, lex::MARKET);
        add(words::ABBREV, lex::ABBREV);
        add(words::HYPHEN_STOP, lex::HYPHEN_STOP);
        Self { map }
    }

    #[inline]
    pub fn bits(&self, h: u64) -> u32 {
        if h == 0 {
            return 0;
        }
        self.map.get(&h).copied().unwrap_or(0)
    }
}

#[inline]
fn mix(a: u64, b: u64) -> u64 {
    let mut h = (a ^ b.rotate_left(29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^= h >> 31;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^ (h >> 29)
}

#[inline]
fn f1(t: u64, a: u64) -> u64 {
    mix(t.wrapping_mul(0xD6E8_FEB8_6659_FD93), a)
}

#[inline]
fn f2(t: u64, a: u64, b: u64) -> u64 {
    mix(f1(t, a), b)
}

/// Template ids. Never renumber without bumping [`FEATURE_VERSION`].
mod t {
    pub const BIAS: u64 = 1;
    pub const WORD: u64 = 2;
    pub const SHAPE: u64 = 3;
    pub const PRE3: u64 = 4;
    pub const SUF3: u64 = 5;
    pub const PREV: u64 = 7;
    pub const NEXT: u64 = 8;
    pub const PREV2: u64 = 9;
    pub const NEXT2: u64 = 10;
    pub const PREV_SHAPE: u64 = 11;
    pub const NEXT_SHAPE: u64 = 12;
    pub const PREV_WORD: u64 = 13;
    pub const WORD_NEXT: u64 = 14;
    pub const CASE: u64 = 15;
    pub const DOC_CASE: u64 = 16;
    pub const RUN_POS: u64 = 17;
    pub const RUN_BEFORE: u64 = 18;
    pub const RUN_AFTER: u64 = 19;
    pub const RUN_BEFORE2: u64 = 20;
    pub const RUN_FIRST: u64 = 21;
    pub const RUN_LAST: u64 = 22;
    pub const LEX: u64 = 23;
    pub const PREV_LEX: u64 = 24;
    pub const NEXT_LEX: u64 = 25;
    pub const RUN_BEFORE_LEX: u64 = 26;
    pub const RUN_AFTER_LEX: u64 = 27;
    pub const RUN_LAST_LEX: u64 = 28;
    pub const GAZ: u64 = 29;
    pub const GAZ_SET: u64 = 30;
    pub const LINE: u64 = 31;
    pub const DATELINE: u64 = 32;
    pub const HEAD_ZONE: u64 = 33;
    pub const RUN_ACRONYM: u64 = 34;
    pub const WORD_RUN_AFTER: u64 = 35;
    pub const RUN_BEFORE_WORD: u64 = 36;
    pub const RUN_AFTER2: u64 = 37;
    pub const PAIR_LEX: u64 = 38;
    pub const GAZ_EDGE: u64 = 39;
    pub const GAZ_BEFORE: u64 = 40;
    pub const GAZ_AFTER: u64 = 41;
    pub const DOC_PREV: u64 = 42;
    pub const DOC_NEXT: u64 = 43;
    pub const DOC_RUN: u64 = 44;
}

const BOS: u64 = 0xB05;
const EOS: u64 = 0xE05;

/// Hash of a token's word for context features: the lower-cased word, a number by its
/// shape, punctuation by its text.
#[inline]
pub(crate) fn word_id(d: &Doc, k: usize) -> u64 {
    let tk = &d.toks[k];
    if tk.has(DIGIT) {
        return mix(0xD161, shape(d.text_of(k)));
    }
    if tk.hash != 0 {
        return tk.hash;
    }
    hash_lower(d.text_of(k))
}

/// Shape hash: X for upper, x for lower, d for digit, other chars as is; repeats collapsed,
/// at most 8 symbols.
pub(crate) fn shape(s: &str) -> u64 {
    let mut h: u64 = 0x5A9E;
    let mut last = '\0';
    let mut n = 0;
    for c in s.chars() {
        let x = if c.is_uppercase() {
            'X'
        } else if c.is_lowercase() {
            'x'
        } else if c.is_numeric() {
            'd'
        } else {
            c
        };
        if x != last {
            h = mix(h, x as u64);
            last = x;
            n += 1;
            if n >= 8 {
                break;
            }
        }
    }
    h
}

/// Hashes of the lower-cased first three and last three chars.
fn affixes(s: &str) -> (u64, u64) {
    let mut pre: u64 = 0x9E;
    for c in s.chars().take(3) {
        pre = mix(pre, lower(c) as u64);
    }
    let mut suf: u64 = 0x53;
    for c in s.chars().rev().take(3) {
        suf = mix(suf, lower(c) as u64);
    }
    (pre, suf)
}

#[inline]
fn lower(c: char) -> char {
    if c.is_ascii() {
        c.to_ascii_lowercase()
    } else {
        c.to_lowercase().next().unwrap_or(c)
    }
}

/// A candidate run `[a, b)` of tokens the model labels; everything outside runs is `O`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Run {
    pub a: u32,
    pub b: u32,
}

/// Longest run the model labels in one piece (title-case headlines make long runs).
const MAX_RUN: usize = 32;

/// `v` with `n` copies of `x`, in its own allocation.
pub(crate) fn refill<T: Clone>(v: &mut Vec<T>, n: usize, x: T) {
    v.clear();
    v.resize(n, x);
}

/// Per-document, per-token facts the features read; filled once per call.
#[derive(Default)]
pub(crate) struct Facts {
    /// Lexicon bits per token.
    pub lex: Vec<u32>,
    /// Word id per token ([`word_id`]).
    pub wid: Vec<u64>,
    /// Shape hash per token in or next to a run (0 elsewhere).
    pub shape: Vec<u64>,
    /// Per token: 0, 1 = city part of a dateline, 2 = agency in its brackets.
    pub dateline: Vec<u8>,
    /// Per token: digit tokens on its line (capped at 7).
    pub line_digits: Vec<u8>,
    /// Per token: what the article says around the same word elsewhere ([`DocWord`]).
    pub doc: Vec<DocWord>,
    /// Working sets of [`Featurizer::doc_context`], kept for their allocations.
    words: IdMap<DocWord>,
    seen: IdSet,
}

/// Context of all occurrences of one capitalised word in an article: the word lists of the
/// words before and after it, and the runs it is part of. Lets one mention borrow the
/// evidence of the others ("Paris said" types "Valeska Paris" and the bare "Paris").
#[derive(Clone, Copy, Default)]
pub(crate) struct DocWord {
    pub prev: u32,
    pub next: u32,
    /// Bit 0: in a run of two or more words starting with a given name; bit 1: in a
    /// one-word run; bit 2: last word of a longer run; bit 3: seen more than once.
    pub runs: u8,
}

/// Word-list bits that carry context across an article.
const DOC_SEL: u32 = lex::TITLE
    | lex::SAID
    | lex::LOC_PREP
    | lex::SPORT
    | lex::MARKET
    | lex::ORG_NOUN
    | lex::PERSON_NOUN
    | lex::ORG_SUFFIX
    | lex::LOC_SUFFIX
    | lex::DETERMINER;

pub(crate) struct Featurizer<'g> {
    pub gaz: &'g Gazetteer,
    pub lex: &'g Lexicon,
}

impl Featurizer<'_> {
    /// A token that can be (part of) a name: a capitalised word or a gazetteer match.
    #[inline]
    fn name_like(&self, d: &Doc, k: usize) -> bool {
        let t = &d.toks[k];
        (t.has(WORD) && t.has(CAP)) || d.gaz_in[k] != 0
    }

    /// A token that may join two name-like tokens inside a run.
    fn connector(&self, d: &Doc, facts: &Facts, k: usize) -> bool {
        let t = &d.toks[k];
        if t.has(WORD) {
            if t.has(CAP) || t.has(DIGIT) {
                return false;
            }
            let l = facts.lex[k];
            return l & lex::PARTICLE != 0
                || t.hash == d.h.of
                || t.hash == d.h.and
                || t.hash == d.h.the
                || t.hash == d.h.for_
                || t.hash == d.h.on;
        }
        let s = d.text_of(k);
        matches!(
            s,
            "&" | "-" | "\u{2010}" | "'s" | "\u{2019}s" | "." | "/" | "'"
        )
    }

    /// Candidate runs: a name-like token, extended over name-like tokens, connectors
    /// followed by a name-like token, a hyphen-glued word and one number.
    pub fn runs(&self, d: &Doc, facts: &Facts, out: &mut Vec<Run>) {
        out.clear();
        let n = d.toks.len();
        let mut i = 0;
        while i < n {
            if !self.name_like(d, i) {
                i += 1;
                continue;
            }
            let a = i;
            let mut b = i + 1;
            let mut digits = 0;
            while b < n && b - a < MAX_RUN {
                let tb = &d.toks[b];
                // A line break always ends a run; a sentence start does too, except in a
                // title-case zone, where every word looks like one.
                if tb.has(NEWLINE) || (tb.has(SENT) && !d.toks[a].has(TZONE)) {
                    break;
                }
                if self.name_like(d, b) {
                    b += 1;
                    continue;
                }
                // Hyphen-glued word: "Wong Kwok-kin", "Georgia-based".
                if !tb.has(WORD)
                    && !tb.has(SPACE)
                    && matches!(d.text_of(b), "-" | "\u{2010}")
                    && b + 1 < n
                    && d.toks[b + 1].has(WORD)
                    && !d.toks[b + 1].has(SPACE)
                {
                    b += 2;
                    continue;
                }
                if tb.has(DIGIT) && digits == 0 {
                    digits += 1;
                    b += 1;
                    continue;
                }
                if self.connector(d, facts, b) {
                    let mut k = b + 1;
                    if k < n && !self.name_like(d, k) && self.connector(d, facts, k) {
                        k += 1;
                    }
                    if k < n && self.name_like(d, k) && !d.toks[k].has(SENT) {
                        b = k + 1;
                        continue;
                    }
                }
                break;
            }
            out.push(Run {
                a: a as u32,
                b: b as u32,
            });
            i = b;
        }
    }

    /// Per-token facts for the features.
    pub fn facts(&self, d: &Doc) -> Facts {
        self.facts_in(d, Facts::default())
    }

    /// [`Featurizer::facts`] in the buffers of `f` (a previous call's, see `Scratch`).
    pub fn facts_in(&self, d: &Doc, mut f: Facts) -> Facts {
        let n = d.toks.len();
        f.lex.clear();
        f.wid.clear();
        f.lex.reserve(n);
        f.wid.reserve(n);
        refill(&mut f.shape, n, 0);
        refill(&mut f.dateline, n, 0);
        refill(&mut f.line_digits, n, 0);
        f.doc.clear();
        for (k, t) in d.toks.iter().enumerate() {
            f.lex.push(self.lex.bits(t.hash));
            f.wid.push(word_id(d, k));
        }
        // Lines: digit counts and datelines ("LONDON, Dec 1 (Reuters) -").
        let mut s = 0;
        while s < n {
            let mut e = s + 1;
            while e < n && !d.toks[e].has(NEWLINE) {
                e += 1;
            }
            let digits = d.toks[s..e].iter().filter(|t| t.has(DIGIT)).count().min(7) as u8;
            for x in &mut f.line_digits[s..e] {
                *x = digits;
            }
            let first = &d.toks[s];
            if first.has(ALLCAPS) && !first.has(HEAD) && !first.has(UPZONE) {
                let mut k = s;
                while k < e && k < s + 6 && (d.toks[k].has(ALLCAPS) || d.text_of(k) == "/") {
                    k += 1;
                }
                let city_end = k;
                // Optional ", Month Day" or ", Country".
                let mut j = k;
                while j < e && j < k + 6 && d.text_of(j) != "(" && !is_dash(d.text_of(j)) {
                    j += 1;
                }
                if j < e && (d.text_of(j) == "(" || is_dash(d.text_of(j))) {
                    for x in &mut f.dateline[s..city_end] {
                        *x = 1;
                    }
                    if d.text_of(j) == "(" {
                        let mut c = j + 1;
                        while c < e && c < j + 8 && d.text_of(c) != ")" {
                            c += 1;
                        }
                        if c < e && d.text_of(c) == ")" {
                            for x in &mut f.dateline[j + 1..c] {
                                *x = 2;
                            }
                        }
                    }
                }
            }
            s = e;
        }
        f
    }

    /// Fill [`Facts::doc`] and the shapes of the tokens in and next to runs (the only ones
    /// features read) once the runs are known.
    pub fn doc_context(&self, d: &Doc, facts: &mut Facts, runs: &[Run]) {
        let n = d.toks.len();
        for r in runs {
            let (a, b) = ((r.a as usize).saturating_sub(1), (r.b as usize + 1).min(n));
            for k in a..b {
                if facts.shape[k] == 0 {
                    facts.shape[k] = shape(d.text_of(k));
                }
            }
        }
        let mut words = std::mem::take(&mut facts.words);
        let mut seen = std::mem::take(&mut facts.seen);
        words.clear();
        seen.clear();
        for r in runs {
            let (a, b) = (r.a as usize, r.b as usize);
            let nwords = d.toks[a..b].iter().filter(|t| t.has(WORD)).count();
            let given = facts.lex[a] & lex::FIRST_NAME != 0 && nwords >= 2;
            let prev = if a > 0 { facts.lex[a - 1] & DOC_SEL } else { 0 };
            let next = if b < n { facts.lex[b] & DOC_SEL } else { 0 };
            let mut last = b - 1;
            while last > a && !d.toks[last].has(WORD) {
                last -= 1;
            }
            for k in a..b {
                let t = &d.toks[k];
                if !t.has(WORD) || !t.has(CAP) || t.has(DIGIT) {
                    continue;
                }
                let w = words.entry(t.hash).or_default();
                if !seen.insert(t.hash) {
                    w.runs |= 8;
                }
                if k == a {
                    w.prev |= prev;
                }
                if k == last {
                    w.next |= next;
                }
                if given {
                    w.runs |= 1;
                }
                if nwords == 1 {
                    w.runs |= 2;
                } else if k == last {
                    w.runs |= 4;
                }
            }
        }
        facts.doc.clear();
        facts.doc.extend(d.toks.iter().map(|t| {
            if t.has(WORD) && t.has(CAP) {
                words.get(&t.hash).copied().unwrap_or_default()
            } else {
                DocWord::default()
            }
        }));
        facts.words = words;
        facts.seen = seen;
    }

    /// Push the feature hashes of token `k` of run `r` into `out` (cleared first).
    pub fn features(&self, d: &Doc, facts: &Facts, r: Run, k: usize, out: &mut Vec<u64>) {
        out.clear();
        let n = d.toks.len();
        let (a, b) = (r.a as usize, r.b as usize);
        let tk = &d.toks[k];
        let w = facts.wid[k];
        let at = |i: isize| -> (u64, u64, u32) {
            if i < 0 {
                (BOS, BOS, 0)
            } else if i as usize >= n {
                (EOS, EOS, 0)
            } else {
                let i = i as usize;
                (facts.wid[i], facts.shape[i], facts.lex[i])
            }
        };
        let ki = k as isize;
        let (p1, p1s, p1l) = at(ki - 1);
        let (n1, n1s, n1l) = at(ki + 1);
        let (p2, _, _) = at(ki - 2);
        let (n2, _, _) = at(ki + 2);
        out.push(f1(t::BIAS, 0));
        out.push(f1(t::WORD, w));
        out.push(f1(t::SHAPE, facts.shape[k]));
        if tk.has(WORD) && !tk.has(DIGIT) {
            let (pre, s3) = affixes(d.text_of(k));
            out.push(f1(t::PRE3, pre));
            out.push(f1(t::SUF3, s3));
        }
        out.push(f1(t::PREV, p1));
        out.push(f1(t::NEXT, n1));
        out.push(f1(t::PREV2, p2));
        out.push(f1(t::NEXT2, n2));
        out.push(f2(t::PREV_SHAPE, p1s, facts.shape[k]));
        out.push(f2(t::NEXT_SHAPE, n1s, facts.shape[k]));
        out.push(f2(t::PREV_WORD, p1, w));
        out.push(f2(t::WORD_NEXT, w, n1));
        let case = (tk.flags & (CAP | ALLCAPS | SENT | TZONE | UPZONE | DOTTED)) as u64;
        out.push(f1(t::CASE, case));
        out.push(f1(
            t::HEAD_ZONE,
            (tk.flags & (HEAD | NEWLINE | TZONE)) as u64,
        ));
        if tk.has(WORD) && !tk.has(DIGIT) {
            let cm = d.cap_mid.contains(&tk.hash) as u64;
            let ls = d.lower_seen.contains(&tk.hash) as u64;
            let zone = (tk.has(SENT) || tk.has(TZONE)) as u64;
            out.push(f1(t::DOC_CASE, cm | ls << 1 | zone << 2));
        }
        // Position in the run and its length.
        let len = (b - a).min(5) as u64;
        let pos = if b - a == 1 {
            0
        } else if k == a {
            1
        } else if k + 1 == b {
            2
        } else {
            3
        };
        out.push(f1(t::RUN_POS, pos | len << 2));
        let (rb, _, rbl) = at(a as isize - 1);
        let (rb2, _, _) = at(a as isize - 2);
        let (ra, _, ral) = at(b as isize);
        let (ra2, _, _) = at(b as isize + 1);
        out.push(f1(t::RUN_BEFORE, rb));
        out.push(f1(t::RUN_AFTER, ra));
        out.push(f2(t::RUN_BEFORE2, rb2, rb));
        out.push(f2(t::RUN_AFTER2, ra, ra2));
        out.push(f2(t::RUN_BEFORE_WORD, rb, w));
        out.push(f2(t::WORD_RUN_AFTER, w, ra));
        out.push(f1(t::RUN_FIRST, facts.wid[a]));
        let mut last = b - 1;
        while last > a && !d.toks[last].has(WORD) {
            last -= 1;
        }
        out.push(f1(t::RUN_LAST, facts.wid[last]));
        push_bits(out, t::LEX, facts.lex[k]);
        push_bits(out, t::PREV_LEX, p1l);
        push_bits(out, t::NEXT_LEX, n1l);
        if k != a {
            push_bits(out, t::RUN_BEFORE_LEX, rbl);
        }
        if k + 1 != b {
            push_bits(out, t::RUN_AFTER_LEX, ral);
        }
        push_bits(
            out,
            t::RUN_LAST_LEX,
            facts.lex[last] & !(lex::DICT | lex::COMMON),
        );
        // Word-list pair with the previous token ("Council ... Enver": an organization
        // suffix then a given name starts a new name).
        const SEL: u32 = lex::FIRST_NAME
            | lex::TITLE
            | lex::ORG_SUFFIX
            | lex::LOC_SUFFIX
            | lex::DICT
            | lex::COMMON
            | lex::ROLE;
        out.push(f2(
            t::PAIR_LEX,
            (p1l & SEL) as u64,
            (facts.lex[k] & SEL) as u64,
        ));
        // Gazetteer match edges: the previous token ends a match, this one is outside it.
        if k > 0 {
            let (pg, cg) = (d.gaz_in[k - 1] != 0, d.gaz_in[k] != 0);
            let same = pg && cg && d.gaz_span(k - 1).0 == d.gaz_span(k).0;
            out.push(f2(t::GAZ_EDGE, pg as u64 | (cg as u64) << 1, same as u64));
        }
        // Gazetteer match covering this token.
        let g = d.gaz_in[k];
        if g != 0 {
            let p = g - 1;
            let (s, e) = d.gaz_span(k);
            let gpos = if e - s == 1 {
                0
            } else if k == s {
                1
            } else if k + 1 == e {
                2
            } else {
                3
            };
            let exact = (s == a && e == b) as u64;
            let classes = self
                .gaz
                .pattern_classes
                .get(p as usize)
                .copied()
                .unwrap_or(0);
            for c in 0..16u64 {
                if classes & (1 << c) != 0 {
                    out.push(f2(t::GAZ, c, gpos | exact << 2));
                }
            }
            out.push(f2(t::GAZ_SET, classes as u64, gpos));
            // The list kinds with the words around the run ("beat" + a city: a team).
            out.push(f2(t::GAZ_BEFORE, classes as u64, rb));
            out.push(f2(t::GAZ_AFTER, classes as u64, ra));
        }
        if let Some(dw) = facts.doc.get(k) {
            push_bits(out, t::DOC_PREV, dw.prev);
            push_bits(out, t::DOC_NEXT, dw.next);
            out.push(f2(t::DOC_RUN, dw.runs as u64, pos));
        }
        out.push(f2(t::LINE, facts.line_digits[k] as u64, pos));
        if facts.dateline[k] != 0 {
            out.push(f2(t::DATELINE, facts.dateline[k] as u64, pos));
        }
        // "World Trade Organization (WTO)".
        if b + 2 < n && d.text_of(b) == "(" && d.toks[b + 1].has(ALLCAPS) && d.text_of(b + 2) == ")"
        {
            out.push(f1(t::RUN_ACRONYM, pos));
        }
    }
}

fn is_dash(s: &str) -> bool {
    matches!(s, "-" | "\u{2013}" | "\u{2014}")
}

fn push_bits(out: &mut Vec<u64>, tid: u64, bits: u32) {
    let mut b = bits;
    while b != 0 {
        let i = b.trailing_zeros();
        out.push(f2(tid, i as u64, 0));
        b &= b - 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_collapse_repeats() {
        assert_eq!(shape("Apple"), shape("Xerox"));
        assert_ne!(shape("Apple"), shape("APPLE"));
        assert_eq!(shape("U.S."), shape("U.K."));
        assert_eq!(shape("2-1"), shape("10-12"));
    }

    #[test]
    fn affixes_of_short_words() {
        let (p, s3) = affixes("FC");
        let (p2, s32) = affixes("fc");
        assert_eq!((p, s3), (p2, s32));
    }
}
