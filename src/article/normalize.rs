//! Text normalization: raw headline and body (plain text or HTML) → the analysed text.
//!
//! The result is the headline, a blank line, then the body's paragraphs separated by blank lines
//! (`"\n\n"`). Inside a paragraph, runs of whitespace become one space and control characters are
//! dropped. HTML is parsed with a real HTML5 parser (`scraper`/html5ever), so entities are decoded
//! and malformed markup is handled the way browsers do; block elements become paragraph breaks and
//! `script`/`style` contents are dropped.

use std::cell::Cell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};
use scraper::{Html, Node};

/// Elements whose boundaries are paragraph breaks.
const BLOCK: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "tr",
    "ul",
    "caption",
    "body",
];
/// Elements whose text is not article text.
const SKIP: &[&str] = &[
    "script", "style", "noscript", "template", "head", "iframe", "svg", "object", "button",
    "select",
];

/// Caps on the HTML a body may contain (`input.max_html_depth`, `input.max_html_elements`).
///
/// html5ever builds any tree it is given, but deep nesting makes tree construction quadratic
/// (each start tag scans the stack of open elements) and a deep tree is expensive to walk. So the
/// markup is measured with html5ever's tokenizer alone (linear) *before* the tree is built, and
/// an article over either cap is rejected as `too_complex` instead of costing minutes of CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HtmlLimits {
    /// Deepest nesting of elements that stay open until closed (`div`, `span`, `b`…); elements
    /// the parser closes by itself (`p`, `li`, `td`…) and void elements (`br`, `img`) do not count.
    pub max_depth: usize,
    /// Most start tags in one field.
    pub max_elements: usize,
}

impl Default for HtmlLimits {
    fn default() -> Self {
        HtmlLimits {
            max_depth: 256,
            max_elements: 50_000,
        }
    }
}

/// Why markup was refused: over one of the [`HtmlLimits`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooComplex(pub String);

/// Normalized document text and the headline's length in chars.
pub struct Normalized {
    pub text: String,
    pub title_chars: usize,
}

/// Normalize a headline and body into the analysed text.
pub fn normalize(
    title: Option<&str>,
    body: &str,
    limits: &HtmlLimits,
) -> Result<Normalized, TooComplex> {
    let title = match title {
        Some(t) => paragraphs(t, limits)?.join(" "),
        None => String::new(),
    };
    let body = paragraphs(body, limits)?;
    let title_chars = title.chars().count();
    let mut text =
        String::with_capacity(title.len() + body.iter().map(|p| p.len() + 2).sum::<usize>() + 2);
    text.push_str(&title);
    for paragraph in &body {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(paragraph);
    }
    // With no headline the body starts at 0; with one, the separator follows the headline.
    Ok(Normalized { text, title_chars })
}

/// Split raw text or HTML into normalized, non-empty paragraphs.
pub fn paragraphs(raw: &str, limits: &HtmlLimits) -> Result<Vec<String>, TooComplex> {
    if looks_like_html(raw) {
        html_paragraphs(raw, limits)
    } else {
        Ok(text_paragraphs(raw))
    }
}

/// Heuristic: a tag (`<p>`, `</div>`, `<br/>`) or an entity reference (`&amp;`, `&#8217;`).
/// A stray `<` in prose ("a < b") or "AT&T" does not trigger it.
pub fn looks_like_html(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    // Position of the next '>' at or after the current index, found once and reused, so that a
    // body made of "<a<a<a…" costs one pass, not 512 bytes of look-ahead per '<'.
    let mut next_gt: Option<usize> = None;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'<' => {
                let next = bytes.get(i + 1).copied().unwrap_or(b' ');
                if next.is_ascii_alphabetic() || next == b'/' || next == b'!' {
                    if next_gt.is_none_or(|g| g <= i) {
                        next_gt = bytes[i + 1..]
                            .iter()
                            .position(|&c| c == b'>')
                            .map(|p| p + i + 1);
                    }
                    match next_gt {
                        Some(g) if g - i <= 512 => return true,
                        Some(_) => {}
                        None => return false_unless_entity(&bytes[i..]),
                    }
                }
            }
            b'&' if entity_at(&bytes[i + 1..]) => return true,
            _ => {}
        }
    }
    false
}

