//! Properties of text normalization (proptest): no input string panics, the result has no
//! control characters or runs of spaces, and normalizing plain-text output again changes nothing.

use proptest::prelude::*;
use wiredesk::article::normalize::{HtmlLimits, looks_like_html, normalize, paragraphs};

fn markup() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            "<[a-z]{1,6}( [a-z]{1,4}=\"[^\"]{0,5}\")?/?>",
            "</[a-z]{1,6}>",
            "&(amp|lt|gt|nbsp|#[0-9]{1,7}|#x[0-9a-f]{1,6}|[a-z]{1,8});?",
            "<!--[^>]{0,8}-->",
            "[\\PC\\s]{0,12}",
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

fn check_paragraphs(ps: &[String]) {
    for p in ps {
        assert!(!p.is_empty(), "empty paragraph");
        assert_eq!(p.trim(), p, "untrimmed paragraph {p:?}");
        assert!(!p.contains("  "), "double space in {p:?}");
        assert!(!p.chars().any(char::is_control), "control char in {p:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_string_normalizes_without_panic(s in "\\PC*|[\\s\\S]{0,200}") {
        let limits = HtmlLimits::default();
        if let Ok(ps) = paragraphs(&s, &limits) {
            check_paragraphs(&ps);
        }
        let _ = normalize(Some(&s), &s, &limits);
    }

    #[test]
    fn any_markup_normalizes_without_panic(s in markup()) {
        let limits = HtmlLimits::default();
        if let Ok(ps) = paragraphs(&s, &limits) {
            check_paragraphs(&ps);
        }
    }

    #[test]
    fn plain_text_normalization_is_idempotent(s in "[^\\p{Cc}]{0,300}") {
        let limits = HtmlLimits::default();
        prop_assume!(!looks_like_html(&s));
        let once = paragraphs(&s, &limits).expect("plain text has no markup limits");
        let joined = once.join("\n\n");
        prop_assume!(!looks_like_html(&joined));
        let twice = paragraphs(&joined, &limits).expect("plain text");
        prop_assert_eq!(once, twice);
    }
}
