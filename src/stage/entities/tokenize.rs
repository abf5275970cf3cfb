//! A single-pass tokenizer that keeps byte and char (Unicode scalar value) offsets.

pub(crate) const CAP: u16 = 1; // first letter upper case (or camel-case brand like "eBay")
pub(crate) const ALLCAPS: u16 = 2; // two or more letters, all upper case
pub(crate) const SENT: u16 = 4; // first word of a sentence (or after an opening quote / colon)
pub(crate) const WORD: u16 = 8; // letters/digits (else punctuation)
pub(crate) const POSS: u16 = 16; // the possessive "'s" token
pub(crate) const SPACE: u16 = 32; // whitespace before this token
pub(crate) const DIGIT: u16 = 64; // starts with a digit
pub(crate) const TZONE: u16 = 128; // title-case headline or ALL-CAPS line: capitals carry no signal
pub(crate) const HEAD: u16 = 256; // inside the headline
pub(crate) const DOTTED: u16 = 512; // contains '.', e.g. "U.S."
pub(crate) const NEWLINE: u16 = 1024; // a line break precedes this token
pub(crate) const UPZONE: u16 = 2048; // ALL-CAPS line

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Tok {
    pub bs: u32,
    pub be: u32,
    pub cs: u32,
    pub ce: u32,
    pub flags: u16,
    /// Paragraph number (0 = headline when there is one).
    pub para: u16,
    /// Hash of the lower-cased token text (0 for punctuation).
    pub hash: u64,
}

impl Tok {
    #[inline]
    pub fn has(&self, f: u16) -> bool {
        self.flags & f != 0
    }
}

