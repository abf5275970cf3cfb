//! Text normalization, boilerplate removal and MinHash signatures.
//!
//! Everything here is pure, synchronous CPU work. In the worker, call
//! [`Fingerprinter::fingerprint`] on a blocking thread (`spawn_blocking`) or a
//! rayon-style pool; it takes tens of microseconds per article.
//!
//! The signature is a *b-bit* MinHash (b = 8): for each of `num_hashes` hash
//! functions we keep only the lowest 8 bits of the minimum. That makes a
//! signature `num_hashes` bytes (64 by default) instead of 4-8x that, which is
//! what keeps the index under 300 bytes per article. The Jaccard estimate is
//! corrected for the 1/256 chance that two different minima share 8 bits, see
//! [`estimate_similarity`].

use super::DedupeSettings;

/// Bits kept per MinHash value.
pub const BITS_PER_HASH: u32 = 8;
const COLLISION: f64 = 1.0 / 256.0;

/// Compact fingerprint of one article's normalized text.
///
/// `sig[i]` is the low 8 bits of the i-th MinHash minimum. `exact` is a 64-bit
/// hash of the normalized token stream (equal for exact duplicates), `tokens`
/// the number of normalized words (0 = nothing left to compare).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    sig: Box<[u8]>,
    exact: u64,
    tokens: u32,
}

impl Fingerprint {
    /// Builds a fingerprint from raw parts (benchmarks and tests use this to
    /// prefill an index with synthetic signatures).
    pub fn from_parts(sig: Vec<u8>, exact: u64, tokens: u32) -> Self {
        Fingerprint {
            sig: sig.into_boxed_slice(),
            exact,
            tokens,
        }
    }
    /// The b-bit MinHash signature, one byte per hash function.
    pub fn signature(&self) -> &[u8] {
        &self.sig
    }
    /// Hash of the normalized token stream.
    pub fn exact_hash(&self) -> u64 {
        self.exact
    }
    /// Number of normalized words the fingerprint was built from.
    pub fn tokens(&self) -> u32 {
        self.tokens
    }
    /// True when normalization left no text: such articles are never
    /// duplicates and are not indexed.
    pub fn is_empty(&self) -> bool {
        self.tokens == 0
    }
    /// Estimated Jaccard similarity of the two shingle sets.
    pub fn similarity(&self, other: &Fingerprint) -> f64 {
        if self.exact == other.exact && self.tokens == other.tokens && !self.is_empty() {
            return 1.0;
        }
        estimate_similarity(&self.sig, &other.sig)
    }
}

/// Estimated Jaccard similarity from two b-bit signatures of equal length
/// (0.0 if the lengths differ). Unbiased estimate `(m - c) / (1 - c)` where
/// `m` is the fraction of equal bytes and `c = 1/256`, clamped to [0, 1].
pub fn estimate_similarity(a: &[u8], b: &[u8]) -> f64 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let eq = a.iter().zip(b).filter(|(x, y)| x == y).count();
    let m = eq as f64 / a.len() as f64;
    ((m - COLLISION) / (1.0 - COLLISION)).clamp(0.0, 1.0)
}

/// Estimated containment `|A∩B| / min(|A|, |B|)` of two shingle sets, from
/// their estimated Jaccard similarity `j` and their word counts (a text of
/// `n` words has `max(n − k + 1, 1)` shingles of `k` words). Uses
/// `|A∩B| = j·(|A| + |B|)/(1 + j)`; clamped to [0, 1]. The Redis Lua script
/// computes the same formula in the same order.
pub fn estimate_containment(j: f64, tokens_a: u32, tokens_b: u32, k: usize) -> f64 {
    let sh = |n: u32| (n as f64 - k as f64 + 1.0).max(1.0);
    let (a, b) = (sh(tokens_a), sh(tokens_b));
    let inter = j * (a + b) / (1.0 + j);
    (inter / a.min(b)).clamp(0.0, 1.0)
}