/// No '>' follows: no tag can start from here on, but an entity reference still can.
fn false_unless_entity(rest: &[u8]) -> bool {
    rest.iter()
        .enumerate()
        .any(|(i, &b)| b == b'&' && entity_at(&rest[i + 1..]))
}

/// Whether the bytes after an `&` are an entity reference's name and `;` (`amp;`, `#8217;`).
fn entity_at(tail: &[u8]) -> bool {
    let name_len = tail
        .iter()
        .take(10)
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'#')
        .count();
    name_len >= 2 && tail.get(name_len) == Some(&b';')
}

/// Plain text: blank lines always separate paragraphs. A single newline is a paragraph break when
/// the line before it ends a sentence or is much shorter than the text's longest line (a heading
/// such as "Key Developments from the London Negotiations"); otherwise it is a soft wrap inside a
/// hard-wrapped paragraph and becomes a space.
fn text_paragraphs(raw: &str) -> Vec<String> {
    let raw = raw.replace("\r\n", "\n").replace('\r', "\n");
    let longest = raw
        .lines()
        .map(|l| l.trim().chars().count())
        .max()
        .unwrap_or(0);
    let mut out = Vec::new();
    let mut paragraph = String::new();
    for line in raw.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            flush(&mut paragraph, &mut out);
            continue;
        }
        push_collapsed(&mut paragraph, trimmed);
        push_collapsed(&mut paragraph, " ");
        let length = trimmed.chars().count();
        let ends_sentence = trimmed.ends_with([
            '.', '!', '?', ':', ';', '"', '\u{201d}', '\u{2019}', ')', ']',
        ]);
        if ends_sentence || length * 10 < longest * 6 {
            flush(&mut paragraph, &mut out);
        }
    }
    flush(&mut paragraph, &mut out);
    out
}

fn html_paragraphs(raw: &str, limits: &HtmlLimits) -> Result<Vec<String>, TooComplex> {
    measure(raw, limits)?;
    let fragment = Html::parse_fragment(raw);
    let mut out = Vec::new();
    let mut current = String::new();
    walk(fragment.tree.root(), &mut current, &mut out);
    flush(&mut current, &mut out);
    Ok(out)
}

/// Elements html5ever closes by itself (a new `<p>` ends the open one), or that never hold
/// content: they cannot make the tree deeper than the elements around them.
const NOT_NESTING: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr", "p", "li", "dd", "dt", "option", "optgroup", "tr", "td", "th", "thead",
    "tbody", "tfoot", "colgroup", "caption", "rb", "rt", "rp", "rtc", "html", "head", "body",
];

/// Counts start tags and the open-element depth from tokens only (no tree).
#[derive(Default)]
struct Measure {
    depth: Cell<usize>,
    max_depth: Cell<usize>,
    elements: Cell<usize>,
}

impl TokenSink for Measure {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let Token::TagToken(tag) = token else {
            return TokenSinkResult::Continue;
        };
        let name: &str = &tag.name;
        let nests = !tag.self_closing && !NOT_NESTING.contains(&name);
        match tag.kind {
            TagKind::StartTag => {
                self.elements.set(self.elements.get() + 1);
                if nests {
                    let depth = self.depth.get() + 1;
                    self.depth.set(depth);
                    self.max_depth.set(self.max_depth.get().max(depth));
                }
                // Switch the tokenizer the way the tree builder would, so that the text of a
                // script or style element is not counted as tags.
                match name {
                    "script" => TokenSinkResult::RawData(RawKind::ScriptData),
                    "style" | "xmp" | "iframe" | "noembed" | "noframes" => {
                        TokenSinkResult::RawData(RawKind::Rawtext)
                    }
                    "title" | "textarea" => TokenSinkResult::RawData(RawKind::Rcdata),
                    "plaintext" => TokenSinkResult::Plaintext,
                    _ => TokenSinkResult::Continue,
                }
            }
            TagKind::EndTag => {
                if nests {
                    self.depth.set(self.depth.get().saturating_sub(1));
                }
                TokenSinkResult::Continue
            }
        }
    }
}

