//! Features of the topic model: hashed words, word pairs, character trigrams of rare words and
//! organisation kinds, computed the same way at training time and at run time.
//!
//! Nothing here allocates per word: a token is hashed while it is lower-cased, and a feature is a
//! 32-bit hash handed to a callback. Only the first [`MAX_TOKENS`] tokens are read, so the cost of
//! an article is bounded whatever its length (agency copy puts the subject in the headline and the
//! lead; see docs/tags.md).

/// Tokens of the text read by the model (headline first). 160 covers the headline and the lead
/// paragraphs of a long article, and all of a brief (what the model is trained on); on long
/// articles the phrase rules carry the score anyway (`model_full_weight_words`), so reading
/// further would cost time for little.
pub const MAX_TOKENS: usize = 160;

/// Words shorter than this (in bytes) never get character trigrams.
const MIN_RARE_LEN: usize = 5;
/// Words longer than this are cut for trigrams (URLs, hashes).
const MAX_WORD_BYTES: usize = 40;

// Seeds that keep the feature families apart in the one 32-bit space.
const SEED_WORD: u32 = 0x811c_9dc5;
const SEED_TITLE: u32 = 0x9e37_79b9;
const SEED_PAIR: u32 = 0x85eb_ca6b;
const SEED_TRIGRAM: u32 = 0xc2b2_ae35;
const SEED_PREFIX: u32 = 0x61c8_8647;
/// Words at least this long also give their first [`PREFIX_LEN`] bytes as a feature: a crude
/// stem that joins "flooding", "floods", "flooded".
const MIN_PREFIX_WORD: usize = 6;
const PREFIX_LEN: usize = 5;
const SEED_ORG: u32 = 0x27d4_eb2f;
const SEED_LOOKUP: u32 = 0x1656_67b1;
const SEED_RULE: u32 = 0xd3a2_646c;

/// The feature key of a taxonomy tag's rule score (the rules' reading is a model feature).
pub fn rule_feature(tag_id: &str) -> u32 {
    mix(SEED_RULE, fnv(SEED_WORD, tag_id.as_bytes()))
}

/// FNV-1a over bytes, from a seed.
fn fnv(seed: u32, bytes: &[u8]) -> u32 {
    let mut h = seed;
    for &b in bytes {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// Mix two hashes (murmur3 finaliser over a combination), for pairs and tagged features.
fn mix(a: u32, b: u32) -> u32 {
    let mut h = a ^ b.rotate_left(15).wrapping_mul(0x1b87_3593);
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// The hash of an organisation name in the org-kind table: lower-cased, whitespace collapsed.
pub fn org_name_hash(name: &str) -> u32 {
    let mut h = SEED_LOOKUP;
    let mut space = false;
    let mut any = false;
    for c in name.trim().chars() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space && any {
            h = fnv(h, b" ");
        }
        space = false;
        any = true;
        let mut buf = [0u8; 4];
        for lc in c.to_lowercase() {
            h = fnv(h, lc.encode_utf8(&mut buf).as_bytes());
        }
    }
    h
}

/// Kinds of organisation that point at a topic (issue 13, item 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgKind {
    /// Sports club or league: sport.
    Sport = 1,
    /// Company or exchange: business.
    Company = 2,
    /// Political party or parliament: politics.
    Politics = 3,
    /// University or college: education.
    University = 4,
    /// Hospital or health agency: health.
    Health = 5,
}

impl OrgKind {
    /// From the byte stored in the model file.
    pub fn from_u8(b: u8) -> Option<OrgKind> {
        Some(match b {
            1 => OrgKind::Sport,
            2 => OrgKind::Company,
            3 => OrgKind::Politics,
            4 => OrgKind::University,
            5 => OrgKind::Health,
            _ => return None,
        })
    }

    /// From a `kind` of `data/org-gazetteers/organizations.tsv` (`healthcare` is a kind of the
    /// upstream registry that the repository's filtered copy leaves out).
    pub fn from_gazetteer(kind: &str) -> Option<OrgKind> {
        Some(match kind {
            "sports_club" => OrgKind::Sport,
            "company" => OrgKind::Company,
            "political_party" => OrgKind::Politics,
            "university" => OrgKind::University,
            "healthcare" => OrgKind::Health,
            _ => return None,
        })
    }

    /// Readable name, used in evidence (`entity-kind:sport`).
    pub fn as_str(self) -> &'static str {
        match self {
            OrgKind::Sport => "sport",
            OrgKind::Company => "company",
            OrgKind::Politics => "politics",
            OrgKind::University => "university",
            OrgKind::Health => "health",
        }
    }

    /// The feature hash of this kind.
    pub fn feature(self) -> u32 {
        mix(SEED_ORG, self as u32)
    }
}