/// The confirmation rule shared by both stores: a candidate is a duplicate
/// when its estimated Jaccard `j` reaches `threshold`, or when `j` reaches the
/// floor `min_jaccard` and the estimated containment of the shorter text in
/// the longer reaches `containment_threshold` (trimmed or lightly rewritten
/// republications). Returns the Jaccard estimate for a match.
#[derive(Clone, Copy, Debug)]
pub struct ConfirmRule {
    pub threshold: f64,
    pub min_jaccard: f64,
    pub containment_threshold: f64,
    pub shingle_size: usize,
}

impl ConfirmRule {
    pub fn new(s: &DedupeSettings) -> Self {
        ConfirmRule {
            threshold: s.threshold,
            min_jaccard: s.min_jaccard.min(s.threshold),
            containment_threshold: s.containment_threshold,
            shingle_size: s.shingle_size,
        }
    }

    /// `Some(j)` when the pair is a duplicate under this rule.
    #[inline]
    pub fn confirm(&self, sig_a: &[u8], tokens_a: u32, sig_b: &[u8], tokens_b: u32) -> Option<f64> {
        let j = estimate_similarity(sig_a, sig_b);
        if j >= self.threshold {
            return Some(j);
        }
        if j >= self.min_jaccard
            && tokens_a > 0
            && tokens_b > 0
            && estimate_containment(j, tokens_a, tokens_b, self.shingle_size)
                >= self.containment_threshold
        {
            return Some(j);
        }
        None
    }
}

/// Rounds a similarity to 4 decimals (the value reported and stored).
pub fn round_similarity(s: f64) -> f64 {
    (s * 10_000.0).round() / 10_000.0
}

/// Hash of band `band` (rows `band*rows .. band*rows+rows`) of a signature.
/// Used as the LSH bucket key by both stores.
pub fn band_hash(sig: &[u8], band: usize, rows: usize) -> u64 {
    let mut h = 0x243F_6A88_85A3_08D3u64 ^ (band as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for &b in &sig[band * rows..band * rows + rows] {
        h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01B3);
    }
    mix64(h)
}

/// Weight of the LSH false-positive area when choosing the band layout (the
/// false-negative area gets `1 - FP_WEIGHT`). Candidates are confirmed by
/// their estimated similarity, so an LSH false positive only costs a 64-byte
/// compare while a false negative is a missed duplicate.
pub const FP_WEIGHT: f64 = 0.25;

/// Chooses `(bands, rows)` for a similarity threshold the way datasketch does:
/// minimise the weighted false-positive and false-negative areas under
/// the LSH S-curve `1 - (1 - s^r)^b` (weights: [`FP_WEIGHT`]). `rows` is at least `min_rows` so that an
/// 8-bit band cannot collide by chance (with r = 4 the chance for unrelated
/// articles is 2^-32 per band).
pub fn optimal_bands(threshold: f64, num_hashes: usize, min_rows: usize) -> (usize, usize) {
    fn area(a: f64, b: f64, f: impl Fn(f64) -> f64) -> f64 {
        let n = 200;
        let h = (b - a) / n as f64;
        (0..n).map(|i| f(a + (i as f64 + 0.5) * h) * h).sum()
    }
    let mut best = (1usize, num_hashes, f64::MAX);
    for b in 1..=num_hashes {
        for r in min_rows.max(1)..=num_hashes / b {
            let p = |s: f64| 1.0 - (1.0 - s.powi(r as i32)).powi(b as i32);
            let fp = area(0.0, threshold, p);
            let fnr = area(threshold, 1.0, |s| 1.0 - p(s));
            let err = FP_WEIGHT * fp + (1.0 - FP_WEIGHT) * fnr;
            if err < best.2 {
                best = (b, r, err);
            }
        }
    }
    (best.0, best.1)
}

/// Builds fingerprints with the configured shingle size and signature length.
#[derive(Clone, Debug)]
pub struct Fingerprinter {
    shingle_size: usize,
    mul: Vec<u64>,
    add: Vec<u64>,
}