/// Refuse markup over the limits, in one linear tokenizer pass.
fn measure(raw: &str, limits: &HtmlLimits) -> Result<(), TooComplex> {
    let tokenizer = Tokenizer::new(Measure::default(), TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(raw));
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    let sink = &tokenizer.sink;
    let (elements, depth) = (sink.elements.get(), sink.max_depth.get());
    if elements > limits.max_elements {
        return Err(TooComplex(format!(
            "HTML has {elements} elements, the limit (input.max_html_elements) is {}",
            limits.max_elements
        )));
    }
    if depth > limits.max_depth {
        return Err(TooComplex(format!(
            "HTML nests elements {depth} deep, the limit (input.max_html_depth) is {}",
            limits.max_depth
        )));
    }
    Ok(())
}

/// Depth-first walk with an explicit stack: a deep tree must not overflow the thread's stack
/// (an abort, which no `catch_unwind` can stop). Each entry is a node to enter, or the end of a
/// block element whose closing paragraph break is still due.
fn walk(root: ego_tree::NodeRef<'_, Node>, current: &mut String, out: &mut Vec<String>) {
    enum Step<'a> {
        Enter(ego_tree::NodeRef<'a, Node>),
        EndBlock,
    }
    let mut stack: Vec<Step<'_>> = root.children().rev().map(Step::Enter).collect();
    while let Some(step) = stack.pop() {
        let node = match step {
            Step::EndBlock => {
                flush(current, out);
                continue;
            }
            Step::Enter(node) => node,
        };
        match node.value() {
            Node::Text(text) => {
                push_collapsed(current, text);
                continue;
            }
            Node::Element(element) => {
                let name = element.name();
                if SKIP.contains(&name) {
                    continue;
                }
                if BLOCK.contains(&name) {
                    flush(current, out);
                    stack.push(Step::EndBlock);
                } else if name == "td" || name == "th" {
                    push_collapsed(current, " ");
                }
            }
            _ => {}
        }
        stack.extend(node.children().rev().map(Step::Enter));
    }
}

fn flush(current: &mut String, out: &mut Vec<String>) {
    let paragraph = current.trim();
    if !paragraph.is_empty() {
        out.push(paragraph.to_owned());
    }
    current.clear();
}

