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
    limits: Limits,
    metrics: Option<Metrics>,
}

/// Work limits per article, beyond the input size: see [`crate::settings::InputSettings`] and
/// `processing.article_budget_ms`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    pub html: normalize::HtmlLimits,
    /// CPU time per article; `None` = unlimited.
    pub budget: Option<std::time::Duration>,
}

/// Most mention spans kept per entity. Every mention still counts in `mentions`; beyond this the
/// spans only grow the record (a body repeating one name 100,000 times).
pub const MAX_SPANS_PER_ENTITY: usize = 256;

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
    let budget_ms = settings.processing.article_budget_ms;
    Ok(Pipeline {
        stages,
        tags: tag_handle,
        fingerprinter,
        max_message_bytes: settings.input.max_message_bytes,
        limits: Limits {
            html: settings.input.html_limits(),
            budget: (budget_ms > 0).then(|| std::time::Duration::from_millis(budget_ms)),
        },
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
        for entity in &mut doc.entities {
            entity.spans.truncate(MAX_SPANS_PER_ENTITY);
        }
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
        // Tag rules and the topic model read the entities; the model version goes into provenance.
        self.0.apply_to(doc);
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
            limits: Limits::default(),
            metrics: None,
        }
    }

    /// The same pipeline with other work limits (tests).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
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
        let started = Instant::now();
        let article = self.timed("parse", || parse::parse(raw, self.max_message_bytes))?;
        let mut doc = self.timed("normalize", || {
            let normalized = catch_unwind(AssertUnwindSafe(|| {
                normalize::normalize(article.title.as_deref(), &article.body, &self.limits.html)
            }))
            .map_err(|panic| {
                Rejection::new(RejectCode::StagePanicked, panic_message(&panic)).at("normalize")
            })?
            .map_err(|too| Rejection::new(RejectCode::TooComplex, too.0).at("normalize"))?;
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
        self.within_budget(started, "normalize")?;
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
            self.within_budget(started, name)?;
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

    /// Every stage is linear in its input, so the budget is a second line of defence: checked
    /// between steps (a stage is not interrupted), it bounds what one article can cost to the
    /// budget plus one step.
    fn within_budget(&self, started: Instant, after: &'static str) -> Result<(), Rejection> {
        match self.limits.budget {
            Some(budget) if started.elapsed() > budget => {
                if let Some(metrics) = &self.metrics {
                    metrics.stage_errors.with_label_values(&[after]).inc();
                }
                Err(Rejection::new(
                    RejectCode::TooComplex,
                    format!(
                        "article used {} ms of CPU by the end of stage {after}, the budget (processing.article_budget_ms) is {} ms",
                        started.elapsed().as_millis(),
                        budget.as_millis()
                    ),
                )
                .at(after))
            }
            _ => Ok(()),
        }
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

    struct Slow;
    impl Stage for Slow {
        fn name(&self) -> &'static str {
            "slow"
        }
        fn apply(&self, _doc: &mut Enriched) -> Result<(), Rejection> {
            std::thread::sleep(std::time::Duration::from_millis(30));
            Ok(())
        }
    }

    #[test]
    fn an_article_over_its_budget_is_too_complex() {
        let limits = Limits {
            budget: Some(std::time::Duration::from_millis(10)),
            ..Limits::default()
        };
        let p = Pipeline::new(vec![Box::new(Slow)], None, 1 << 20).with_limits(limits);
        let r = p
            .process(br#"{"body":"x"}"#, Provenance::default())
            .err()
            .expect("rejected");
        assert_eq!((r.code, r.stage), (RejectCode::TooComplex, "slow"));
        assert!(
            r.detail.contains("processing.article_budget_ms"),
            "{}",
            r.detail
        );
        let unlimited = Pipeline::new(vec![Box::new(Slow)], None, 1 << 20);
        assert!(
            unlimited
                .process(br#"{"body":"x"}"#, Provenance::default())
                .is_ok()
        );
    }

    #[test]
    fn deeply_nested_html_is_too_complex_not_a_crash() {
        let body = "<span>".repeat(200_000);
        let input = serde_json::json!({ "id": "deep", "body": body }).to_string();
        let p = Pipeline::new(vec![], None, 4 << 20);
        let r = p
            .process(input.as_bytes(), Provenance::default())
            .err()
            .expect("rejected");
        assert_eq!((r.code, r.stage), (RejectCode::TooComplex, "normalize"));
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