impl Fingerprinter {
    pub fn new(s: &DedupeSettings) -> Self {
        Self::with_params(s.shingle_size, s.num_hashes)
    }

    /// Same as [`Fingerprinter::new`] without a settings struct.
    pub fn with_params(shingle_size: usize, num_hashes: usize) -> Self {
        // Fixed seed: signatures must be identical across replicas and restarts.
        let mut state = 0x5EED_D0DE_u64;
        let mut mul = Vec::with_capacity(num_hashes);
        let mut add = Vec::with_capacity(num_hashes);
        for _ in 0..num_hashes {
            mul.push(splitmix64(&mut state) | 1);
            add.push(splitmix64(&mut state));
        }
        Fingerprinter {
            shingle_size: shingle_size.max(1),
            mul,
            add,
        }
    }

    pub fn num_hashes(&self) -> usize {
        self.mul.len()
    }

    /// Normalizes `text` (see [`normalize`]) and computes its MinHash signature
    /// over word `shingle_size`-grams. Texts shorter than one shingle are
    /// hashed as a single shingle.
    pub fn fingerprint(&self, text: &str) -> Fingerprint {
        let words = word_hashes(text);
        self.fingerprint_words(&words)
    }

    fn fingerprint_words(&self, words: &[u64]) -> Fingerprint {
        let n = self.mul.len();
        let mut exact = 0xCBF2_9CE4_8422_2325u64;
        for &w in words {
            exact = mix64(exact ^ w).wrapping_add(0x9E37_79B9_7F4A_7C15);
        }
        if words.is_empty() {
            return Fingerprint {
                sig: vec![0u8; n].into_boxed_slice(),
                exact: 0,
                tokens: 0,
            };
        }
        let mut mins = vec![u32::MAX; n];
        let k = self.shingle_size.min(words.len());
        for win in words.windows(k) {
            let mut h = 0x8422_2325_CBF2_9CE4u64;
            for &w in win {
                h = (h ^ w).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
            }
            let x = mix64(h);
            // Multiply-add with the high 32 bits (a 2-universal family on an
            // already well-mixed input); the loop auto-vectorizes.
            for ((m, &a), &b) in mins.iter_mut().zip(&self.mul).zip(&self.add) {
                let v = (a.wrapping_mul(x).wrapping_add(b) >> 32) as u32;
                if v < *m {
                    *m = v;
                }
            }
        }
        let sig: Vec<u8> = mins.iter().map(|&m| (m & 0xFF) as u8).collect();
        Fingerprint {
            sig: sig.into_boxed_slice(),
            exact,
            tokens: words.len().min(u32::MAX as usize) as u32,
        }
    }
}

/// SimHash (64-bit, word `k`-shingles, unweighted) of the normalized text.
/// Kept only so the MinHash/SimHash comparison in `tests/dedupe_eval.rs`
/// can be re-run; the stores do not use it.
pub fn simhash64(text: &str, k: usize) -> u64 {
    let words = word_hashes(text);
    if words.is_empty() {
        return 0;
    }
    let k = k.max(1).min(words.len());
    let mut acc = [0i32; 64];
    for win in words.windows(k) {
        let mut h = 0x8422_2325_CBF2_9CE4u64;
        for &w in win {
            h = (h ^ w).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
        }
        let x = mix64(h);
        for (i, a) in acc.iter_mut().enumerate() {
            *a += if x >> i & 1 == 1 { 1 } else { -1 };
        }
    }
    acc.iter()
        .enumerate()
        .fold(0u64, |s, (i, &a)| if a > 0 { s | 1 << i } else { s })
}