/// The kind of an organisation name from its last word, for names the table does not hold
/// ("Real Betis FC", "Ministry of Health", "Labour Party", "Tokyo Stock Exchange").
pub fn org_kind_from_name(name: &str) -> Option<OrgKind> {
    let lower = name.trim().to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric() && c != '.')
        .filter(|w| !w.is_empty())
        .collect();
    let last = words.last().copied().unwrap_or("");
    let has = |w: &str| words.contains(&w);
    Some(match last {
        "fc" | "f.c." | "cf" | "afc" | "sc" | "rovers" | "wanderers" | "hotspur" | "league"
        | "athletic" | "athletico" => OrgKind::Sport,
        "party" | "parliament" | "senate" | "congress" | "bundestag" | "duma" | "knesset"
        | "assembly" | "commons" => OrgKind::Politics,
        "university" | "college" | "polytechnic" => OrgKind::University,
        "hospital" | "clinic" | "infirmary" | "nhs" => OrgKind::Health,
        "exchange" | "inc" | "inc." | "corp" | "corp." | "corporation" | "plc" | "ltd" | "ltd."
        | "holdings" | "airlines" | "motors" | "bank" => OrgKind::Company,
        _ if has("university") => OrgKind::University,
        _ if has("health") || has("hospital") => OrgKind::Health,
        _ => return None,
    })
}

/// What the feature extractor needs from the model: which words it knows (a word it does not
/// know is rare and is described by its character trigrams instead).
pub trait Vocabulary {
    fn knows(&self, word_feature: u32) -> bool;
}

/// One feature occurrence: its hash, its value (1 for words, less for trigrams) and whether it
/// is a word (unigram) feature, which the trainer needs to build the vocabulary.
pub type Sink<'a> = dyn FnMut(u32, f32, bool) + 'a;

/// Hash the text's tokens into features. `title_bytes` is the byte length of the headline at the
/// start of `text` (its words also count as headline features). Returns the number of tokens read.
pub fn text_features(
    text: &str,
    title_bytes: usize,
    vocab: &dyn Vocabulary,
    sink: &mut Sink<'_>,
) -> usize {
    let mut tokens = 0usize;
    let mut prev: Option<u32> = None;
    let mut word = [0u8; MAX_WORD_BYTES];
    let mut len = 0usize; // bytes in `word` (may be less than the word when it is long)
    let mut h = SEED_WORD;
    let mut start = 0usize;
    let mut in_word = false;
    // hash and length at an apostrophe inside the word, so a possessive "'s" can be dropped
    let mut apos: Option<(u32, usize)> = None;
    let flush = |h: u32, word: &[u8], start: usize, prev: &mut Option<u32>, sink: &mut Sink<'_>| {
        sink(h, 1.0, true);
        if start < title_bytes {
            sink(mix(SEED_TITLE, h), 1.0, false);
        }
        if let Some(p) = *prev {
            sink(mix(mix(SEED_PAIR, p), h), 1.0, false);
        }
        *prev = Some(h);
        if word.len() >= MIN_PREFIX_WORD {
            sink(fnv(SEED_PREFIX, &word[..PREFIX_LEN]), 0.5, false);
        }
        if word.len() >= MIN_RARE_LEN && !vocab.knows(h) {
            // ^ab abc ... yz$ over the (possibly cut) lower-case bytes
            let n = word.len();
            let at = |i: usize| -> u8 {
                if i == 0 {
                    b'^'
                } else if i == n + 1 {
                    b'$'
                } else {
                    word[i - 1]
                }
            };
            for i in 0..n {
                let tri = [at(i), at(i + 1), at(i + 2)];
                sink(fnv(SEED_TRIGRAM, &tri), 0.5, false);
            }
        }
    };
    for (i, c) in text.char_indices() {
        if c.is_alphanumeric() {
            if !in_word {
                in_word = true;
                start = i;
                len = 0;
                h = SEED_WORD;
                apos = None;
            }
            if c.is_ascii() {
                // digits fold to 0 so scores and dates share features
                let b = if c.is_ascii_digit() {
                    b'0'
                } else {
                    (c as u8).to_ascii_lowercase()
                };
                h = fnv(h, &[b]);
                if len < MAX_WORD_BYTES {
                    word[len] = b;
                    len += 1;
                }
            } else {
                let mut buf = [0u8; 4];
                for lc in c.to_lowercase() {
                    let bytes = lc.encode_utf8(&mut buf).as_bytes();
                    h = fnv(h, bytes);
                    for &b in bytes {
                        if len < MAX_WORD_BYTES {
                            word[len] = b;
                            len += 1;
                        }
                    }
                }
            }
        } else if in_word {
            if (c == '\'' || c == '\u{2019}') && apos.is_none() {
                // "don't" -> "dont"; a possessive "'s" is dropped at the end of the word
                apos = Some((h, len));
                continue;
            }
            in_word = false;
            let (wh, wl) = possessive(h, &word[..len], apos);
            flush(wh, &word[..wl], start, &mut prev, sink);
            tokens += 1;
            if tokens >= MAX_TOKENS {
                return tokens;
            }
            if c == '\n' || c == '.' {
                prev = None; // no pairs across sentences or paragraphs
            }
        }
    }
    if in_word {
        let (wh, wl) = possessive(h, &word[..len], apos);
        flush(wh, &word[..wl], start, &mut prev, sink);
        tokens += 1;
    }
    tokens
}

