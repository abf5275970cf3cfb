//! The v1 wire format, in one place: every type that is serialized into an input or output
//! record is defined here and nowhere else, so a rename in a stage module cannot change the
//! published schema. `wiredesk schema` prints their JSON Schemas (committed as `schemas/*.json`
//! and guarded by `tests/schema_contract.rs`); a change that is not purely additive is a new
//! [`SCHEMA_VERSION`].

use chrono::{DateTime, FixedOffset};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use std::collections::BTreeMap;

/// Version tag carried by every output record and in the `wiredesk-schema` header.
pub const SCHEMA_VERSION: &str = "wiredesk.enriched.v1";

/// A raw article after validation. Built only by [`parse::parse`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Article {
    /// Article id. Aliases: `id`, `article_id`, `guid`, `uid`. When absent, derived from the content
    /// (see [`parse::derive_id`]).
    pub id: String,
    /// Set by the parser when `id` was derived; not part of the input format.
    #[serde(skip)]
    #[schemars(skip)]
    pub id_derived: bool,
    /// Headline. Aliases: `title`, `headline`.
    #[serde(default)]
    pub title: Option<String>,
    /// Body, plain text or HTML. Aliases: `body`, `content`, `text`, `article_body`, `html`.
    pub body: String,
    /// Canonical URL. Aliases: `url`, `link`.
    #[serde(default)]
    pub url: Option<String>,
    /// Publishing outlet. Aliases: `source`, `outlet`, `publisher`.
    #[serde(default)]
    pub source: Option<String>,
    /// Publication time, RFC 3339 (a bare `YYYY-MM-DD` is read as midnight UTC).
    /// Aliases: `published_at`, `published`, `pub_date`, `date`.
    #[serde(default)]
    pub published_at: Option<DateTime<FixedOffset>>,
    /// Language tag such as `en`. Aliases: `language`, `lang`.
    #[serde(default)]
    pub language: Option<String>,
    /// Author line. Aliases: `byline`, `author`, `authors` (a list of strings is joined with ", ").
    #[serde(default)]
    pub byline: Option<String>,
    /// Every other field of the input object, passed through untouched.
    #[serde(default, flatten)]
    pub extra: Map<String, Value>,
}

/// Where a record came from: a Kafka message or a line of a file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Provenance {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    /// Kafka message timestamp, milliseconds since the Unix epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp_ms: Option<i64>,
    /// Input file for `wiredesk enrich` (`-` for stdin).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// 1-based line number within `file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// When wiredesk processed the record (RFC 3339, UTC).
    pub processed_at: String,
    /// wiredesk version that produced the record.
    pub wiredesk_version: String,
    /// Version of the topic model the tags stage used (`name@version`); absent when the model
    /// is disabled (issue 13).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topics_model: Option<String>,
    /// Name of the entity model that found the entities (`wiredesk-entities-f1-<hash>`);
    /// absent when the entities stage is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entities_model: Option<String>,
}

impl Provenance {
    /// What every record carries: when and by which version it was processed. The model
    /// versions are filled in by their stages.
    fn processed_now() -> Self {
        Provenance {
            processed_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            wiredesk_version: env!("CARGO_PKG_VERSION").to_owned(),
            ..Provenance::default()
        }
    }

    /// A record from a Kafka message (`wiredesk run`).
    pub fn message(topic: &str, partition: i32, offset: i64, timestamp_ms: Option<i64>) -> Self {
        Provenance {
            topic: Some(topic.to_owned()),
            partition: Some(partition),
            offset: Some(offset),
            timestamp_ms,
            ..Self::processed_now()
        }
    }

    /// A record from line `line` (1-based) of `file` (`wiredesk enrich`; `-` is stdin).
    pub fn line(file: &str, line: u64) -> Self {
        Provenance {
            file: Some(file.to_owned()),
            line: Some(line),
            ..Self::processed_now()
        }
    }
}

/// The output record: one per accepted article, keyed by `id` on the output topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Enriched {
    /// Always [`SCHEMA_VERSION`].
    pub schema: String,
    pub id: String,
    /// True when the input had no id and `id` was derived from the content.
    pub id_derived: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published_at: Option<DateTime<FixedOffset>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub byline: Option<String>,
    /// Normalized text: the headline, a blank line (`"\n\n"`), then the body's paragraphs separated
    /// by blank lines. Entity spans index into this string in Unicode scalar values (chars).
    /// Omitted when `output.include_text = false` (spans then refer to the text wiredesk analysed).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    /// Length of the headline at the start of `text`, in chars (0 when there is no headline).
    pub title_chars: usize,
    /// Length of `text` in chars.
    pub text_chars: usize,
    /// Named entities (entities stage).
    pub entities: Vec<Entity>,
    /// Subject tags (tags stage).
    pub tags: Vec<Tag>,
    /// Wire-story dedupe decision; null when dedupe is disabled.
    pub dedupe: Option<DedupeResult>,
    /// Input fields wiredesk does not know, passed through untouched.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
    pub provenance: Provenance,
}

