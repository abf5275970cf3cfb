//! Enrichment stages and the [`Pipeline`] that runs them.
//!
//! A stage is a plain synchronous function over one article and its enrichment so far: no I/O, no
//! clock, no `.await`. The pipeline runs on a blocking thread (see `kafka::source`), so CPU work
//! never sits on the async reactor. Adding a stage is one file here plus one line in [`build`].
//!
//! Dedupe is split in two: the fingerprint is pure CPU and is computed here; the look-up in the
//! (possibly remote) store is async and happens in the caller, in input order.

pub mod entities;
pub mod tags;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;

use crate::article::{Enriched, Provenance, normalize, parse};
use crate::dedupe::{Fingerprint, Fingerprinter};
use crate::error::{RejectCode, Rejection};
use crate::metrics::Metrics;
use crate::settings::Settings;

/// One enrichment step. Pure: the same `Enriched` in gives the same `Enriched` out.
pub trait Stage: Send + Sync + 'static {
    /// Stable snake_case name: the `stage` metric label and the `wiredesk-stage` dead-letter header.
    fn name(&self) -> &'static str;
    /// Add this stage's results to `doc`, or reject the article.
    fn apply(&self, doc: &mut Enriched) -> Result<(), Rejection>;
}

/// The result of running the pipeline over one message.
pub struct Processed {
    pub doc: Enriched,
    /// Present when dedupe is enabled; the caller looks it up in the store.
    pub fingerprint: Option<Fingerprint>,
}

/// Parse → normalize → stages → fingerprint. Built once at start-up and shared as `Arc<Pipeline>`.
pub struct Pipeline {
    stages: Vec<Box<dyn Stage>>,
    /// Shared with the stage list so SIGHUP can reload the taxonomy in place.
    tags: Option<Arc<tags::TagStage>>,
    fingerprinter: Option<Fingerprinter>,
    max_message_bytes: usize,
    metrics: Option<Metrics>,
}

/// The one list of stages, in order. Tags run after entities because tag rules can require entities.
pub fn build(settings: &Settings, metrics: Option<Metrics>) -> anyhow::Result<Pipeline> {
    let mut stages: Vec<Box<dyn Stage>> = Vec::new();
    if settings.entities.enabled {
        stages.push(Box::new(
            entities::EntityStage::new(&settings.entities)
                .context("building the entities stage")?,
        ));
    }
    let mut tag_handle = None;
    if settings.tags.enabled {
        let tags =
            Arc::new(tags::TagStage::new(&settings.tags).context("building the tags stage")?);
        stages.push(Box::new(TagStageHandle(Arc::clone(&tags))));
        tag_handle = Some(tags);
    }
    let fingerprinter = settings
        .dedupe
        .enabled
        .then(|| Fingerprinter::new(&settings.dedupe));
    Ok(Pipeline {
        stages,
        tags: tag_handle,
        fingerprinter,
        max_message_bytes: settings.input.max_message_bytes,
        metrics,
    })
}

impl Stage for entities::EntityStage {
    fn name(&self) -> &'static str {
        "entities"
    }
    fn apply(&self, doc: &mut Enriched) -> Result<(), Rejection> {
        doc.entities = self.extract(&doc.text, doc.title_chars);
        doc.provenance.entities_model = Some(self.model_name().to_owned());
        Ok(())
    }
}

/// The tags stage behind an `Arc`, so the app keeps a handle for SIGHUP reloads.
struct TagStageHandle(Arc<tags::TagStage>);

impl Stage for TagStageHandle {
    fn name(&self) -> &'static str {
        "tags"
    }
    fn apply(&self, doc: &mut Enriched) -> Result<(), Rejection> {
        // Tag rules may require an entity by canonical name and type.
        let found: Vec<(&str, &str)> = doc
            .entities
            .iter()
            .map(|e| (e.name.as_str(), e.kind.as_str()))
            .collect();
        doc.tags = self.0.tag(&doc.text, doc.title_chars, &found);
        Ok(())
    }
}

impl Pipeline {
    /// A pipeline with exactly these stages (tests, benchmarks).
    pub fn new(
        stages: Vec<Box<dyn Stage>>,
        fingerprinter: Option<Fingerprinter>,
        max_message_bytes: usize,
    ) -> Self {
        Pipeline {
            stages,
            tags: None,
            fingerprinter,
            max_message_bytes,
            metrics: None,
        }
    }

