//! Text normalization: raw headline and body (plain text or HTML) → the analysed text.
//!
//! The result is the headline, a blank line, then the body's paragraphs separated by blank lines
//! (`"\n\n"`). Inside a paragraph, runs of whitespace become one space and control characters are
//! dropped. HTML is parsed with a real HTML5 parser (`scraper`/html5ever), so entities are decoded
//! and malformed markup is handled the way browsers do; block elements become paragraph breaks and
//! `script`/`style` contents are dropped.

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

/// Normalized document text and the headline's length in chars.
pub struct Normalized {
    pub text: String,
    pub title_chars: usize,
}

/// Normalize a headline and body into the analysed text.
pub fn normalize(title: Option<&str>, body: &str) -> Normalized {
    let title = title.map(|t| paragraphs(t).join(" ")).unwrap_or_default();
    let body = paragraphs(body);
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
    Normalized { text, title_chars }
}

/// Split raw text or HTML into normalized, non-empty paragraphs.
pub fn paragraphs(raw: &str) -> Vec<String> {
    if looks_like_html(raw) {
        html_paragraphs(raw)
    } else {
        text_paragraphs(raw)
    }
}

/// Heuristic: a tag (`<p>`, `</div>`, `<br/>`) or an entity reference (`&amp;`, `&#8217;`).
/// A stray `<` in prose ("a < b") or "AT&T" does not trigger it.
pub fn looks_like_html(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'<' => {
                let next = bytes.get(i + 1).copied().unwrap_or(b' ');
                if (next.is_ascii_alphabetic() || next == b'/' || next == b'!')
                    && bytes[i + 1..].iter().take(512).any(|&c| c == b'>')
                {
                    return true;
                }
            }
            b'&' => {
                let rest = &bytes[i + 1..];
                let name_len = rest
                    .iter()
                    .take(10)
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == b'#')
                    .count();
                if name_len >= 2 && rest.get(name_len) == Some(&b';') {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
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

fn html_paragraphs(raw: &str) -> Vec<String> {
    let fragment = Html::parse_fragment(raw);
    let mut out = Vec::new();
    let mut current = String::new();
    walk(fragment.tree.root(), &mut current, &mut out);
    flush(&mut current, &mut out);
    out
}

fn walk(node: ego_tree::NodeRef<'_, Node>, current: &mut String, out: &mut Vec<String>) {
    for child in node.children() {
        match child.value() {
            Node::Text(text) => push_collapsed(current, text),
            Node::Element(element) => {
                let name = element.name();
                if SKIP.contains(&name) {
                    continue;
                }
                let block = BLOCK.contains(&name);
                if block {
                    flush(current, out);
                } else if name == "td" || name == "th" {
                    push_collapsed(current, " ");
                }
                walk(child, current, out);
                if block {
                    flush(current, out);
                }
            }
            _ => walk(child, current, out),
        }
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
mod tests {
    use super::*;

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
