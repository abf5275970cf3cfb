//! Configuration: typed, layered, validated at start-up.
//!
//! Layers, later wins: built-in defaults (the `default_*` functions and `Default` impls here), then
//! a TOML file (`--config` or `WIREDESK_CONFIG`), then environment variables
//! `WIREDESK__SECTION__KEY` (double underscores, so Kubernetes service-link variables such as
//! `WIREDESK_SERVICE_PORT` are never read as keys). Unknown keys, wrong types and impossible values
//! stop start-up with one message naming the key. `config/default.toml` documents every key and is
//! kept valid by a test.
//!
//! The `///` docs on fields are the operator documentation; keep them accurate.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

use crate::dedupe::DedupeSettings;
use crate::stage::entities::EntitySettings;
use crate::stage::tags::TagSettings;

/// Environment variable naming the configuration file when `--config` is not given.
pub const CONFIG_ENV: &str = "WIREDESK_CONFIG";
/// Prefix of per-key environment overrides: `WIREDESK__KAFKA__BROKERS`.
pub const ENV_PREFIX: &str = "WIREDESK";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub kafka: KafkaSettings,
    pub topics: TopicSettings,
    pub input: InputSettings,
    pub output: OutputSettings,
    pub processing: ProcessingSettings,
    pub delivery: DeliverySettings,
    pub shutdown: ShutdownSettings,
    pub http: HttpSettings,
    pub log: LogSettings,
    pub entities: EntitySettings,
    pub tags: TagSettings,
    pub dedupe: DedupeSettings,
}

/// Connection to the Kafka cluster, shared by the consumer and the producer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaSettings {
    /// Bootstrap servers, comma-separated `host:port` (librdkafka `bootstrap.servers`).
    pub brokers: String,
    /// Consumer group. Every replica of one deployment uses the same group; Kafka spreads the
    /// input partitions over them.
    pub group_id: String,
    /// Client id reported to the brokers (shows up in broker logs and quotas).
    pub client_id: String,
    /// Where a new group starts reading: `earliest` (default: process the backlog) or `latest`.
    pub auto_offset_reset: String,
    /// Consumer session timeout. Must exceed `shutdown.drain_timeout_ms`, so a draining worker is
    /// not expelled from the group while it finishes work.
    pub session_timeout_ms: u64,
    /// How often librdkafka emits statistics (lag, queue depth) for the metrics; 0 disables them.
    pub statistics_interval_ms: u64,
    /// Producer compression: `none`, `gzip`, `snappy`, `lz4` or `zstd`.
    pub compression: String,
    /// `plaintext`, `ssl`, `sasl_plaintext` or `sasl_ssl`.
    pub security_protocol: String,
    /// SASL mechanism when the protocol is `sasl_*`: `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    pub sasl_mechanism: Option<String>,
    /// SASL user name.
    pub sasl_username: Option<String>,
    /// SASL password. Prefer `sasl_password_file` or the environment variable
    /// `WIREDESK__KAFKA__SASL_PASSWORD` (from a Kubernetes Secret); never printed.
    #[serde(serialize_with = "redact")]
    pub sasl_password: Option<SecretString>,
    /// File holding the SASL password (trailing newline ignored), e.g. a mounted Secret.
    pub sasl_password_file: Option<PathBuf>,
    /// PEM file of the CA that signed the brokers' certificates (TLS).
    pub ssl_ca_location: Option<PathBuf>,
    /// PEM client certificate for mutual TLS.
    pub ssl_certificate_location: Option<PathBuf>,
    /// PEM private key of the client certificate.
    pub ssl_key_location: Option<PathBuf>,
    /// Password of the private key, if it is encrypted; never printed.
    #[serde(serialize_with = "redact")]
    pub ssl_key_password: Option<SecretString>,
    /// Verify that the broker certificate matches its host name. Leave on outside of tests.
    pub ssl_endpoint_identification: bool,
    /// Raw librdkafka properties for the consumer, applied last (they win over the keys above),
    /// e.g. `"fetch.min.bytes" = "65536"`.
    pub consumer: BTreeMap<String, String>,
    /// Raw librdkafka properties for the producer, applied last, e.g. `"linger.ms" = "20"`.
    /// `enable.idempotence` and `acks` cannot be weakened: they protect against loss and reordering.
    pub producer: BTreeMap<String, String>,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        KafkaSettings {
            brokers: "127.0.0.1:9092".into(),
            group_id: "wiredesk".into(),
            client_id: "wiredesk".into(),
            auto_offset_reset: "earliest".into(),
            session_timeout_ms: 45_000,
            statistics_interval_ms: 5_000,
            compression: "zstd".into(),
            security_protocol: "plaintext".into(),
            sasl_mechanism: None,
            sasl_username: None,
            sasl_password: None,
            sasl_password_file: None,
            ssl_ca_location: None,
            ssl_certificate_location: None,
            ssl_key_location: None,
            ssl_key_password: None,
            ssl_endpoint_identification: true,
            consumer: BTreeMap::new(),
            producer: BTreeMap::new(),
        }
    }
}