/// The word without a possessive "'s": (hash, length) at the apostrophe when only "s" follows it.
fn possessive(h: u32, word: &[u8], apos: Option<(u32, usize)>) -> (u32, usize) {
    match apos {
        Some((ah, al)) if al + 1 == word.len() && word.last() == Some(&b's') => (ah, al),
        _ => (h, word.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct All;
    impl Vocabulary for All {
        fn knows(&self, _: u32) -> bool {
            true
        }
    }
    struct NoneKnown;
    impl Vocabulary for NoneKnown {
        fn knows(&self, _: u32) -> bool {
            false
        }
    }

    fn feats(text: &str, title: usize, v: &dyn Vocabulary) -> Vec<(u32, f32)> {
        let mut out = Vec::new();
        text_features(text, title, v, &mut |h, w, _| out.push((h, w)));
        out
    }

    #[test]
    fn case_digits_and_apostrophes_fold() {
        assert_eq!(
            feats("Goals 3 Rovers's", 0, &All),
            feats("goals 7 ROVERS", 0, &All)
        );
        assert_ne!(feats("goals", 0, &All), feats("goal", 0, &All));
    }

    #[test]
    fn headline_words_get_title_features_and_pairs_stop_at_sentences() {
        // word, title word, then word + title word + pair
        assert_eq!(feats("Rain ends", 9, &All).len(), 5);
        assert_eq!(feats("Rain ends", 0, &All).len(), 3);
        assert_eq!(feats("Rain. Ends", 0, &All).len(), 2);
    }

    #[test]
    fn rare_words_get_trigrams_and_input_is_bounded() {
        // "quokka": prefix "quokk" and 6 trigrams ^qu quo uok okk kka ka$
        assert_eq!(feats("quokka", 0, &NoneKnown).len(), 1 + 1 + 6);
        assert_eq!(feats("quokka", 0, &All).len(), 1 + 1);
        let long = "word ".repeat(MAX_TOKENS * 3);
        let mut n = 0;
        assert_eq!(
            text_features(&long, 0, &All, &mut |_, _, _| n += 1),
            MAX_TOKENS
        );
        let odd = "é\u{0301}İ🦀 a\u{2019}\u{2019}b ".repeat(50) + &"x".repeat(500);
        let _ = feats(&odd, 3, &NoneKnown); // no panic on odd text
    }

    #[test]
    fn org_names_and_kinds() {
        assert_eq!(
            org_name_hash(" Real  Madrid "),
            org_name_hash("real madrid")
        );
        assert_eq!(org_kind_from_name("Labour Party"), Some(OrgKind::Politics));
        assert_eq!(org_kind_from_name("Ajax FC"), Some(OrgKind::Sport));
        assert_eq!(
            org_kind_from_name("Tokyo Stock Exchange"),
            Some(OrgKind::Company)
        );
        assert_eq!(
            org_kind_from_name("Ministry of Health"),
            Some(OrgKind::Health)
        );
        assert_eq!(org_kind_from_name("United Nations"), None);
        for k in 1..=5 {
            assert_eq!(OrgKind::from_u8(k).map(|k| k as u8), Some(k));
        }
        assert_eq!(OrgKind::from_u8(9), None);
    }
}