/// Hashes ([`hash_word`]) of the words of [`normalize`]`(text)`, in order,
/// without building the normalized string: the words are hashed byte by byte
/// as they are scanned.
fn word_hashes(text: &str) -> Vec<u64> {
    struct Hashes {
        out: Vec<u64>,
        h: u64,
    }
    impl WordSink for Hashes {
        #[inline]
        fn byte(&mut self, b: u8) {
            self.h = fnv1a_step(self.h, b);
        }
        #[inline]
        fn end(&mut self) {
            self.out.push(mix64(self.h));
            self.h = FNV_OFFSET;
        }
    }
    let mut sink = Hashes {
        out: Vec::with_capacity(text.len() / 6 + 1),
        h: FNV_OFFSET,
    };
    scan_words(text, &mut sink);
    sink.out
}

const FNV_OFFSET: u64 = 0xCBF2_9CE4_8422_2325;

#[inline]
fn fnv1a_step(h: u64, b: u8) -> u64 {
    (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01B3)
}

/// FNV-1a of the word's bytes plus the splitmix64 finalizer.
fn hash_word(w: &str) -> u64 {
    mix64(w.bytes().fold(FNV_OFFSET, fnv1a_step))
}

/// splitmix64 finalizer.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    mix64(*state)
}

/// Stable 64-bit hash of an article id (used to intern ids in the memory store).
pub fn hash_id(id: &str) -> u64 {
    hash_word(id) ^ (id.len() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

// ---------------------------------------------------------------------------
// Normalization

/// Removes boilerplate lines and the dateline prefix, then lowercases, turns
/// every non-alphanumeric character into a space and collapses whitespace.
/// The result is a single line of space-separated words.
pub fn normalize(text: &str) -> String {
    struct Words(String);
    impl WordSink for Words {
        #[inline]
        fn byte(&mut self, b: u8) {
            // `scan_words` passes only ASCII bytes here, other chars go to `ch`.
            self.0.push(b as char);
        }
        #[inline]
        fn ch(&mut self, c: char) {
            self.0.push(c);
        }
        #[inline]
        fn end(&mut self) {
            self.0.push(' ');
        }
    }
    let mut w = Words(String::with_capacity(text.len()));
    scan_words(text, &mut w);
    let mut out = w.0;
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// Receives the normalized words of a text from [`scan_words`]: the bytes of
/// each lowercased word (ASCII through `byte`, other characters through `ch`),
/// then `end` after each word. Words are never empty.
trait WordSink {
    fn byte(&mut self, b: u8);
    /// A lowercased non-ASCII character; by default its UTF-8 bytes.
    #[inline]
    fn ch(&mut self, c: char) {
        let mut buf = [0u8; 4];
        for &b in c.encode_utf8(&mut buf).as_bytes() {
            self.byte(b);
        }
    }
    fn end(&mut self);
}

/// The one normalization scan. A line is trimmed, dropped if empty or
/// boilerplate, its dateline stripped; then every maximal run of alphanumeric
/// characters (Unicode-aware) is a word, lowercased character by character
/// (`char::to_lowercase`). ASCII bytes take a fast path (table lookups, no
/// decoding); the words are exactly those of the original char-by-char loop
/// (`normalize_reference` in the tests, compared by a property test).
fn scan_words(text: &str, sink: &mut impl WordSink) {
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || is_boilerplate(line) {
            continue;
        }
        let line = strip_dateline(line);
        let bytes = line.as_bytes();
        let mut in_word = false;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b.is_ascii() {
                if b.is_ascii_alphanumeric() {
                    sink.byte(b.to_ascii_lowercase());
                    in_word = true;
                } else if in_word {
                    sink.end();
                    in_word = false;
                }
                i += 1;
                continue;
            }
            // `i` is on a char boundary: ASCII bytes are whole chars and
            // other chars are stepped over whole.
            let Some(c) = line[i..].chars().next() else {
                break;
            };
            if c.is_alphanumeric() {
                for l in c.to_lowercase() {
                    if l.is_ascii() {
                        sink.byte(l as u8);
                    } else {
                        sink.ch(l);
                    }
                }
                in_word = true;
            } else if in_word {
                sink.end();
                in_word = false;
            }
            i += c.len_utf8();
        }
        if in_word {
            sink.end();
        }
    }
}

const BOILERPLATE_PREFIXES: &[&str] = &[
    "by ",
    "written by",
    "story by",
    "reporting by",
    "(reporting by",
    "additional reporting",
    "editing by",
    "writing by",
    "compiled by",
    "edited by",
    "copyright",
    "©",
    "(c) ",
    "(c)20",
    "sign up for",
    "subscribe to",
    "follow us",
    "click here",
    "read more:",
    "related:",
    "share this",
    "this story has been corrected",
    "contact the author",
    "photo:",
    "image:",
];
const BOILERPLATE_CONTAINS: &[&str] = &[
    "originally published",
    "originally appeared",
    "was first published",
    "all rights reserved",
    "may not be published, broadcast, rewritten or redistributed",
    "reporting by",
    "editing by",
];
const DATE_WORDS: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "jan",
    "january",
    "feb",
    "february",
    "mar",
    "march",
    "apr",
    "april",
    "may",
    "jun",
    "june",
    "jul",
    "july",
    "aug",
    "august",
    "sep",
    "sept",
    "september",
    "oct",
    "october",
    "nov",
    "november",
    "dec",
    "december",
    "updated",
    "published",
    "posted",
    "last",
    "gmt",
    "utc",
    "et",
    "est",
    "edt",
    "pt",
    "bst",
    "cet",
    "am",
    "pm",
    "a",
    "m",
    "p",
    "on",
    "at",
];