impl KafkaSettings {
    /// The SASL password from `sasl_password` or, failing that, `sasl_password_file`.
    pub fn resolved_sasl_password(&self) -> anyhow::Result<Option<SecretString>> {
        if let Some(p) = &self.sasl_password {
            return Ok(Some(p.clone()));
        }
        match &self.sasl_password_file {
            None => Ok(None),
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| {
                    format!("reading kafka.sasl_password_file {}", path.display())
                })?;
                Ok(Some(SecretString::from(
                    text.trim_end_matches(['\n', '\r']).to_owned(),
                )))
            }
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopicSettings {
    /// Raw articles are consumed from here.
    pub input: String,
    /// Enriched records are published here, keyed by article id.
    pub output: String,
    /// Rejected input goes here: the original bytes plus `wiredesk-*` reason headers.
    pub dead_letter: String,
    /// Duplicates go here when `dedupe.action = "route"`.
    pub duplicates: String,
}

impl Default for TopicSettings {
    fn default() -> Self {
        TopicSettings {
            input: "raw-articles".into(),
            output: "enriched-articles".into(),
            dead_letter: "raw-articles-dlq".into(),
            duplicates: "enriched-duplicates".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InputSettings {
    /// Larger message values are dead-lettered as `too_large` without being parsed.
    pub max_message_bytes: usize,
    /// Deepest element nesting accepted in HTML headlines and bodies; deeper markup is
    /// dead-lettered as `too_complex` before the HTML tree is built.
    pub max_html_depth: usize,
    /// Most HTML elements (start tags) accepted in one field; more is `too_complex`.
    pub max_html_elements: usize,
}

impl Default for InputSettings {
    fn default() -> Self {
        let html = crate::article::normalize::HtmlLimits::default();
        InputSettings {
            max_message_bytes: 2 * 1024 * 1024,
            max_html_depth: html.max_depth,
            max_html_elements: html.max_elements,
        }
    }
}

impl InputSettings {
    pub fn html_limits(&self) -> crate::article::normalize::HtmlLimits {
        crate::article::normalize::HtmlLimits {
            max_depth: self.max_html_depth,
            max_elements: self.max_html_elements,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputSettings {
    /// Include the normalized `text` in each output record. Turn off to halve record size when
    /// consumers keep the original article elsewhere.
    pub include_text: bool,
    /// Largest record (value + key + headers) wiredesk hands to the producer; the producer's
    /// `message.max.bytes` is set from it. A larger enriched record is dead-lettered as
    /// `output_too_large`, and a dead letter over it carries a truncated copy of the original.
    /// Keep it at or below the topics' `max.message.bytes` (broker default 1048588).
    pub max_record_bytes: usize,
}

impl Default for OutputSettings {
    fn default() -> Self {
        OutputSettings {
            include_text: true,
            max_record_bytes: 1_000_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProcessingSettings {
    /// Messages taken from Kafka but not yet acknowledged by the broker. When reached, the worker
    /// stops fetching (backpressure) until older work is acknowledged.
    pub max_in_flight: usize,
    /// The same bound in bytes of input (value + key + headers) held in memory, including
    /// messages held back while the dedupe store is down.
    pub max_in_flight_bytes: usize,
    /// Articles processed by the stages at the same time, each on its own thread
    /// (0 = number of CPUs).
    pub worker_threads: usize,
    /// CPU time one article may spend in the stages, in milliseconds (0 = no limit). Checked
    /// after parsing, normalization and each stage: an article over budget is dead-lettered as
    /// `too_complex`, so no single input can hold a worker thread for long.
    pub article_budget_ms: u64,
}

impl Default for ProcessingSettings {
    fn default() -> Self {
        ProcessingSettings {
            max_in_flight: 512,
            max_in_flight_bytes: 64 * 1024 * 1024,
            worker_threads: 0,
            article_budget_ms: 5_000,
        }
    }
}

impl ProcessingSettings {
    /// `worker_threads`, with 0 resolved to the number of CPUs.
    pub fn threads(&self) -> usize {
        if self.worker_threads > 0 {
            self.worker_threads
        } else {
            std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliverySettings {
    /// `at_least_once` (default): offsets committed after acknowledgement, a crash re-publishes
    /// the uncommitted tail. `exactly_once`: Kafka transactions carry the output, dead-letter and
    /// duplicates records together with the input offsets, so a `read_committed` reader sees each
    /// input reflected once (docs/delivery.md, "Exactly-once").
    pub mode: DeliveryMode,
    /// Exactly-once: the producer's `transactional.id`. Unset: `<kafka.group_id>-<HOSTNAME>`
    /// (the pod name in Kubernetes). Two live instances must never share one (the older is
    /// fenced and exits); a StatefulSet keeps it across restarts, so a restarted instance aborts
    /// its predecessor's open transaction at once instead of after `transaction_timeout_ms`.
    pub transactional_id: Option<String>,
    /// Exactly-once: commit the open transaction after this long (milliseconds)...
    pub transaction_interval_ms: u64,
    /// ...or once it holds this many input messages, whichever comes first.
    pub transaction_max_messages: usize,
    /// Exactly-once: librdkafka `transaction.timeout.ms`. The broker aborts a transaction left
    /// open longer (a killed instance's), which is also how long `read_committed` readers of its
    /// partitions wait in the worst case. `message_timeout_ms` is capped to it.
    pub transaction_timeout_ms: u64,
    /// librdkafka `message.timeout.ms`: how long the producer retries one record internally.
    pub message_timeout_ms: u64,
    /// After a record still fails, wiredesk re-sends it this many more times before giving up
    /// (and exiting non-zero without committing, so nothing is lost).
    pub max_resends: u32,
    /// First back-off between re-sends; doubles up to `retry_max_backoff_ms`.
    pub retry_backoff_ms: u64,
    pub retry_max_backoff_ms: u64,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            mode: DeliveryMode::AtLeastOnce,
            transactional_id: None,
            transaction_interval_ms: 100,
            transaction_max_messages: 5_000,
            transaction_timeout_ms: 60_000,
            message_timeout_ms: 120_000,
            max_resends: 5,
            retry_backoff_ms: 500,
            retry_max_backoff_ms: 30_000,
        }
    }
}

/// How input offsets and output records are tied together (`delivery.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryMode {
    #[default]
    AtLeastOnce,
    ExactlyOnce,
}

impl DeliverySettings {
    /// The transactional id this instance uses in exactly-once mode.
    pub fn transactional_id(&self, group_id: &str) -> String {
        match &self.transactional_id {
            Some(id) => id.clone(),
            None => {
                let host = std::env::var("HOSTNAME")
                    .ok()
                    .filter(|h| !h.trim().is_empty())
                    .unwrap_or_else(|| "wiredesk".to_owned());
                format!("{group_id}-{host}")
            }
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShutdownSettings {
    /// On SIGTERM/SIGINT, how long to finish in-flight work before committing and exiting. Must be
    /// below `kafka.session_timeout_ms` and below the pod's `terminationGracePeriodSeconds`.
    pub drain_timeout_ms: u64,
}

impl Default for ShutdownSettings {
    fn default() -> Self {
        ShutdownSettings {
            drain_timeout_ms: 20_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Address of the metrics and health server (`/metrics`, `/healthz`, `/readyz`).
    pub listen: String,
    /// `/healthz` (liveness) fails when the worker loop has not turned for this long. A paused
    /// worker (store or broker outage) still turns, so an outage never fails liveness; it fails
    /// readiness (`/readyz`) instead.
    pub stall_timeout_ms: u64,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            listen: "0.0.0.0:9464".into(),
            stall_timeout_ms: 60_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// Filter in `RUST_LOG` syntax (`info`, `wiredesk=debug,rdkafka=warn`). `RUST_LOG` wins when set.
    pub level: String,
    /// `auto` (JSON unless stderr is a terminal), `json` or `pretty`.
    pub format: LogFormat,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            level: "info".into(),
            format: LogFormat::Auto,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Auto,
    Json,
    Pretty,
}

/// librdkafka properties that carry credentials (`sasl.password`, `ssl.key.password`,
/// `sasl.oauthbearer.client.secret`, `ssl.key.pem`, `sasl.oauthbearer.config`, …), in either the
/// dotted or the underscore (environment variable) spelling.
pub fn is_secret_property(key: &str) -> bool {
    let key = key.to_ascii_lowercase().replace('_', ".");
    key.contains("password")
        || key.contains("secret")
        || key.contains("private")
        || key == "ssl.key.pem"
        || key.starts_with("sasl.oauthbearer.config")
        || key.starts_with("ssl.keystore")
}

/// `redis://user:pass@host` → `redis://user:[redacted]@host`; a `pass=`/`password=` query
/// parameter (`redis+unix:///run/redis.sock?pass=…`) is redacted too.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut out = match base.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((userinfo, host)) => match userinfo.split_once(':') {
                Some((user, _password)) => format!("{scheme}://{user}:[redacted]@{host}"),
                None => base.to_owned(),
            },
            None => base.to_owned(),
        },
        None => base.to_owned(),
    };
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((name, _)) if is_secret_param(name) => format!("{name}=[redacted]"),
                _ => param.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

fn is_secret_param(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == "pass" || name.contains("password") || name.contains("secret") || name == "token"
}

fn redact<S: Serializer>(value: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(secret) if !secret.expose_secret().is_empty() => s.serialize_str("[redacted]"),
        _ => s.serialize_none(),
    }
}

impl Settings {
    /// Load the layers and validate. `file` is `--config`; `WIREDESK_CONFIG` is used when absent.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Settings> {
        let env_file = std::env::var_os(CONFIG_ENV).map(PathBuf::from);
        let file = file.map(Path::to_path_buf).or(env_file);
        let mut builder = config::Config::builder();
        if let Some(path) = &file {
            if !path.is_file() {
                bail!("configuration file {} does not exist", path.display());
            }
            builder = builder
                .add_source(config::File::from(path.as_path()).format(config::FileFormat::Toml));
        }
        builder = builder.add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .list_separator(",")
                .with_list_parse_key("entities.gazetteers")
                .with_list_parse_key("tags.extra"),
        );
        let where_from = file
            .as_ref()
            .map(|p| format!(" (file {})", p.display()))
            .unwrap_or_default();
        let raw = builder
            .build()
            .with_context(|| format!("reading configuration{where_from}"))?;
        let settings: Settings = serde_path_to_error::deserialize(raw).map_err(|error| {
            let path = error.path().to_string();
            anyhow::anyhow!(
                "invalid configuration{where_from}: key `{path}`: {}",
                error.into_inner()
            )
        })?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks across fields and of values serde cannot express. Each message names the key.
    pub fn validate(&self) -> anyhow::Result<()> {
        let mut problems = Vec::new();
        let k = &self.kafka;
        if k.brokers.trim().is_empty() {
            problems.push("kafka.brokers must not be empty".to_owned());
        }
        if k.group_id.trim().is_empty() {
            problems.push("kafka.group_id must not be empty".to_owned());
        }
        if !["earliest", "latest"].contains(&k.auto_offset_reset.as_str()) {
            problems.push(format!(
                "kafka.auto_offset_reset must be `earliest` or `latest`, got `{}`",
                k.auto_offset_reset
            ));
        }
        if !["none", "gzip", "snappy", "lz4", "zstd"].contains(&k.compression.as_str()) {
            problems.push(format!(
                "kafka.compression must be none, gzip, snappy, lz4 or zstd, got `{}`",
                k.compression
            ));
        }
        let protocol = k.security_protocol.to_ascii_lowercase();
        if !["plaintext", "ssl", "sasl_plaintext", "sasl_ssl"].contains(&protocol.as_str()) {
            problems.push(format!(
                "kafka.security_protocol must be plaintext, ssl, sasl_plaintext or sasl_ssl, got `{}`",
                k.security_protocol
            ));
        }
        if protocol.starts_with("sasl") {
            match k.sasl_mechanism.as_deref() {
                Some("PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512") => {}
                other => problems.push(format!(
                    "kafka.sasl_mechanism must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 with a sasl_* protocol, got {other:?}"
                )),
            }
            if k.sasl_username.as_deref().unwrap_or("").is_empty() {
                problems.push(
                    "kafka.sasl_username is required with a sasl_* security_protocol".to_owned(),
                );
            }
            if k.sasl_password.is_none() && k.sasl_password_file.is_none() {
                problems.push("kafka.sasl_password or kafka.sasl_password_file is required with a sasl_* security_protocol".to_owned());
            }
        }
        for (key, path) in [
            ("kafka.ssl_ca_location", &k.ssl_ca_location),
            (
                "kafka.ssl_certificate_location",
                &k.ssl_certificate_location,
            ),
            ("kafka.ssl_key_location", &k.ssl_key_location),
            ("kafka.sasl_password_file", &k.sasl_password_file),
        ] {
            if let Some(path) = path
                && !path.is_file()
            {
                problems.push(format!("{key}: file {} does not exist", path.display()));
            }
        }
        // Pass-through properties are applied last, so they could undo the delivery guarantees:
        // refuse the ones that would. Keys are compared the way they reach librdkafka
        // (underscores from environment variables read as dots).
        for (key, value) in k.producer.iter() {
            let name = crate::kafka::librdkafka_key(key);
            let value = value.trim().to_ascii_lowercase();
            let weakening = (name == "enable.idempotence" && value != "true")
                || (["acks", "request.required.acks"].contains(&name.as_str())
                    && !["all", "-1"].contains(&value.as_str()))
                || (["retries", "message.send.max.retries"].contains(&name.as_str())
                    && value == "0");
            if weakening {
                problems.push(format!("kafka.producer.\"{key}\" = \"{value}\" would allow loss or reordering; remove it"));
            }
        }
        for (key, value) in k.consumer.iter() {
            let name = crate::kafka::librdkafka_key(key);
            let value = value.trim().to_ascii_lowercase();
            let weakening = (name == "enable.auto.offset.store" && value != "false")
                || (name == "enable.auto.commit" && value != "true")
                || name == "group.id";
            if weakening {
                problems.push(format!("kafka.consumer.\"{key}\" = \"{value}\" would commit offsets of unfinished work or bypass kafka.group_id; remove it"));
            }
        }
        for (key, topic) in [
            ("topics.input", &self.topics.input),
            ("topics.output", &self.topics.output),
            ("topics.dead_letter", &self.topics.dead_letter),
            ("topics.duplicates", &self.topics.duplicates),
        ] {
            if topic.trim().is_empty() {
                problems.push(format!("{key} must not be empty"));
            }
        }
        if self.topics.output == self.topics.input
            || self.topics.dead_letter == self.topics.input
            || self.topics.duplicates == self.topics.input
        {
            problems.push(
                "topics.output, topics.dead_letter and topics.duplicates must differ from topics.input (a loop)"
                    .to_owned(),
            );
        }
        if self.input.max_message_bytes == 0 {
            problems.push("input.max_message_bytes must be positive".to_owned());
        }
        if self.input.max_html_depth == 0 || self.input.max_html_elements == 0 {
            problems.push(
                "input.max_html_depth and input.max_html_elements must be positive".to_owned(),
            );
        }
        if !(4096..=100_000_000).contains(&self.output.max_record_bytes) {
            problems.push(format!(
                "output.max_record_bytes must be in 4096..=100000000, got {}",
                self.output.max_record_bytes
            ));
        }
        if self.processing.max_in_flight_bytes < self.input.max_message_bytes {
            problems.push(format!(
                "processing.max_in_flight_bytes ({}) must be at least input.max_message_bytes ({}), or one large message could never be taken",
                self.processing.max_in_flight_bytes, self.input.max_message_bytes
            ));
        }
        if self.processing.worker_threads > 1024 {
            problems.push(format!(
                "processing.worker_threads must be at most 1024 (0 = CPUs), got {}",
                self.processing.worker_threads
            ));
        }
        if !(1..=100_000).contains(&self.processing.max_in_flight) {
            problems.push(format!(
                "processing.max_in_flight must be in 1..=100000, got {}",
                self.processing.max_in_flight
            ));
        }
        if self.shutdown.drain_timeout_ms >= k.session_timeout_ms {
            problems.push(format!(
                "shutdown.drain_timeout_ms ({}) must be less than kafka.session_timeout_ms ({})",
                self.shutdown.drain_timeout_ms, k.session_timeout_ms
            ));
        }
        if self.delivery.mode == DeliveryMode::ExactlyOnce {
            let d = &self.delivery;
            if d.transaction_interval_ms == 0 || d.transaction_max_messages == 0 {
                problems.push("delivery.transaction_interval_ms and delivery.transaction_max_messages must be positive".to_owned());
            }
            if !(1_000..=900_000).contains(&d.transaction_timeout_ms)
                || d.transaction_interval_ms >= d.transaction_timeout_ms
            {
                problems.push(format!("delivery.transaction_timeout_ms must be in 1000..=900000 (the broker's default transaction.max.timeout.ms) and above delivery.transaction_interval_ms, got {}", d.transaction_timeout_ms));
            }
            if d.transactional_id
                .as_deref()
                .is_some_and(|id| id.trim().is_empty())
            {
                problems.push("delivery.transactional_id must not be empty when set".to_owned());
            }
            for (key, value) in k.consumer.iter() {
                let name = crate::kafka::librdkafka_key(key);
                if name == "isolation.level" && value.trim() != "read_committed" {
                    problems.push(format!("kafka.consumer.\"{key}\" = \"{value}\": exactly-once reads only committed input (isolation.level = read_committed); remove it"));
                }
            }
            for key in k.producer.keys() {
                let name = crate::kafka::librdkafka_key(key);
                if name == "transactional.id" || name == "transaction.timeout.ms" {
                    problems.push(format!("kafka.producer.\"{key}\": set delivery.transactional_id / delivery.transaction_timeout_ms instead"));
                }
            }
        }
        if self.delivery.retry_backoff_ms == 0
            || self.delivery.retry_backoff_ms > self.delivery.retry_max_backoff_ms
        {
            problems.push("delivery.retry_backoff_ms must be positive and at most delivery.retry_max_backoff_ms".to_owned());
        }
        if self.http.listen.parse::<SocketAddr>().is_err() {
            problems.push(format!(
                "http.listen must be an address like 0.0.0.0:9464, got `{}`",
                self.http.listen
            ));
        }
        if let Err(problem) = self.dedupe.validate() {
            problems.push(problem);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            bail!("invalid configuration: {}", problems.join("; "))
        }
    }

    /// The effective configuration as TOML with secrets replaced by `[redacted]`: the password
    /// keys, any pass-through librdkafka property whose name mentions a password or secret, and
    /// the password part of a Redis URL.
    pub fn to_redacted_toml(&self) -> anyhow::Result<String> {
        let mut value = toml::Value::try_from(self).context("rendering the configuration")?;
        for side in ["consumer", "producer"] {
            if let Some(toml::Value::Table(table)) =
                value.get_mut("kafka").and_then(|k| k.get_mut(side))
            {
                for (key, entry) in table.iter_mut() {
                    if is_secret_property(key) {
                        *entry = toml::Value::String("[redacted]".into());
                    }
                }
            }
        }
        if let Some(toml::Value::String(url)) = value
            .get_mut("dedupe")
            .and_then(|d| d.get_mut("redis"))
            .and_then(|r| r.get_mut("url"))
        {
            *url = redact_url(url);
        }
        toml::to_string_pretty(&value).context("rendering the configuration")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(toml_text: &str) -> anyhow::Result<Settings> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("c.toml");
        std::fs::write(&path, toml_text)?;
        Settings::load(Some(&path))
    }

    /// config/default.toml must load and agree with the built-in defaults (Vector `generate_config`).
    #[test]
    fn default_toml_is_valid_and_matches_builtin_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml");
        let from_file = Settings::load(Some(&path)).expect("config/default.toml loads");
        assert_eq!(
            from_file.to_redacted_toml().unwrap(),
            Settings::default().to_redacted_toml().unwrap(),
            "config/default.toml and the built-in defaults disagree"
        );
    }

    #[test]
    fn unknown_key_is_named() {
        let error = format!("{:#}", load_str("[kafka]\nbrokerz = \"x\"\n").unwrap_err());
        assert!(
            error.contains("kafka.brokerz")
                || (error.contains("kafka") && error.contains("brokerz")),
            "{error}"
        );
    }

    #[test]
    fn wrong_type_is_named() {
        let error = format!(
            "{:#}",
            load_str("[processing]\nmax_in_flight = \"many\"\n").unwrap_err()
        );
        assert!(error.contains("processing.max_in_flight"), "{error}");
    }

    #[test]
    fn impossible_values_are_named() {
        let error = format!(
            "{:#}",
            load_str("[processing]\nmax_in_flight = 0\n").unwrap_err()
        );
        assert!(error.contains("processing.max_in_flight"), "{error}");
        let error = format!(
            "{:#}",
            load_str("[shutdown]\ndrain_timeout_ms = 90000\n").unwrap_err()
        );
        assert!(error.contains("shutdown.drain_timeout_ms"), "{error}");
        let error = format!(
            "{:#}",
            load_str("[kafka.producer]\nacks = \"1\"\n").unwrap_err()
        );
        assert!(error.contains("acks"), "{error}");
    }

    #[test]
    fn exactly_once_settings_are_checked() {
        let s =
            load_str("[delivery]\nmode = \"exactly_once\"\ntransactional_id = \"wd-1\"\n").unwrap();
        assert_eq!(s.delivery.mode, DeliveryMode::ExactlyOnce);
        assert_eq!(s.delivery.transactional_id("g"), "wd-1");
        for (text, key) in [
            (
                "[delivery]\nmode = \"exactly_once\"\ntransaction_timeout_ms = 50\n",
                "delivery.transaction_timeout_ms",
            ),
            (
                "[delivery]\nmode = \"exactly_once\"\ntransaction_interval_ms = 0\n",
                "delivery.transaction_interval_ms",
            ),
            (
                "[delivery]\nmode = \"exactly_once\"\ntransactional_id = \" \"\n",
                "delivery.transactional_id",
            ),
            (
                "[delivery]\nmode = \"exactly_once\"\n[kafka.consumer]\nisolation_level = \"read_uncommitted\"\n",
                "isolation_level",
            ),
            (
                "[delivery]\nmode = \"exactly_once\"\n[kafka.producer]\n\"transactional.id\" = \"x\"\n",
                "transactional.id",
            ),
        ] {
            let error = format!("{:#}", load_str(text).unwrap_err());
            assert!(error.contains(key), "{key}: {error}");
        }
        assert!(load_str("[delivery]\nmode = \"exactly-once\"\n").is_err());
        // The same pass-through is fine at least once (nothing to weaken there).
        load_str("[kafka.consumer]\nisolation_level = \"read_uncommitted\"\n").unwrap();
    }

    #[test]
    fn secrets_are_redacted() {
        let s = load_str(
            "[kafka]\nsecurity_protocol = \"sasl_plaintext\"\nsasl_mechanism = \"SCRAM-SHA-256\"\nsasl_username = \"u\"\nsasl_password = \"hunter2-very-secret\"\n",
        )
        .unwrap();
        let printed = s.to_redacted_toml().unwrap();
        assert!(!printed.contains("hunter2-very-secret"), "{printed}");
        assert!(printed.contains("[redacted]"));
        assert!(!format!("{s:?}").contains("hunter2-very-secret"));
    }

    #[test]
    fn passthrough_and_url_secrets_are_redacted() {
        let s = load_str(
            "[kafka.consumer]\n\"sasl.oauthbearer.client.secret\" = \"s3cr3t-value\"\n\"fetch.min.bytes\" = \"1\"\n[dedupe.redis]\nurl = \"redis://app:r3dis-pass@cache:6379/0\"\n",
        )
        .unwrap();
        let printed = s.to_redacted_toml().unwrap();
        assert!(
            !printed.contains("s3cr3t-value") && !printed.contains("r3dis-pass"),
            "{printed}"
        );
        assert!(
            printed.contains("redis://app:[redacted]@cache:6379/0"),
            "{printed}"
        );
        assert!(printed.contains("\"fetch.min.bytes\" = \"1\""), "{printed}");
    }

    #[test]
    fn more_secret_properties_and_url_query_passwords_are_redacted() {
        let s = load_str(
            "[kafka.producer]\n\"ssl.key.pem\" = \"-----BEGIN PRIVATE KEY-----abc\"\n\"sasl.oauthbearer.config\" = \"principal=x secret=tok3n\"\nssl_keystore_password = \"ks-pass\"\n[dedupe.redis]\nurl = \"redis+unix:///run/redis.sock?db=0&pass=unix-s3cret\"\n",
        )
        .unwrap();
        let printed = s.to_redacted_toml().unwrap();
        for secret in ["BEGIN PRIVATE KEY", "tok3n", "ks-pass", "unix-s3cret"] {
            assert!(!printed.contains(secret), "{secret} printed:\n{printed}");
        }
        assert!(printed.contains("?db=0&pass=[redacted]"), "{printed}");
    }

    #[test]
    fn guards_refuse_settings_that_would_lose_or_loop() {
        for (toml_text, key) in [
            (
                "[kafka.consumer]\n\"enable.auto.offset.store\" = \"true\"\n",
                "enable.auto.offset.store",
            ),
            (
                "[kafka.consumer]\nenable_auto_commit = \"false\"\n",
                "enable_auto_commit",
            ),
            (
                "[kafka.producer]\nenable_idempotence = \"false\"\n",
                "enable_idempotence",
            ),
            (
                "[kafka.producer]\n\"request.required.acks\" = \"1\"\n",
                "request.required.acks",
            ),
            ("[kafka.producer]\nretries = \"0\"\n", "retries"),
            (
                "[topics]\ninput = \"raw\"\nduplicates = \"raw\"\n",
                "topics.duplicates",
            ),
            (
                "[output]\nmax_record_bytes = 10\n",
                "output.max_record_bytes",
            ),
            (
                "[processing]\nmax_in_flight_bytes = 1000\n",
                "processing.max_in_flight_bytes",
            ),
        ] {
            let error = format!("{:#}", load_str(toml_text).unwrap_err());
            assert!(error.contains(key), "{key}: {error}");
        }
        // The safe spellings pass.
        load_str("[kafka.producer]\nenable_idempotence = \"true\"\nacks = \"-1\"\n").unwrap();
    }

    #[test]
    fn worker_threads_zero_means_the_cpu_count() {
        let s = Settings::default();
        assert_eq!(s.processing.worker_threads, 0);
        assert_eq!(
            s.processing.threads(),
            std::thread::available_parallelism().unwrap().get()
        );
    }

    #[test]
    fn sasl_needs_credentials() {
        let error = format!(
            "{:#}",
            load_str("[kafka]\nsecurity_protocol = \"sasl_ssl\"\n").unwrap_err()
        );
        assert!(
            error.contains("kafka.sasl_mechanism") && error.contains("kafka.sasl_username"),
            "{error}"
        );
    }
}