/// FNV-1a over lower-cased chars; no allocation.
#[inline]
pub(crate) fn hash_lower(s: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    // Most words are ASCII: lower-case them byte by byte (the same values as the general path).
    if s.is_ascii() {
        for b in s.bytes() {
            h ^= b.to_ascii_lowercase() as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
        return h | 1;
    }
    hash_lower_chars(h, s)
}

/// The general path of [`hash_lower`], from FNV state `h`.
#[inline]
pub(crate) fn hash_lower_chars(mut h: u64, s: &str) -> u64 {
    for c in s.chars() {
        for l in c.to_lowercase() {
            let l = if l == '\u{2019}' { '\'' } else { l };
            h ^= l as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
    }
    h | 1
}

#[inline]
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || (!c.is_ascii() && is_mark(c))
}

#[inline]
fn is_mark(c: char) -> bool {
    // Combining diacritical marks (enough for decomposed Latin text).
    matches!(c as u32, 0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF)
}

#[inline]
fn is_apos(c: char) -> bool {
    c == '\'' || c == '\u{2019}'
}

/// Tokenize `text` into `out` (cleared first). `title_chars`: headline length in chars.
pub(crate) fn tokenize(
    text: &str,
    title_chars: usize,
    abbrev: &dyn Fn(u64) -> bool,
    out: &mut Vec<Tok>,
) {
    out.clear();
    let bytes = text.as_bytes();
    let mut it = text.char_indices().peekable();
    let mut ci: u32 = 0; // char index of the char at `it.peek()`
    let mut para: u16 = if title_chars > 0 { 0 } else { 1 };
    let mut space = true;
    let mut newline = true;
    let mut sent = true;
    let title_chars = title_chars as u32;
    let mut line_start = 0usize;
    while let Some(&(bi, c)) = it.peek() {
        if c.is_whitespace() || c.is_control() {
            if (c == '\n' || c == '\r' || c == '\u{2029}') && (!newline || ci > 0) {
                newline = true;
                sent = true;
            }
            space = true;
            it.next();
            ci += 1;
            continue;
        }
        let mut flags: u16 = 0;
        if space {
            flags |= SPACE;
        }
        if newline {
            flags |= NEWLINE;
            line_start = out.len();
            if !out.is_empty() {
                if para == 0 {
                    if ci >= title_chars {
                        para = 1;
                    }
                } else {
                    para = para.saturating_add(1);
                }
            }
        }
        let start_b = bi;
        let start_c = ci;
        if is_word_char(c) {
            flags |= WORD;
            if c.is_numeric() {
                flags |= DIGIT;
            }
            let mut upper = 0u32;
            let mut lower = 0u32;
            let first_upper = c.is_uppercase();
            let mut end_b = bi;
            let mut seg_len = 0u32;
            while let Some(&(b2, c2)) = it.peek() {
                if is_word_char(c2) {
                    if c2.is_uppercase() {
                        upper += 1;
                    } else if c2.is_lowercase() {
                        lower += 1;
                    }
                    seg_len += 1;
                    it.next();
                    ci += 1;
                    end_b = b2 + c2.len_utf8();
                    continue;
                }
                // Look one and two chars ahead without consuming.
                let rest = &text[b2..];
                let mut r = rest.chars();
                let _ = r.next();
                let n1 = r.next();
                if c2 == '.' && seg_len <= 2 && seg_len > 0 {
                    // Dotted abbreviation: "U.S.", "J.P.", "D.C."
                    if n1.is_some_and(|n| n.is_alphabetic() && n.is_uppercase())
                        && (flags & DOTTED != 0 || seg_len == 1)
                    {
                        flags |= DOTTED;
                        it.next();
                        ci += 1;
                        seg_len = 0;
                        end_b = b2 + 1;
                        continue;
                    }
                    if flags & DOTTED != 0 || (seg_len == 1 && first_upper) {
                        // final dot of "U.S." or an initial "F."
                        flags |= DOTTED;
                        it.next();
                        ci += 1;
                        end_b = b2 + 1;
                    }
                    break;
                }
                if is_apos(c2) {
                    // "China's" -> "China" + "'s"; "O'Brien", "Shi'ite" stay whole.
                    let n2 = {
                        let mut r2 = rest.chars();
                        r2.next();
                        r2.next();
                        r2.next()
                    };
                    let poss =
                        n1.is_some_and(|n| n == 's' || n == 'S') && !n2.is_some_and(is_word_char);
                    if !poss && n1.is_some_and(|n| n.is_alphabetic()) {
                        it.next();
                        ci += 1;
                        seg_len = 0;
                        end_b = b2 + c2.len_utf8();
                        continue;
                    }
                }
                break;
            }
            let _ = end_b;
            let end_bi = it.peek().map(|&(b, _)| b).unwrap_or(bytes.len());
            let s = &text[start_b..end_bi];
            let letters_upper = upper;
            if first_upper || c.is_titlecase_like() {
                flags |= CAP;
            } else if c.is_lowercase() && upper > 0 && lower > 0 && ci - start_c > 2 {
                flags |= CAP; // eBay, iPhone
            }
            if letters_upper >= 2 && lower == 0 {
                flags |= ALLCAPS;
            }
            if sent {
                flags |= SENT;
            }
            sent = false;
            let hash = hash_lower(s);
            out.push(Tok {
                bs: start_b as u32,
                be: end_bi as u32,
                cs: start_c,
                ce: ci,
                flags,
                para,
                hash,
            });
            // A word ending with its own dot ("U.S.", "F.") may end a sentence; we leave it open.
            if s.ends_with('.') && abbrev(hash) {
                // nothing
            }
        } else {
            it.next();
            ci += 1;
            // possessive token "'s"
            if is_apos(c)
                && let Some(&(_, 's' | 'S')) = it.peek()
            {
                let prev_word = out
                    .last()
                    .is_some_and(|t| t.has(WORD) && t.be as usize == bi);
                let after = text[bi + c.len_utf8() + 1..].chars().next();
                if prev_word && !after.is_some_and(is_word_char) {
                    it.next();
                    ci += 1;
                    let end = bi + c.len_utf8() + 1;
                    out.push(Tok {
                        bs: bi as u32,
                        be: end as u32,
                        cs: start_c,
                        ce: ci,
                        flags: flags | POSS,
                        para,
                        hash: 0,
                    });
                    space = false;
                    newline = false;
                    continue;
                }
            }
            let end = bi + c.len_utf8();
            out.push(Tok {
                bs: bi as u32,
                be: end as u32,
                cs: start_c,
                ce: ci,
                flags,
                para,
                hash: 0,
            });
            match c {
                '.' | '!' | '?' | ';' => {
                    // "Mr." does not end a sentence.
                    let prev_abbrev = out.len() >= 2 && {
                        let p = &out[out.len() - 2];
                        p.has(WORD)
                            && p.be as usize == bi
                            && (abbrev(p.hash) || (p.ce - p.cs == 1 && p.has(CAP)))
                    };
                    if !prev_abbrev {
                        sent = true;
                    }
                }
                '-' | '\u{2013}' | '\u{2014}'
                    if space
                        && out.len() - line_start <= 8
                        && out.get(line_start).is_some_and(|t| t.has(ALLCAPS)) =>
                {
                    // Dateline "LONDON (Reuters) - Text": the text starts a sentence.
                    sent = true;
                }
                ':' | '\u{201C}' | '"' | '\u{2018}' | '(' | '[' | '\u{2014}' => {
                    if c == ':' || sent {
                        sent = true;
                    }
                    if c == '"' || c == '\u{201C}' {
                        // An opening quote starts a quoted sentence.
                        if space {
                            sent = true;
                        }
                    }
                }
                _ => {}
            }
        }
        space = false;
        newline = false;
    }
    mark_zones(text, title_chars, out);
}

trait TitleLike {
    fn is_titlecase_like(&self) -> bool;
}
impl TitleLike for char {
    fn is_titlecase_like(&self) -> bool {
        matches!(*self as u32, 0x01C5 | 0x01C8 | 0x01CB | 0x01F2)
    }
}

/// Mark title-case headlines and ALL-CAPS lines, where capitals carry no signal.
fn mark_zones(_text: &str, title_chars: u32, toks: &mut [Tok]) {
    // Headline: title case when most longer words are capitalised.
    let head_end = toks
        .iter()
        .position(|t| t.cs >= title_chars)
        .unwrap_or(toks.len());
    if title_chars > 0 {
        for t in &mut toks[..head_end] {
            t.flags |= HEAD;
        }
        let (mut long, mut cap) = (0, 0);
        for t in &toks[..head_end] {
            if t.has(WORD) && !t.has(DIGIT) && t.ce - t.cs > 3 {
                long += 1;
                if t.has(CAP) {
                    cap += 1;
                }
            }
        }
        if long >= 2 && cap * 4 >= long * 3 {
            for t in &mut toks[..head_end] {
                t.flags |= TZONE;
            }
        }
    }
    // ALL-CAPS lines.
    let mut i = 0;
    while i < toks.len() {
        let mut j = i + 1;
        while j < toks.len() && !toks[j].has(NEWLINE) {
            j += 1;
        }
        let (mut words, mut caps) = (0, 0);
        for t in &toks[i..j] {
            if t.has(WORD) && !t.has(DIGIT) && t.ce - t.cs > 1 {
                words += 1;
                if t.has(ALLCAPS) {
                    caps += 1;
                }
            }
        }
        if words >= 3 && caps * 5 >= words * 4 {
            for t in &mut toks[i..j] {
                t.flags |= TZONE | UPZONE;
            }
        } else if !toks[i].has(HEAD) {
            // Title-case subheading inside the body: short, no final punctuation.
            let (mut long, mut cap, mut n) = (0, 0, 0);
            for t in &toks[i..j] {
                if t.has(WORD) {
                    n += 1;
                    if !t.has(DIGIT) && t.ce - t.cs > 3 {
                        long += 1;
                        if t.has(CAP) {
                            cap += 1;
                        }
                    }
                }
            }
            let last = &toks[j - 1];
            let ends_open = last.has(WORD) || last.has(POSS);
            if ends_open && (2..=14).contains(&n) && long >= 2 && cap * 4 >= long * 3 {
                for t in &mut toks[i..j] {
                    t.flags |= TZONE;
                }
            }
        }
        i = j;
    }
}