    /// The tags stage, for SIGHUP reloads.
    pub fn tags(&self) -> Option<&Arc<tags::TagStage>> {
        self.tags.as_ref()
    }

    /// Names of the configured stages, in order.
    pub fn stage_names(&self) -> Vec<&'static str> {
        self.stages.iter().map(|s| s.name()).collect()
    }

    /// Run everything over one raw message value. Never panics: a panicking stage becomes a
    /// `stage_panicked` rejection, so a bug costs one record, not the worker.
    pub fn process(&self, raw: &[u8], provenance: Provenance) -> Result<Processed, Rejection> {
        let article = self.timed("parse", || parse::parse(raw, self.max_message_bytes))?;
        let mut doc = self.timed("normalize", || {
            let normalized = normalize::normalize(article.title.as_deref(), &article.body);
            let doc = Enriched::from_article(
                article,
                normalized.text,
                normalized.title_chars,
                provenance,
            );
            // `from_article` counted the chars once; a text that is only the headline has no body.
            if doc.text_chars == doc.title_chars {
                return Err(Rejection::new(
                    RejectCode::EmptyBody,
                    "body has no text once markup is removed",
                )
                .at("normalize"));
            }
            Ok(doc)
        })?;
        for stage in &self.stages {
            let name = stage.name();
            self.timed(name, || {
                match catch_unwind(AssertUnwindSafe(|| stage.apply(&mut doc))) {
                    Ok(result) => result.map_err(|r| r.at(name)),
                    Err(panic) => Err(Rejection::new(
                        RejectCode::StagePanicked,
                        panic_message(&panic),
                    )
                    .at(name)),
                }
            })?;
        }
        let fingerprint = match &self.fingerprinter {
            Some(f) => Some(self.timed("fingerprint", || {
                catch_unwind(AssertUnwindSafe(|| f.fingerprint(&doc.text))).map_err(|panic| {
                    Rejection::new(RejectCode::StagePanicked, panic_message(&panic))
                        .at("fingerprint")
                })
            })?),
            None => None,
        };
        Ok(Processed { doc, fingerprint })
    }

    fn timed<T>(
        &self,
        stage: &'static str,
        f: impl FnOnce() -> Result<T, Rejection>,
    ) -> Result<T, Rejection> {
        let start = Instant::now();
        let result = f();
        if let Some(metrics) = &self.metrics {
            metrics
                .stage_duration
                .with_label_values(&[stage])
                .observe(start.elapsed().as_secs_f64());
            if result.is_err() {
                metrics.stage_errors.with_label_values(&[stage]).inc();
            }
        }
        result
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned());
    format!("stage panicked: {text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Panics;
    impl Stage for Panics {
        fn name(&self) -> &'static str {
            "panics"
        }
        fn apply(&self, _doc: &mut Enriched) -> Result<(), Rejection> {
            panic!("boom on purpose")
        }
    }

    struct Refuses;
    impl Stage for Refuses {
        fn name(&self) -> &'static str {
            "refuses"
        }
        fn apply(&self, _doc: &mut Enriched) -> Result<(), Rejection> {
            Err(Rejection::new(RejectCode::StageFailed, "no"))
        }
    }

    #[test]
    fn a_panicking_stage_becomes_a_rejection() {
        let p = Pipeline::new(vec![Box::new(Panics)], None, 1 << 20);
        let r = p
            .process(br#"{"body":"x"}"#, Provenance::default())
            .err()
            .expect("rejected");
        assert_eq!((r.code, r.stage), (RejectCode::StagePanicked, "panics"));
        assert!(r.detail.contains("boom on purpose"));
    }

    #[test]
    fn a_stage_error_is_attributed_to_the_stage() {
        let p = Pipeline::new(vec![Box::new(Refuses)], None, 1 << 20);
        let r = p
            .process(br#"{"body":"x"}"#, Provenance::default())
            .err()
            .expect("rejected");
        assert_eq!((r.code, r.stage), (RejectCode::StageFailed, "refuses"));
    }

    #[test]
    fn html_with_no_text_is_an_empty_body() {
        let p = Pipeline::new(vec![], None, 1 << 20);
        let r = p
            .process(
                br#"{"title":"T","body":"<script>x()</script>"}"#,
                Provenance::default(),
            )
            .err()
            .expect("rejected");
        assert_eq!((r.code, r.stage), (RejectCode::EmptyBody, "normalize"));
    }
}
