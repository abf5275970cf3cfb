//! What happens to one article once the stages and the dedupe decision are done: publish it (to
//! the output or the duplicates destination), drop it, or dead-letter it. One pure function,
//! [`decide`], shared by `wiredesk run` (Kafka) and `wiredesk enrich` (files), so the two modes
//! cannot drift apart; the callers only carry the outcome to their own edge (a topic, a file).

use crate::article::Enriched;
use crate::dedupe::{DedupeResult, DedupeStatus, DuplicateAction};
use crate::error::{RejectCode, Rejection};
use crate::settings::Settings;

/// Where a record goes; also a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    Output,
    DeadLetter,
    Duplicates,
}

impl Destination {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Output => "output",
            Self::DeadLetter => "dead_letter",
            Self::Duplicates => "duplicates",
        }
    }
}

/// The settings [`decide`] reads, copied out of [`Settings`] once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// What to do with a duplicate (`dedupe.action`).
    pub action: DuplicateAction,
    /// Keep the normalized text in the record (`output.include_text`).
    pub include_text: bool,
}

impl Policy {
    pub fn new(settings: &Settings) -> Self {
        Policy {
            action: settings.dedupe.action,
            include_text: settings.output.include_text,
        }
    }
}

/// The store's answer for one article, as [`decide`] needs it.
#[derive(Debug)]
pub enum Decision {
    /// Dedupe is off, or the article had nothing to fingerprint.
    None,
    Decided(DedupeResult),
    /// The store refused this article for good (not an outage): it is dead-lettered.
    Refused(Rejection),
}

/// What to do with one article.
#[derive(Debug)]
pub enum Outcome {
    /// Publish the record to `destination` ([`Destination::Output`] or
    /// [`Destination::Duplicates`]).
    Publish {
        doc: Box<Enriched>,
        destination: Destination,
    },
    /// A duplicate under `dedupe.action = drop`: nothing is published.
    Drop {
        id: String,
        duplicate_of: Option<String>,
    },
    /// A rejection: the original goes to the dead-letter destination with the reason.
    DeadLetter(Rejection),
}

impl Outcome {
    /// The dedupe decision said "duplicate" (whatever the action made of it).
    pub fn is_duplicate(&self) -> bool {
        match self {
            Outcome::Publish { doc, .. } => doc
                .dedupe
                .as_ref()
                .is_some_and(|d| d.status == DedupeStatus::Duplicate),
            Outcome::Drop { .. } => true,
            Outcome::DeadLetter(_) => false,
        }
    }

    /// For a duplicate: its id and the id of the story it repeats.
    pub fn duplicate(&self) -> Option<(&str, Option<&str>)> {
        match self {
            Outcome::Drop { id, duplicate_of } => Some((id, duplicate_of.as_deref())),
            Outcome::Publish { doc, .. } if self.is_duplicate() => Some((
                &doc.id,
                doc.dedupe.as_ref().and_then(|d| d.duplicate_of.as_deref()),
            )),
            _ => None,
        }
    }
}

/// The one decision per article: the pipeline's result and the store's decision, under the
/// policy, give the outcome. Pure: no I/O, no clock.
pub fn decide(
    article: Result<Enriched, Rejection>,
    decision: Decision,
    policy: &Policy,
) -> Outcome {
    let mut doc = match article {
        Ok(doc) => doc,
        Err(rejection) => return Outcome::DeadLetter(rejection),
    };
    let mut destination = Destination::Output;
    match decision {
        Decision::None => {}
        Decision::Refused(rejection) => return Outcome::DeadLetter(rejection),
        Decision::Decided(result) => {
            if result.status == DedupeStatus::Duplicate {
                match policy.action {
                    DuplicateAction::Drop => {
                        return Outcome::Drop {
                            id: doc.id,
                            duplicate_of: result.duplicate_of,
                        };
                    }
                    DuplicateAction::Tag => {}
                    DuplicateAction::Route => destination = Destination::Duplicates,
                }
            }
            doc.dedupe = Some(result);
        }
    }
    if !policy.include_text {
        doc.text.clear();
    }
    Outcome::Publish {
        doc: Box::new(doc),
        destination,
    }
}

/// The rejection for an article the dedupe store refused for good (`store_rejected`).
pub fn store_refused(error: &dyn std::fmt::Display) -> Rejection {
    Rejection::new(
        RejectCode::StoreRejected,
        format!("dedupe store refused this article: {error}"),
    )
    .at("dedupe")
}

