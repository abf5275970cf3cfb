//! One function per thing that happens to a record: each logs once and bumps its counter, so logs
//! and metrics never disagree.

use crate::dedupe::DuplicateAction;
use crate::error::Rejection;
use crate::metrics::Metrics;

pub fn article_rejected(
    metrics: &Metrics,
    rejection: &Rejection,
    topic: &str,
    partition: i32,
    offset: i64,
) {
    metrics
        .dead_lettered
        .with_label_values(&[rejection.code.as_str()])
        .inc();
    tracing::warn!(
        message = "Article rejected; sent to the dead-letter topic.",
        code = rejection.code.as_str(),
        stage = rejection.stage,
        error = %rejection.detail,
        topic,
        partition,
        offset
    );
}

/// Where a record came from; the log fields `topic`, `partition`, `offset` of per-record events.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
}

pub fn duplicate_found(
    metrics: &Metrics,
    action: DuplicateAction,
    id: &str,
    duplicate_of: Option<&str>,
    origin: Origin<'_>,
) {
    let action = match action {
        DuplicateAction::Drop => "drop",
        DuplicateAction::Tag => "tag",
        DuplicateAction::Route => "route",
    };
    metrics.duplicates.with_label_values(&[action]).inc();
    tracing::debug!(
        message = "Duplicate article.",
        article_id = id,
        duplicate_of,
        action,
        topic = origin.topic,
        partition = origin.partition,
        offset = origin.offset
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::RejectCode;

    #[test]
    fn events_bump_their_counters() {
        let metrics = Metrics::new();
        let rejection = Rejection::new(RejectCode::TooLarge, "3 MiB");
        article_rejected(&metrics, &rejection, "raw", 1, 7);
        let origin = Origin {
            topic: "raw",
            partition: 1,
            offset: 8,
        };
        duplicate_found(&metrics, DuplicateAction::Route, "a-1", Some("a-0"), origin);
        let text = metrics.encode();
        assert!(
            text.contains("wiredesk_messages_dead_lettered_total{reason=\"too_large\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("wiredesk_duplicates_total{action=\"route\"} 1"),
            "{text}"
        );
    }
}