/// True for lines that carry no story content: bylines, "Reporting by ...;
/// Editing by ..." credits, "originally published" notes, copyright lines,
/// newsletter/social plugs and lines that are only a date/time stamp.
pub fn is_boilerplate(line: &str) -> bool {
    // Fast path for long ASCII lines (most story paragraphs): with more than
    // 40 words only the byline rule (which then says no) and the date-stamp
    // rule can apply, and both look at the first few words only, so nothing
    // is lowercased or allocated. ASCII case folding equals `to_lowercase` on
    // ASCII text.
    if line.is_ascii() && line.split_whitespace().nth(40).is_some() {
        let starts = |p: &str| {
            line.len() >= p.len() && line.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
        };
        if starts("by ") || starts("written by") {
            return false;
        }
        return is_date_stamp(line, |t, w| t.eq_ignore_ascii_case(w));
    }
    let lower = line.to_lowercase();
    // Only compared with 10 and 40 below: counting stops at 41.
    let words = lower.split_whitespace().take(41).count();
    if lower.starts_with("by ") || lower.starts_with("written by") {
        // Bylines are short and mostly capitalized names ("By Jane Doe and
        // John Roe, Reuters"); a sentence starting with "By" is not.
        if words > 10 {
            return false;
        }
        let rest = line
            .split_whitespace()
            .skip(if lower.starts_with("by ") { 1 } else { 2 });
        let (mut names, mut capitalized) = (0usize, 0usize);
        for w in rest {
            if matches!(w, "and" | "the" | "of" | "in" | "for" | "with" | "&") {
                continue;
            }
            let Some(c) = w.chars().next().filter(|c| c.is_alphabetic()) else {
                continue;
            };
            names += 1;
            capitalized += usize::from(c.is_uppercase());
        }
        return names > 0 && capitalized * 10 >= names * 8;
    }
    if words <= 40
        && (BOILERPLATE_PREFIXES.iter().any(|p| lower.starts_with(p))
            || BOILERPLATE_CONTAINS.iter().any(|p| lower.contains(p)))
    {
        return true;
    }
    is_date_stamp(&lower, |t, w| t == w)
}