/// Append `text`, turning any run of whitespace (including NBSP and newlines) into one space and
/// dropping control characters. Never starts a paragraph with a space.
fn push_collapsed(out: &mut String, text: &str) {
    let mut pending_space = out.ends_with(' ');
    for c in text.chars() {
        if c.is_whitespace() || c == '\u{a0}' {
            pending_space = true;
        } else if c.is_control() || c == '\u{feff}' {
            continue;
        } else {
            if pending_space && !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
            pending_space = false;
            out.push(c);
        }
    }
    if pending_space && !out.is_empty() && !out.ends_with(' ') {
        out.push(' ');
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    // Shadow the glob-imported functions with default limits, for the table tests below.
    fn paragraphs(raw: &str) -> Vec<String> {
        super::paragraphs(raw, &HtmlLimits::default()).unwrap()
    }
    fn normalize(title: Option<&str>, body: &str) -> Normalized {
        super::normalize(title, body, &HtmlLimits::default()).unwrap()
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing_and_walked_without_recursion() {
        let limits = HtmlLimits::default();
        // 20,000 nested <div> aborted the process (stack overflow in a recursive walk).
        let deep = format!("{}text{}", "<div>".repeat(20_000), "</div>".repeat(20_000));
        let err = super::paragraphs(&deep, &limits).unwrap_err();
        assert!(err.0.contains("input.max_html_depth"), "{err:?}");
        let spans = "<span>".repeat(100_000);
        assert!(super::paragraphs(&spans, &limits).is_err());
        // Within (raised) caps, a deep tree is walked iteratively and keeps its text and breaks:
        // on a 256 KiB stack, where the old recursive walk overflowed long before 8,000 levels.
        let lax = HtmlLimits {
            max_depth: 1_000_000,
            max_elements: 1_000_000,
        };
        let nested = format!(
            "{}deep{}<p>after</p>",
            "<div><span>".repeat(4_000),
            "</span></div>".repeat(4_000)
        );
        let walked = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || super::paragraphs(&nested, &lax).unwrap())
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(walked, ["deep", "after"]);
    }

    #[test]
    fn element_count_is_capped_and_self_closing_elements_do_not_nest() {
        let limits = HtmlLimits {
            max_depth: 8,
            max_elements: 100,
        };
        let many_breaks = format!("<p>a{}</p>", "<br>".repeat(90));
        assert!(super::paragraphs(&many_breaks, &limits).is_ok());
        let too_many = format!("<p>a{}</p>", "<br>".repeat(120));
        let err = super::paragraphs(&too_many, &limits).unwrap_err();
        assert!(err.0.contains("input.max_html_elements"), "{err:?}");
        // Unclosed <p> and <li> close themselves: not deep.
        let lists = format!("<ul>{}</ul>", "<li>item<p>x".repeat(40));
        assert!(super::paragraphs(&lists, &limits).is_ok());
        // Script text is raw data, not tags.
        let script = format!("<p>a</p><script>{}</script>", "<div>".repeat(500));
        assert_eq!(
            super::paragraphs(
                &script,
                &HtmlLimits {
                    max_depth: 8,
                    max_elements: 10
                }
            )
            .unwrap(),
            ["a"]
        );
    }

    #[test]
    fn html_detection_is_linear_on_unclosed_brackets() {
        let hostile = "<a".repeat(500_000);
        assert!(!looks_like_html(&hostile));
        assert!(looks_like_html(&format!("{hostile} &amp;")));
        assert!(looks_like_html(&format!("{hostile}<b>x</b>")));
    }

    #[test]
    fn plain_text_single_newlines_are_paragraphs() {
        assert_eq!(
            paragraphs("First  line.\nSecond\tline.\n"),
            ["First line.", "Second line."]
        );
    }

    #[test]
    fn plain_text_blank_lines_separate_and_soft_wraps_join() {
        let wrapped = "The minister said the talks would resume\nnext week in Geneva, officials added\nafter the meeting.\n\n\nSecond paragraph.";
        assert_eq!(
            paragraphs(wrapped),
            [
                "The minister said the talks would resume next week in Geneva, officials added after the meeting.",
                "Second paragraph."
            ]
        );
    }

    #[test]
    fn plain_text_headings_on_their_own_line_stay_paragraphs() {
        let text = "Talks entered their second day on Tuesday in London, with negotiators from both sides present.\nKey Developments from the London Negotiations\nThe meetings are being held at Lancaster House.\n\nOutlook";
        assert_eq!(
            paragraphs(text),
            [
                "Talks entered their second day on Tuesday in London, with negotiators from both sides present.",
                "Key Developments from the London Negotiations",
                "The meetings are being held at Lancaster House.",
                "Outlook"
            ]
        );
    }

    #[test]
    fn html_blocks_become_paragraphs_and_entities_decode() {
        let html = "<div><h1>Head</h1><p>Tom &amp; Jerry&#8217;s <b>big</b>\n day.</p><script>var x=1;</script><p>Last&nbsp;one<br>line</p></div>";
        assert_eq!(
            paragraphs(html),
            ["Head", "Tom & Jerry\u{2019}s big day.", "Last one", "line"]
        );
    }

    #[test]
    fn detection_ignores_prose_comparisons_and_ampersands() {
        assert!(!looks_like_html("prices a < b and AT&T rose"));
        assert!(looks_like_html("a <p>b</p>"));
        assert!(looks_like_html("Q&amp;A"));
    }

    #[test]
    fn malformed_html_does_not_lose_text() {
        assert_eq!(paragraphs("<p>open <i>never closed"), ["open never closed"]);
    }

    #[test]
    fn document_layout_and_title_chars() {
        let n = normalize(Some("Héadline  here"), "Body one.\nBody two.");
        assert_eq!(n.text, "Héadline here\n\nBody one.\n\nBody two.");
        assert_eq!(n.title_chars, 13);
        let n = normalize(None, "Only body.");
        assert_eq!((n.text.as_str(), n.title_chars), ("Only body.", 0));
    }

    #[test]
    fn control_characters_are_dropped() {
        assert_eq!(paragraphs("a\u{0}b\u{7}c"), ["abc"]);
    }
}
