//! One function per thing that happens to a record: each logs once and bumps its counter, so logs
//! and metrics never disagree.

use crate::dedupe::DuplicateAction;
use crate::error::Rejection;
use crate::metrics::Metrics;

pub fn article_rejected(metrics: &Metrics, rejection: &Rejection, topic: &str, partition: i32, offset: i64) {
    metrics.dead_lettered.with_label_values(&[rejection.code.as_str()]).inc();
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

pub fn duplicate_found(metrics: &Metrics, action: DuplicateAction, id: &str, duplicate_of: Option<&str>) {
    let action = match action {
        DuplicateAction::Drop => "drop",
        DuplicateAction::Tag => "tag",
        DuplicateAction::Route => "route",
    };
    metrics.duplicates.with_label_values(&[action]).inc();
    tracing::debug!(message = "Duplicate article.", article_id = id, duplicate_of, action);
}