impl Enriched {
    /// Start an output record from a parsed article; the stages fill in the rest.
    pub fn from_article(
        article: Article,
        text: String,
        title_chars: usize,
        provenance: Provenance,
    ) -> Self {
        let text_chars = text.chars().count();
        Enriched {
            schema: SCHEMA_VERSION.to_owned(),
            id: article.id,
            id_derived: article.id_derived,
            title: article.title,
            url: article.url,
            source: article.source,
            published_at: article.published_at,
            language: article.language,
            byline: article.byline,
            text,
            title_chars,
            text_chars,
            entities: Vec::new(),
            tags: Vec::new(),
            dedupe: None,
            extra: article.extra,
            provenance,
        }
    }

    /// Event time for windowing: `published_at`, else the Kafka timestamp, else processing time.
    pub fn event_time_ms(&self) -> i64 {
        if let Some(t) = self.published_at {
            return t.timestamp_millis();
        }
        if let Some(t) = self.provenance.timestamp_ms {
            return t;
        }
        chrono::Utc::now().timestamp_millis()
    }
}

/// Entity type.
///
/// * `person`: people, real or fictional ("Donald Trump", "He Lifeng").
/// * `organization`: companies, agencies, ministries, parties, teams, media
///   ("World Trade Organization", "Ministry of Commerce", "Apple", "Reuters").
/// * `location`: countries, regions, cities, landmarks and venues
///   ("China", "Guangdong", "London", "Lancaster House", "White House").
/// * `group`: nationalities and demonyms, political and religious groups
///   ("Chinese", "Americans", "Republicans", "Muslims").
/// * `event`: named events ("World Cup", "World War II", "Davos Summit").
/// * `other`: products, laws, works and other names ("iPhone", "Affordable Care Act").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Person,
    Organization,
    Location,
    Group,
    Event,
    Other,
}

/// One entity of an article (all its mentions merged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Entity {
    /// Canonical name: the gazetteer name, or the longest form used in the article.
    pub name: String,
    /// Entity type.
    #[serde(rename = "type")]
    pub kind: EntityKind,
    /// Number of mentions in the article.
    pub mentions: u32,
    /// Mention offsets `[start, end)` in chars (Unicode scalar values) into the input text,
    /// in text order. Titles ("President"), determiners and possessive "'s" are not included.
    pub spans: Vec<[usize; 2]>,
    /// Salience in 0..1: mention count weighted by position (headline and lead weigh more).
    pub salience: f64,
    /// Known identifiers: `iso3166`, `iso3166-2`, `geonames`, `country`, `wikidata`, `ror`,
    /// `partyfacts`, `sp500`, or user ids.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ids: BTreeMap<String, String>,
}

impl EntityKind {
    /// The snake_case name used in JSON ("person", "organization", ...).
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Person => "person",
            EntityKind::Organization => "organization",
            EntityKind::Location => "location",
            EntityKind::Group => "group",
            EntityKind::Event => "event",
            EntityKind::Other => "other",
        }
    }
}

/// One assigned tag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Tag {
    /// Tag id, e.g. `medtop:20000373` or `wiredesk-issue:tariffs`.
    pub id: String,
    /// Human-readable label.
    pub label: String,
    /// `iptc-medtop` or `wiredesk-issue` (or a scheme from a user taxonomy).
    pub scheme: String,
    /// Confidence-like score in 0..1.
    pub score: f64,
    /// Parent tag id, `None` for a top-level subject.
    pub parent: Option<String>,
    /// Matched phrases (and `entity:` conditions) that support the tag, strongest first.
    pub evidence: Vec<String>,
}

/// Outcome for one article.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct DedupeResult {
    /// `unique` (first of its story cluster) or `duplicate`.
    pub status: DedupeStatus,
    /// Id of the story cluster: the article id of its canonical (first-seen)
    /// article, verbatim. For a unique article this is its own id.
    pub cluster_id: String,
    /// For duplicates, the canonical article's id (same as `cluster_id`).
    pub duplicate_of: Option<String>,
    /// For duplicates, estimated Jaccard similarity (4 decimals) to the
    /// closest article already in the cluster.
    pub similarity: Option<f64>,
    /// True when the store could not be reached and the article was passed as
    /// unique under `on_store_error = "fail_open"`.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub store_error: bool,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DedupeStatus {
    Unique,
    Duplicate,
}

impl DedupeResult {
    pub fn unique(article_id: &str) -> Self {
        DedupeResult {
            status: DedupeStatus::Unique,
            cluster_id: article_id.to_string(),
            duplicate_of: None,
            similarity: None,
            store_error: false,
        }
    }
    pub fn is_duplicate(&self) -> bool {
        self.status == DedupeStatus::Duplicate
    }
}