/// The published value of a record: the enriched article as JSON (schema v1, see
/// `schemas/`). Same bytes in every mode.
pub fn encode(doc: &Enriched) -> Result<Vec<u8>, Rejection> {
    serde_json::to_vec(doc).map_err(|error| {
        Rejection::new(
            RejectCode::StageFailed,
            format!("serializing the enriched record: {error}"),
        )
        .at("output")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::article::Provenance;

    fn doc(id: &str) -> Enriched {
        let article = crate::article::parse::parse(
            format!(r#"{{"id":"{id}","title":"T","body":"Some body text here."}}"#).as_bytes(),
            1 << 20,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        Enriched::from_article(
            article,
            "T\n\nSome body text here.".into(),
            1,
            Provenance::default(),
        )
    }

    fn result(status: DedupeStatus, of: Option<&str>) -> DedupeResult {
        DedupeResult {
            status,
            duplicate_of: of.map(str::to_owned),
            ..DedupeResult::unique(of.unwrap_or("self"))
        }
    }

    fn policy(action: DuplicateAction, include_text: bool) -> Policy {
        Policy {
            action,
            include_text,
        }
    }

    #[test]
    fn a_rejection_is_a_dead_letter_whatever_the_decision() {
        let rejection = Rejection::new(RejectCode::InvalidJson, "x");
        let out = decide(
            Err(rejection.clone()),
            Decision::Decided(result(DedupeStatus::Duplicate, Some("a"))),
            &policy(DuplicateAction::Drop, true),
        );
        assert!(matches!(out, Outcome::DeadLetter(r) if r == rejection));
    }

    #[test]
    fn a_refused_store_decision_is_a_dead_letter() {
        let out = decide(
            Ok(doc("b")),
            Decision::Refused(store_refused(&"script error")),
            &policy(DuplicateAction::Tag, true),
        );
        let Outcome::DeadLetter(r) = out else {
            panic!("{out:?}")
        };
        assert_eq!(r.code, RejectCode::StoreRejected);
        assert_eq!(r.stage, "dedupe");
    }

    #[test]
    fn duplicates_follow_the_action() {
        let dup = || Decision::Decided(result(DedupeStatus::Duplicate, Some("a")));
        let out = decide(Ok(doc("b")), dup(), &policy(DuplicateAction::Drop, true));
        assert!(
            matches!(&out, Outcome::Drop { id, duplicate_of } if id == "b" && duplicate_of.as_deref() == Some("a"))
        );
        assert_eq!(out.duplicate(), Some(("b", Some("a"))));

        let out = decide(Ok(doc("b")), dup(), &policy(DuplicateAction::Tag, true));
        let Outcome::Publish {
            doc: d,
            destination,
        } = &out
        else {
            panic!("{out:?}")
        };
        assert_eq!(*destination, Destination::Output);
        assert_eq!(
            d.dedupe.as_ref().map(|r| r.status),
            Some(DedupeStatus::Duplicate)
        );
        assert!(out.is_duplicate());

        let out = decide(Ok(doc("b")), dup(), &policy(DuplicateAction::Route, true));
        assert!(matches!(
            &out,
            Outcome::Publish {
                destination: Destination::Duplicates,
                ..
            }
        ));
        assert!(out.is_duplicate());
    }

    #[test]
    fn originals_and_undecided_articles_are_published_to_the_output() {
        for decision in [
            Decision::None,
            Decision::Decided(result(DedupeStatus::Unique, None)),
        ] {
            let out = decide(
                Ok(doc("c")),
                decision,
                &policy(DuplicateAction::Route, true),
            );
            assert!(matches!(
                &out,
                Outcome::Publish {
                    destination: Destination::Output,
                    ..
                }
            ));
            assert!(!out.is_duplicate());
            assert_eq!(out.duplicate(), None);
        }
    }

    #[test]
    fn include_text_false_clears_the_text_only() {
        let out = decide(
            Ok(doc("d")),
            Decision::None,
            &policy(DuplicateAction::Tag, false),
        );
        let Outcome::Publish { doc: d, .. } = out else {
            panic!()
        };
        assert!(d.text.is_empty());
        assert_eq!(d.text_chars, doc("d").text_chars);
        let json: serde_json::Value = serde_json::from_slice(&encode(&d).unwrap()).unwrap();
        assert!(json.get("text").is_none());
        assert_eq!(json["id"], "d");
    }
}
