//! Entry points that take arbitrary bytes, as a producer could send them: shared by the fuzz
//! targets (`fuzz/`, run with `scripts/fuzz`) and by the regression test that replays the fuzz
//! corpus and every input that once crashed (`tests/fuzz_regressions.rs`).
//!
//! Each function runs real code on the input with the shipped defaults and checks the invariants
//! a consumer relies on; a violated invariant panics, which libFuzzer reports as a crash.

use std::sync::OnceLock;

use crate::article::Provenance;
use crate::dedupe::memory::MemoryStore;
use crate::settings::Settings;
use crate::stage::{Pipeline, Processed};

/// Which part of the pipeline a harness exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Raw bytes → parse → normalize (no stages).
    ParseNormalize,
    /// Bytes as a body (HTML or text) → normalize → entities.
    Entities,
    /// Bytes as a body → normalize → tags.
    Tags,
    /// Bytes as a body → normalize → fingerprint → memory store decision.
    Dedupe,
    /// Raw bytes → the whole default pipeline → memory store decision → output JSON.
    Pipeline,
}

impl Target {
    pub const ALL: [Target; 5] = [
        Target::ParseNormalize,
        Target::Entities,
        Target::Tags,
        Target::Dedupe,
        Target::Pipeline,
    ];

    /// The fuzz target's name (a file in `fuzz/fuzz_targets/` and a folder in `fuzz/corpus/`).
    pub fn name(self) -> &'static str {
        match self {
            Target::ParseNormalize => "parse_normalize",
            Target::Entities => "entities",
            Target::Tags => "tags",
            Target::Dedupe => "dedupe",
            Target::Pipeline => "pipeline",
        }
    }
}

struct Harness {
    pipeline: Pipeline,
    store: Option<MemoryStore>,
    /// Raw bytes are the message value; otherwise they are wrapped as the body of an article.
    raw: bool,
}

fn settings(target: Target) -> Settings {
    let mut s = Settings::default();
    s.entities.enabled = matches!(target, Target::Entities | Target::Pipeline);
    s.tags.enabled = matches!(target, Target::Tags | Target::Pipeline);
    s.dedupe.enabled = matches!(target, Target::Dedupe | Target::Pipeline);
    // A generous budget: a slow input must show up as a libFuzzer timeout, not be hidden as a
    // `too_complex` rejection.
    s.processing.article_budget_ms = 0;
    s
}

fn harness(target: Target) -> &'static Harness {
    static CELLS: [OnceLock<Harness>; 5] = [const { OnceLock::new() }; 5];
    let index = Target::ALL.iter().position(|t| *t == target).unwrap_or(0);
    CELLS[index].get_or_init(|| {
        let s = settings(target);
        let pipeline = crate::stage::build(&s, None).unwrap_or_else(|error| {
            panic!("the shipped default pipeline must build: {error:#}");
        });
        Harness {
            pipeline,
            store: s.dedupe.enabled.then(|| MemoryStore::new(&s.dedupe)),
            raw: matches!(target, Target::ParseNormalize | Target::Pipeline),
        }
    })
}

/// Run `target` on `data`. Panics only when an invariant is broken (or the code panics).
pub fn run(target: Target, data: &[u8]) {
    let h = harness(target);
    let wrapped;
    let value: &[u8] = if h.raw {
        data
    } else {
        // Half the inputs carry a headline, so headline-specific paths are reached too.
        let text = String::from_utf8_lossy(data);
        let (title, body) = match text.split_once('\n') {
            Some((title, body)) if data.first().is_some_and(|b| b % 2 == 0) => (Some(title), body),
            _ => (None, text.as_ref()),
        };
        // No id: the parser derives one from the content, so distinct inputs are distinct articles.
        wrapped = serde_json::json!({ "title": title, "body": body }).to_string();
        wrapped.as_bytes()
    };
    let Ok(Processed { doc, fingerprint }) = h.pipeline.process(value, Provenance::default())
    else {
        return; // a rejection is a correct answer to bad input
    };
    let chars = doc.text.chars().count();
    assert_eq!(doc.text_chars, chars, "text_chars must count the text");
    assert!(doc.title_chars <= chars, "headline longer than the text");
    for entity in &doc.entities {
        assert!(!entity.name.is_empty(), "entity without a name");
        for [start, end] in &entity.spans {
            assert!(
                start < end && *end <= chars,
                "span {start}..{end} outside 0..{chars}"
            );
        }
    }
    if let (Some(store), Some(fp)) = (&h.store, &fingerprint) {
        let first = store.check_and_insert(&doc.id, fp, 0);
        let again = store.check_and_insert(&doc.id, fp, 0);
        if let (Ok(first), Ok(again)) = (first, again) {
            assert_eq!(first, again, "a replayed id must get the same decision");
            assert_ne!(
                first.duplicate_of.as_deref(),
                Some(doc.id.as_str()),
                "duplicate of itself"
            );
        }
    }
    let json = serde_json::to_vec(&doc).unwrap_or_else(|e| panic!("output must serialize: {e}"));
    let back: serde_json::Value =
        serde_json::from_slice(&json).unwrap_or_else(|e| panic!("output must be JSON: {e}"));
    assert!(back.is_object());
}