/// A line of only date words and numbers ("Friday, July 21, 2017",
/// "Updated 10:32 a.m. ET, Nov. 28, 2026"): 1 to 12 alphanumeric tokens, each
/// all ASCII digits or one of [`DATE_WORDS`] (compared with `eq`). Stops at the
/// first token that is neither, or at the 13th.
fn is_date_stamp(lower: &str, eq: impl Fn(&str, &str) -> bool) -> bool {
    let mut n = 0;
    for t in lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
    {
        n += 1;
        if n > 12 || !(t.bytes().all(|b| b.is_ascii_digit()) || DATE_WORDS.iter().any(|w| eq(t, w)))
        {
            return false;
        }
    }
    n > 0
}

/// Strips a leading dateline: "LONDON (Reuters) -", "WASHINGTON, Nov 28 (AP) —",
/// "PARIS (AFP) --", or an all-caps place name before a dash ("KYIV, Ukraine —"
/// is kept only if the part before the dash has lowercase letters other than a
/// country/state after a comma; we require the first word to be all caps).
pub fn strip_dateline(line: &str) -> &str {
    let head_end = line
        .char_indices()
        .nth(90)
        .map(|(i, _)| i)
        .unwrap_or(line.len());
    let head = &line[..head_end];
    // Find the first dash-like separator surrounded by spaces (or "-" right after ")").
    let mut sep: Option<(usize, usize)> = None;
    for (i, c) in head.char_indices() {
        if matches!(c, '-' | '\u{2013}' | '\u{2014}') {
            let before = head[..i].trim_end();
            let is_spaced = head[..i].ends_with(' ') || before.ends_with(')');
            if is_spaced && !before.is_empty() {
                // Step over a run of dashes by whole chars: "——" is two 3-byte chars.
                let mut end = i + c.len_utf8();
                while let Some(d) = line[end..].chars().next()
                    && matches!(d, '-' | '\u{2013}' | '\u{2014}')
                {
                    end += d.len_utf8();
                }
                sep = Some((i, end));
                break;
            }
        }
    }
    let Some((i, end)) = sep else { return line };
    let prefix = line[..i].trim_end();
    let agency = prefix.ends_with(')') && prefix.contains('(');
    let first_word = prefix.split([' ', ',']).next().unwrap_or("");
    let caps_place = first_word.chars().filter(|c| c.is_alphabetic()).count() >= 3
        && !first_word.chars().any(|c| c.is_lowercase())
        && prefix.split_whitespace().count() <= 6;
    if agency || caps_place {
        line[end..].trim_start()
    } else {
        line
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn normalizes_and_strips_boilerplate() {
        let t = "By Jane Doe, Reuters\nLONDON (Reuters) - The Bank of England RAISED rates!\n\
                 Reporting by Jane Doe; Editing by John Roe\n\
                 © 2026 Reuters. All rights reserved.\nThis story was originally published by AP.";
        assert_eq!(normalize(t), "the bank of england raised rates");
        assert_eq!(
            normalize("WASHINGTON, Nov 28 (AP) \u{2014} Hello, world."),
            "hello world"
        );
        assert_eq!(normalize("PARIS \u{2014} Bonjour."), "bonjour");
        assert_eq!(
            normalize("Friday, July 21, 2017\n\nText here."),
            "text here"
        );
        assert_eq!(
            normalize("By the end of the year, rates rose."),
            "by the end of the year rates rose"
        );
        assert_eq!(
            normalize("The vote - held Tuesday - passed."),
            "the vote held tuesday passed"
        );
    }

    /// The char-by-char normalization the fast paths replaced (kept verbatim
    /// as the reference of the equality tests below).
    fn normalize_reference(text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for raw in text.lines() {
            let line = raw.trim();
            if line.is_empty() || is_boilerplate_reference(line) {
                continue;
            }
            let line = strip_dateline(line);
            for c in line.chars() {
                if c.is_alphanumeric() {
                    for l in c.to_lowercase() {
                        out.push(l);
                    }
                } else if !out.ends_with(' ') && !out.is_empty() {
                    out.push(' ');
                }
            }
            if !out.ends_with(' ') && !out.is_empty() {
                out.push(' ');
            }
        }
        if out.ends_with(' ') {
            out.pop();
        }
        out
    }

    fn is_boilerplate_reference(line: &str) -> bool {
        let lower = line.to_lowercase();
        let words = lower.split_whitespace().count();
        if lower.starts_with("by ") || lower.starts_with("written by") {
            let rest: Vec<&str> = line
                .split_whitespace()
                .skip(if lower.starts_with("by ") { 1 } else { 2 })
                .collect();
            let names = rest
                .iter()
                .filter(|w| !matches!(**w, "and" | "the" | "of" | "in" | "for" | "with" | "&"))
                .filter(|w| w.chars().next().is_some_and(|c| c.is_alphabetic()))
                .collect::<Vec<_>>();
            let capitalized = names
                .iter()
                .filter(|w| w.chars().next().is_some_and(|c| c.is_uppercase()))
                .count();
            return words <= 10 && !names.is_empty() && capitalized * 10 >= names.len() * 8;
        }
        if BOILERPLATE_PREFIXES.iter().any(|p| lower.starts_with(p)) && words <= 40 {
            return true;
        }
        if BOILERPLATE_CONTAINS.iter().any(|p| lower.contains(p)) && words <= 40 {
            return true;
        }
        let toks: Vec<&str> = lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|t| !t.is_empty())
            .collect();
        !toks.is_empty()
            && toks.len() <= 12
            && toks
                .iter()
                .all(|t| t.chars().all(|c| c.is_ascii_digit()) || DATE_WORDS.contains(t))
    }

    fn word_hashes_reference(text: &str) -> Vec<u64> {
        normalize_reference(text)
            .split(' ')
            .filter(|w| !w.is_empty())
            .map(hash_word)
            .collect()
    }

    fn assert_same_normalization(text: &str) {
        assert_eq!(normalize(text), normalize_reference(text), "{text:?}");
        assert_eq!(word_hashes(text), word_hashes_reference(text), "{text:?}");
        for line in text.lines() {
            let line = line.trim();
            assert_eq!(
                is_boilerplate(line),
                is_boilerplate_reference(line),
                "{line:?}"
            );
        }
    }

    #[test]
    fn ascii_fast_path_agrees_with_unicode_rules() {
        for b in 0u8..128 {
            let c = b as char;
            assert_eq!(b.is_ascii_alphanumeric(), c.is_alphanumeric(), "{b}");
            assert_eq!(
                c.to_lowercase().collect::<String>(),
                (b.to_ascii_lowercase() as char).to_string()
            );
        }
    }

    #[test]
    fn fast_normalization_equals_reference_on_the_eval_articles() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/gum-news/articles.jsonl"
        );
        let raw = std::fs::read_to_string(path).unwrap();
        let mut n = 0;
        for l in raw.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let text = format!(
                "{}\n\n{}",
                v["title"].as_str().unwrap(),
                v["body"].as_str().unwrap()
            );
            assert_same_normalization(&text);
            assert_same_normalization(&text.to_uppercase());
            n += 1;
        }
        assert_eq!(n, 24);
    }

    /// Words and characters that reach every branch: boilerplate phrases,
    /// date words, dashes and agency datelines, non-ASCII letters whose
    /// lowercase is longer or ASCII (İ, K Kelvin), final sigma, non-ASCII
    /// whitespace and punctuation.
    const PIECES: &[&str] = &[
        "By",
        "by",
        "BY",
        "Written",
        "written by",
        "Reporting by",
        "(Reporting",
        "Editing",
        "editing by",
        "originally published",
        "All Rights Reserved",
        "©",
        "(c)",
        "(c)2026",
        "Copyright",
        "Sign up for",
        "Photo:",
        "Read more:",
        "Friday",
        "July",
        "21",
        "2017",
        "Updated",
        "10:32",
        "a.m.",
        "ET",
        "Nov.",
        "pm",
        "LONDON",
        "(Reuters)",
        "-",
        "--",
        "\u{2013}",
        "\u{2014}",
        "WASHINGTON,",
        "(AP)",
        "PARIS",
        "Jane",
        "Doe",
        "and",
        "the",
        "of",
        "&",
        "jane",
        "Bank",
        "rates",
        "hello",
        "Straße",
        "ÉCOLE",
        "İstanbul",
        "\u{212A}elvin",
        "ΟΔΟΣ",
        "Σ",
        "naïve",
        "\u{2019}s",
        "\u{201C}quote\u{201D}",
        "東京",
        "\u{0301}",
        "\u{00A0}",
        "\u{2028}",
        "\u{000B}",
        "x\u{0307}",
        "1\u{00BD}",
        "\u{FF21}\u{FF22}",
    ];

    fn texts() -> impl Strategy<Value = String> {
        let word = prop_oneof![
            4 => proptest::sample::select(PIECES).prop_map(str::to_string),
            2 => "[A-Za-z0-9]{1,9}",
            1 => any::<char>().prop_map(String::from),
            1 => "\\PC{1,3}",
        ];
        let sep = proptest::sample::select(
            &[" ", " ", " ", "  ", ", ", "\t", " - ", ". ", "\u{00A0}"][..],
        );
        let line = proptest::collection::vec((word, sep), 0..60)
            .prop_map(|ws| ws.into_iter().map(|(w, s)| w + s).collect::<String>());
        let brk = proptest::sample::select(&["\n", "\n\n", "\r\n", "\n  "][..]);
        proptest::collection::vec((line, brk), 0..7)
            .prop_map(|ls| ls.into_iter().map(|(l, b)| l + b).collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn fast_normalization_equals_reference(text in texts()) {
            assert_same_normalization(&text);
        }

        #[test]
        fn fast_normalization_equals_reference_on_any_string(text in "\\PC{0,300}|(?s).{0,300}") {
            assert_same_normalization(&text);
        }
    }

    #[test]
    fn dateline_with_doubled_multibyte_dashes_does_not_panic() {
        assert_eq!(
            strip_dateline("GENEVA \u{2014}\u{2014} Talks resumed."),
            "Talks resumed."
        );
        assert_eq!(
            strip_dateline("PARIS \u{2013}-\u{2014} Bonjour."),
            "Bonjour."
        );
    }

    #[test]
    fn identical_text_identical_signature() {
        let f = Fingerprinter::with_params(3, 64);
        let a = f.fingerprint("One two three four five six seven.");
        let b = f.fingerprint("ONE two, three four five six  seven");
        assert_eq!(a, b);
        assert_eq!(a.similarity(&b), 1.0);
        assert!(f.fingerprint("").is_empty());
    }

    #[test]
    fn band_layout() {
        let (b, r) = optimal_bands(0.5, 64, 4);
        assert!(b * r <= 64 && r >= 4, "{b}x{r}");
    }

    #[test]
    fn containment_rule() {
        // Equal lengths: C = 2J/(1+J).
        let c = estimate_containment(0.5, 102, 102, 3);
        assert!((c - 2.0 / 3.0).abs() < 1e-12, "{c}");
        // A copy trimmed to a third: J = 1/3, the short text is contained.
        assert!(estimate_containment(1.0 / 3.0, 302, 102, 3) > 0.999_999);
        let rule = ConfirmRule::new(&DedupeSettings::default());
        let a = vec![7u8; 64];
        let mut b = a.clone();
        for x in b.iter_mut().take(45) {
            *x = 8; // J ≈ 0.30: below threshold, above the floor
        }
        assert!(rule.confirm(&a, 100, &b, 100).is_none()); // equal length: C ≈ 0.46
        assert!(rule.confirm(&a, 300, &b, 100).is_some()); // short one contained
        assert!(rule.confirm(&a, 0, &b, 100).is_none()); // no word count: Jaccard only
        for x in b.iter_mut().take(52) {
            *x = 8; // J ≈ 0.19: below the floor
        }
        assert!(rule.confirm(&a, 3000, &b, 100).is_none());
    }
}
