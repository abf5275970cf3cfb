//! Near-duplicate wire-story detection.
//!
//! Pipeline: [`Fingerprinter::fingerprint`] (pure CPU: boilerplate removal,
//! normalization, b-bit MinHash over word shingles) → [`Deduper::decide`]
//! (LSH candidate lookup + similarity confirmation + insert, atomically, in a
//! [`Store`]). See `docs/dedupe.md` for the method, settings and measurements.

pub mod cluster;
pub mod fingerprint;
pub mod memory;
pub mod redis;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use schemars::JsonSchema;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// The wire types of a dedupe decision live with the other v1 types.
pub use crate::article::{DedupeResult, DedupeStatus};
pub use fingerprint::{Fingerprint, Fingerprinter};

/// Settings of the `dedupe` stage (config section `[dedupe]`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DedupeSettings {
    /// Run the dedupe stage (default true, with the in-memory store). When
    /// false, every article passes through with `dedupe: null`.
    pub enabled: bool,
    /// Where fingerprints live: `memory` (per process, lost on restart),
    /// `redis` (one Redis or a Sentinel-managed primary at `redis.url`, shared by
    /// all replicas, survives restarts) or `redis_cluster` (a Redis Cluster
    /// reached through `redis.cluster_urls`). Use a Redis store as soon as more
    /// than one replica consumes the topic.
    pub store: StoreKind,
    /// What the worker does with a duplicate: `drop` it, `tag` it (publish with
    /// `dedupe.status = "duplicate"`), or `route` it to the duplicates topic.
    pub action: DuplicateAction,
    /// Estimated Jaccard similarity of word shingles at or above which two
    /// articles are the same story, in (0, 1]. Lower catches heavier edits but
    /// merges more same-subject stories. 0.4 was chosen on the eval set
    /// (hard negatives peak at 0.20; 10 %-word-edited copies bottom out at 0.48).
    pub threshold: f64,
    /// Containment path, floor: a candidate whose estimated Jaccard is below
    /// `threshold` can still be a duplicate if it reaches this floor *and* the
    /// estimated containment (shorter text's shingles found in the longer one)
    /// reaches `containment_threshold`. Catches trimmed and more heavily
    /// rewritten republications; the floor stops short texts that merely
    /// share a paragraph with a longer one. In (0, 1]; values above
    /// `threshold` act as `threshold` (containment path off).
    pub min_jaccard: f64,
    /// Containment path: estimated `|A∩B| / min(|A|,|B|)` at or above which a
    /// candidate that reaches `min_jaccard` is a duplicate, in (0, 1].
    pub containment_threshold: f64,
    /// Words per shingle. Smaller shingles tolerate word edits better but make
    /// same-subject stories look more alike. 3 was chosen on the eval set.
    pub shingle_size: usize,
    /// MinHash functions (signature bytes per article). More hashes give a
    /// tighter similarity estimate (std. dev. ~ sqrt(J(1-J)/num_hashes)) but
    /// cost index memory one byte each. Changing it invalidates stored
    /// signatures (use a new `redis.key_prefix`).
    pub num_hashes: usize,
    /// LSH bands. Unset (default): derived from `threshold` and `num_hashes`
    /// by minimising the false positive + false negative area of the LSH curve,
    /// with at least 3 rows per band. More bands find more candidates (recall)
    /// at the cost of memory (about 6 bytes per band per article) and lookups.
    pub bands: Option<usize>,
    /// Window in seconds of event time (published_at, else message timestamp)
    /// within which a repeat counts as a duplicate. Default 72 h. Also the TTL
    /// of Redis keys.
    pub window_secs: u64,
    /// Memory store only: maximum articles held; the oldest are evicted first
    /// when full. Memory is about 250 bytes per article at the defaults.
    pub max_entries: usize,
    /// What happens while the store (Redis) is unreachable after the bounded
    /// retry: `fail_open` publishes the article as unique with
    /// `store_error: true` (and counts it); `fail_closed` returns an error so
    /// the worker pauses consumption and retries until the store is back.
    pub on_store_error: StoreErrorPolicy,
    /// Retries of a failed store call inside one `decide` before the policy
    /// applies.
    pub store_retries: u32,
    /// Delay before the first retry, doubled on each further retry.
    pub retry_backoff_ms: u64,
    /// `fail_open` circuit breaker: after this many consecutive articles whose store call
    /// failed (after retries), stop calling the store for `breaker_open_ms` and pass articles
    /// as unique at once, while a background probe waits for the store to answer. 0 = off.
    pub breaker_failures: u32,
    /// How long the breaker stays open before the next background probe, in milliseconds.
    pub breaker_open_ms: u64,
    /// Event times further than this in the future (a `9999-12-31` placeholder, an embargo
    /// date) are read as now + this skew, so one article cannot move the window and expire
    /// everything held. Seconds.
    pub max_future_skew_secs: u64,
    /// Redis store connection settings (used when `store = "redis"` or
    /// `"redis_cluster"`).
    pub redis: RedisSettings,
}

impl Default for DedupeSettings {
    fn default() -> Self {
        DedupeSettings {
            enabled: true,
            store: StoreKind::Memory,
            action: DuplicateAction::Tag,
            threshold: 0.4,
            min_jaccard: 0.25,
            containment_threshold: 0.6,
            shingle_size: 3,
            num_hashes: 64,
            bands: None,
            window_secs: 72 * 3600,
            max_entries: 1_000_000,
            on_store_error: StoreErrorPolicy::FailOpen,
            store_retries: 2,
            retry_backoff_ms: 100,
            breaker_failures: 3,
            breaker_open_ms: 5_000,
            max_future_skew_secs: 3_600,
            redis: RedisSettings::default(),
        }
    }
}

/// Redis connection settings for the shared store.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RedisSettings {
    /// Redis URL, e.g. `redis://127.0.0.1:6379/0` (`rediss://` for TLS).
    pub url: String,
    /// Prefix of every key this store writes. Replicas that must share
    /// decisions use the same prefix; change it when changing `num_hashes` or
    /// `shingle_size`.
    pub key_prefix: String,
    /// Timeout in milliseconds for connecting and for each store call.
    pub timeout_ms: u64,
    /// Password, if not in the URL. Never logged or serialized. With
    /// `store = "redis_cluster"` it is the only place for one (every node uses it).
    #[serde(
        serialize_with = "ser_secret",
        deserialize_with = "de_secret",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<String>")]
    pub password: Option<SecretString>,
    /// `store = "redis_cluster"`: seed nodes, e.g. `["redis://10.0.0.1:6379",
    /// "redis://10.0.0.2:6379"]` (`rediss://` for TLS); the client discovers the
    /// other masters from any one of them. A user name may be in the URLs, a
    /// password may not (use `password`). In an environment variable, a
    /// comma-separated list.
    #[serde(deserialize_with = "de_url_list")]
    #[schemars(with = "Vec<String>")]
    pub cluster_urls: Vec<String>,
    /// `store = "redis_cluster"`: article ids kept per LSH bucket (the newest).
    /// A story republished more often than this within the window is still
    /// found through the newer copies, which carry its cluster id; larger
    /// values cost memory (about 20 bytes per id) and per-call work. 1..=64.
    pub cluster_bucket_len: usize,
}

impl Default for RedisSettings {
    fn default() -> Self {
        RedisSettings {
            url: "redis://127.0.0.1:6379".into(),
            key_prefix: "wiredesk:dedupe:".into(),
            timeout_ms: 500,
            password: None,
            cluster_urls: Vec::new(),
            cluster_bucket_len: 8,
        }
    }
}

fn ser_secret<S: serde::Serializer>(_: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("[redacted]")
}

fn de_secret<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(SecretString::from))
}

/// A list of URLs, or one comma-separated string: how a list arrives from an environment
/// variable (`WIREDESK__DEDUPE__REDIS__CLUSTER_URLS=redis://a:6379,redis://b:6379`).
fn de_url_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Urls {
        List(Vec<String>),
        Csv(String),
    }
    Ok(match Urls::deserialize(d)? {
        Urls::List(urls) => urls,
        Urls::Csv(csv) => csv
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(String::from)
            .collect(),
    })
}

/// Which store backs the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum StoreKind {
    #[default]
    Memory,
    Redis,
    RedisCluster,
}

/// What the worker does with an article found to be a duplicate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateAction {
    /// Do not publish duplicates (the offset is still committed).
    Drop,
    /// Publish duplicates with their `dedupe` field (default).
    #[default]
    Tag,
    /// Publish duplicates to a separate topic.
    Route,
}

/// Behaviour while the store is unreachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum StoreErrorPolicy {
    /// Publish as unique, flagged `store_error: true`, and count it.
    #[default]
    FailOpen,
    /// Return the error; the worker pauses and retries until the store is back.
    FailClosed,
}

impl DedupeSettings {
    /// Checks ranges; the message names the offending key.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return Err(format!(
                "dedupe.threshold must be in (0,1], got {}",
                self.threshold
            ));
        }
        if !(self.min_jaccard > 0.0 && self.min_jaccard <= 1.0) {
            return Err(format!(
                "dedupe.min_jaccard must be in (0,1], got {}",
                self.min_jaccard
            ));
        }
        if !(self.containment_threshold > 0.0 && self.containment_threshold <= 1.0) {
            return Err(format!(
                "dedupe.containment_threshold must be in (0,1], got {}",
                self.containment_threshold
            ));
        }
        if !(1..=16).contains(&self.shingle_size) {
            return Err(format!(
                "dedupe.shingle_size must be in 1..=16, got {}",
                self.shingle_size
            ));
        }
        if !(8..=1024).contains(&self.num_hashes) {
            return Err(format!(
                "dedupe.num_hashes must be in 8..=1024, got {}",
                self.num_hashes
            ));
        }
        if let Some(b) = self.bands
            && (b == 0 || b > self.num_hashes)
        {
            return Err(format!(
                "dedupe.bands must be in 1..=dedupe.num_hashes ({}), got {b}",
                self.num_hashes
            ));
        }
        if self.window_secs == 0 {
            return Err("dedupe.window_secs must be > 0".into());
        }
        if self.max_entries == 0 || self.max_entries > (1 << 30) {
            return Err(format!(
                "dedupe.max_entries must be in 1..=2^30, got {}",
                self.max_entries
            ));
        }
        if self.store == StoreKind::Redis {
            if self.redis.url.trim().is_empty() {
                return Err("dedupe.redis.url must be set when dedupe.store = \"redis\"".into());
            }
            if self.redis.key_prefix.is_empty() {
                return Err("dedupe.redis.key_prefix must not be empty".into());
            }
        }
        if self.store == StoreKind::RedisCluster {
            self.validate_cluster()?;
        }
        if self.redis.timeout_ms == 0 {
            return Err("dedupe.redis.timeout_ms must be > 0".into());
        }
        Ok(())
    }

    /// `store = "redis_cluster"` checks. URLs are never echoed: one might carry a password.
    fn validate_cluster(&self) -> Result<(), String> {
        use ::redis::IntoConnectionInfo;
        let r = &self.redis;
        if r.cluster_urls.is_empty() {
            return Err(
                "dedupe.redis.cluster_urls must list at least one node when dedupe.store = \"redis_cluster\""
                    .into(),
            );
        }
        for (i, url) in r.cluster_urls.iter().enumerate() {
            let info = url
                .as_str()
                .into_connection_info()
                .map_err(|e| format!("dedupe.redis.cluster_urls[{i}] is not a Redis URL: {e}"))?;
            if info.redis_settings().password().is_some() {
                return Err(format!(
                    "dedupe.redis.cluster_urls[{i}] carries a password; put it in dedupe.redis.password \
                     (a secret, never printed) instead"
                ));
            }
        }
        // A brace in the prefix would become every key's hash tag: one slot for everything.
        if r.key_prefix.is_empty() || r.key_prefix.contains(['{', '}']) {
            return Err(format!(
                "dedupe.redis.key_prefix must be non-empty and without braces with dedupe.store = \"redis_cluster\", got {:?}",
                r.key_prefix
            ));
        }
        if !(1..=64).contains(&r.cluster_bucket_len) {
            return Err(format!(
                "dedupe.redis.cluster_bucket_len must be in 1..=64, got {}",
                r.cluster_bucket_len
            ));
        }
        Ok(())
    }

    /// `(bands, rows)`: the configured band count (rows = num_hashes / bands)
    /// or the layout derived from the threshold.
    pub fn band_layout(&self) -> (usize, usize) {
        match self.bands {
            Some(b) => (b, (self.num_hashes / b).max(1)),
            None => fingerprint::optimal_bands(self.threshold, self.num_hashes, 3),
        }
    }
}

/// A store call failed.
#[derive(thiserror::Error, Debug)]
pub enum StoreError {
    #[error("dedupe redis store: {op} failed: {source}")]
    Redis {
        op: &'static str,
        #[source]
        source: ::redis::RedisError,
    },
    #[error("dedupe redis store: {op} timed out after {ms} ms")]
    Timeout { op: &'static str, ms: u64 },
    #[error("dedupe redis store: unexpected reply to {op}: {detail}")]
    Protocol { op: &'static str, detail: String },
    #[error("dedupe memory store: index lock poisoned by a panic in another thread")]
    Poisoned,
    #[error("dedupe store: fingerprint has {got} hashes, store expects {want}")]
    SignatureLength { got: usize, want: usize },
}

impl StoreError {
    /// Whether the store is unavailable (worth waiting for: connection refused or dropped,
    /// timeouts, a loading or failing-over server, rejected credentials or ACLs that an operator
    /// will fix) rather than refusing this one call for good (a script error, a wrong key type,
    /// a reply we cannot read). Only an outage pauses a `fail_closed` worker; a permanent error
    /// costs one article its decision.
    pub fn is_outage(&self) -> bool {
        match self {
            StoreError::Timeout { .. } => true,
            StoreError::Redis { source, .. } => {
                use ::redis::{ErrorKind, RetryMethod, ServerErrorKind};
                matches!(
                    source.kind(),
                    ErrorKind::AuthenticationFailed | ErrorKind::Server(ServerErrorKind::NoPerm)
                ) || !matches!(source.retry_method(), RetryMethod::NoRetry)
            }
            StoreError::Protocol { .. }
            | StoreError::Poisoned
            | StoreError::SignatureLength { .. } => false,
        }
    }
}

/// The `fail_open` circuit breaker's state (see `DedupeSettings::breaker_failures`).
#[derive(Default)]
struct Breaker {
    consecutive_failures: std::sync::atomic::AtomicU32,
    /// Unix ms until which the store is skipped; 0 = closed.
    open_until_ms: std::sync::atomic::AtomicI64,
    probing: std::sync::atomic::AtomicBool,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Await one Redis call (a connection attempt, a command, a script) for at most `timeout` (a
/// black-holed address would otherwise wait for the OS's TCP timeout), naming `op` in either
/// failure. Both Redis stores bound every call with it.
async fn within<T>(
    timeout: Duration,
    op: &'static str,
    call: impl std::future::Future<Output = Result<T, ::redis::RedisError>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(timeout, call)
        .await
        .map_err(|_| StoreError::Timeout {
            op,
            ms: timeout.as_millis() as u64,
        })?
        .map_err(|source| StoreError::Redis { op, source })
}

/// The index backend.
pub enum Store {
    Memory(memory::MemoryStore),
    Redis(self::redis::RedisStore),
    RedisCluster(cluster::RedisClusterStore),
}

impl Store {
    /// Builds the configured store (connects to Redis for `store = "redis"` or `"redis_cluster"`).
    pub async fn connect(s: &DedupeSettings) -> anyhow::Result<Self> {
        s.validate().map_err(anyhow::Error::msg)?;
        Ok(match s.store {
            StoreKind::Memory => Store::Memory(memory::MemoryStore::new(s)),
            StoreKind::Redis => Store::Redis(self::redis::RedisStore::connect(s).await?),
            StoreKind::RedisCluster => {
                Store::RedisCluster(cluster::RedisClusterStore::connect(s).await?)
            }
        })
    }

    /// Atomically: if `article_id` was seen before, returns the stored result
    /// (replay); else finds the most similar live article within the window,
    /// decides unique/duplicate, records this article and returns the result.
    pub async fn check_and_insert(
        &self,
        article_id: &str,
        fp: &Fingerprint,
        event_time_ms: i64,
    ) -> Result<DedupeResult, StoreError> {
        match self {
            Store::Memory(m) => m.check_and_insert(article_id, fp, event_time_ms),
            Store::Redis(r) => r.check_and_insert(article_id, fp, event_time_ms).await,
            Store::RedisCluster(c) => c.check_and_insert(article_id, fp, event_time_ms).await,
        }
    }

    /// Health check (always Ok for memory).
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Store::Memory(_) => Ok(()),
            Store::Redis(r) => r.ping().await,
            Store::RedisCluster(c) => c.ping().await,
        }
    }

    /// Articles held (memory store only).
    pub fn entries(&self) -> Option<u64> {
        match self {
            Store::Memory(m) => Some(m.entries()),
            Store::Redis(_) | Store::RedisCluster(_) => None,
        }
    }

    /// Approximate index bytes (memory store only).
    pub fn approx_bytes(&self) -> Option<u64> {
        match self {
            Store::Memory(m) => Some(m.approx_bytes()),
            Store::Redis(_) | Store::RedisCluster(_) => None,
        }
    }
}

/// Store + fingerprinter + failure policy: what the worker calls.
pub struct Deduper {
    store: std::sync::Arc<Store>,
    fingerprinter: Fingerprinter,
    policy: StoreErrorPolicy,
    retries: u32,
    backoff: Duration,
    breaker_failures: u32,
    breaker_open_ms: i64,
    max_future_skew_ms: i64,
    breaker: std::sync::Arc<Breaker>,
    fail_open_count: AtomicU64,
}

impl Deduper {
    pub fn new(store: Store, s: &DedupeSettings) -> Self {
        Deduper {
            store: std::sync::Arc::new(store),
            fingerprinter: Fingerprinter::new(s),
            policy: s.on_store_error,
            retries: s.store_retries,
            backoff: Duration::from_millis(s.retry_backoff_ms),
            breaker_failures: s.breaker_failures,
            breaker_open_ms: s.breaker_open_ms as i64,
            max_future_skew_ms: (s.max_future_skew_secs as i64).saturating_mul(1000),
            breaker: std::sync::Arc::new(Breaker::default()),
            fail_open_count: AtomicU64::new(0),
        }
    }

    /// Validates the settings, connects the store and builds the deduper.
    pub async fn from_settings(s: &DedupeSettings) -> anyhow::Result<Self> {
        Ok(Self::new(Store::connect(s).await?, s))
    }

    /// Same as [`Deduper::from_settings`] (the name the worker uses).
    pub async fn connect(s: &DedupeSettings) -> anyhow::Result<Self> {
        Self::from_settings(s).await
    }

    /// Store health check (always Ok for the memory store).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.store.ping().await
    }

    /// Articles held (memory store only).
    pub fn entries(&self) -> Option<u64> {
        self.store.entries()
    }

    /// Approximate index bytes (memory store only).
    pub fn approx_bytes(&self) -> Option<u64> {
        self.store.approx_bytes()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn fingerprinter(&self) -> &Fingerprinter {
        &self.fingerprinter
    }

    /// Number of articles passed as unique because the store was down.
    pub fn fail_open_count(&self) -> u64 {
        self.fail_open_count.load(Ordering::Relaxed)
    }

    /// Whether the `fail_open` breaker is open (the store is being skipped).
    pub fn breaker_open(&self) -> bool {
        self.breaker.open_until_ms.load(Ordering::Relaxed) != 0
    }

    /// `check_and_insert` with `store_retries` retries (exponential backoff),
    /// then the `on_store_error` policy: `fail_open` → `Ok(unique)` with
    /// `store_error: true`; `fail_closed` → `Err`, and the caller pauses
    /// consumption and calls again later (the call is idempotent per id) when
    /// [`StoreError::is_outage`], or gives up on this article when not.
    ///
    /// Event times more than `max_future_skew_secs` ahead of the wall clock are clamped to it.
    /// Under `fail_open`, `breaker_failures` failed articles in a row open a circuit breaker:
    /// articles pass at once, without waiting for the store, until a background probe
    /// (every `breaker_open_ms`) finds it answering again.
    pub async fn decide(
        &self,
        article_id: &str,
        fp: &Fingerprint,
        event_time_ms: i64,
    ) -> Result<DedupeResult, StoreError> {
        let event_time_ms = event_time_ms.min(now_ms().saturating_add(self.max_future_skew_ms));
        if self.policy == StoreErrorPolicy::FailOpen && self.breaker_skips() {
            return Ok(self.pass_open(article_id, None));
        }
        let mut delay = self.backoff;
        let mut attempt = 0;
        loop {
            match self
                .store
                .check_and_insert(article_id, fp, event_time_ms)
                .await
            {
                Ok(r) => {
                    self.breaker
                        .consecutive_failures
                        .store(0, Ordering::Relaxed);
                    return Ok(r);
                }
                Err(e) if !e.is_outage() || attempt >= self.retries => {
                    if e.is_outage() {
                        self.record_failure();
                    }
                    return match self.policy {
                        StoreErrorPolicy::FailClosed => Err(e),
                        StoreErrorPolicy::FailOpen => Ok(self.pass_open(article_id, Some(&e))),
                    };
                }
                Err(e) => {
                    tracing::debug!(article_id, attempt, error = %e, "dedupe store call failed; retrying");
                    attempt += 1;
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2);
                }
            }
        }
    }

    fn pass_open(&self, article_id: &str, error: Option<&StoreError>) -> DedupeResult {
        self.fail_open_count.fetch_add(1, Ordering::Relaxed);
        if let Some(e) = error {
            tracing::warn!(article_id, error = %e, "dedupe store unavailable; passing article as unique (fail_open)");
        }
        let mut r = DedupeResult::unique(article_id);
        r.store_error = true;
        r
    }

    fn record_failure(&self) {
        if self.breaker_failures == 0 || self.policy != StoreErrorPolicy::FailOpen {
            return;
        }
        let failures = self
            .breaker
            .consecutive_failures
            .fetch_add(1, Ordering::Relaxed)
            + 1;
        if failures >= self.breaker_failures {
            let until = now_ms() + self.breaker_open_ms;
            if self.breaker.open_until_ms.swap(until, Ordering::Relaxed) == 0 {
                tracing::warn!(
                    failures,
                    open_ms = self.breaker_open_ms,
                    "dedupe store keeps failing; skipping it (circuit breaker open, fail_open)"
                );
            }
        }
    }

    /// True while the breaker is open. Once its period is over, one background probe pings the
    /// store: an answer closes the breaker, a failure keeps it open for another period.
    fn breaker_skips(&self) -> bool {
        let until = self.breaker.open_until_ms.load(Ordering::Relaxed);
        if until == 0 {
            return false;
        }
        if now_ms() >= until
            && !self.breaker.probing.swap(true, Ordering::AcqRel)
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let store = std::sync::Arc::clone(&self.store);
            let breaker = std::sync::Arc::clone(&self.breaker);
            let open_ms = self.breaker_open_ms;
            runtime.spawn(async move {
                match store.ping().await {
                    Ok(()) => {
                        breaker.consecutive_failures.store(0, Ordering::Relaxed);
                        breaker.open_until_ms.store(0, Ordering::Relaxed);
                        tracing::info!("dedupe store answers again; circuit breaker closed");
                    }
                    Err(error) => {
                        breaker
                            .open_until_ms
                            .store(now_ms() + open_ms, Ordering::Relaxed);
                        tracing::debug!(%error, "dedupe store probe failed; breaker stays open");
                    }
                }
                breaker.probing.store(false, Ordering::Release);
            });
        }
        true
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn settings_defaults_and_validation() {
        let s = DedupeSettings::default();
        s.validate().unwrap();
        let (b, r) = s.band_layout();
        assert!(b * r <= s.num_hashes);
        let mut bad = s.clone();
        bad.threshold = 0.0;
        assert!(bad.validate().unwrap_err().contains("dedupe.threshold"));
        let parsed: DedupeSettings = serde_json::from_str(
            r#"{"action":"drop","on_store_error":"fail_closed","redis":{"password":"x"}}"#,
        )
        .unwrap();
        assert_eq!(parsed.action, DuplicateAction::Drop);
        assert!(serde_json::from_str::<DedupeSettings>(r#"{"nope":1}"#).is_err());
        let out = serde_json::to_string(&parsed).unwrap();
        assert!(out.contains("[redacted]") && !out.contains("\"x\""));
    }

    #[tokio::test]
    async fn a_future_event_time_does_not_expire_the_window() {
        let s = DedupeSettings::default();
        let d = Deduper::new(Store::Memory(memory::MemoryStore::new(&s)), &s);
        let f = Fingerprinter::new(&s);
        let story = "The central bank raised its main interest rate by a quarter point on Tuesday, citing persistent inflation in services and a tight labour market across the region.";
        let now = now_ms();
        assert!(
            !d.decide("a", &f.fingerprint(story), now)
                .await
                .unwrap()
                .is_duplicate()
        );
        // A 9999-12-31 placeholder: before the clamp it moved the watermark 8,000 years ahead
        // and expired everything held.
        let placeholder = 253_402_214_400_000;
        let other = f.fingerprint("Completely different words about a football match in the rain, with two late goals and a red card.");
        d.decide("embargoed", &other, placeholder).await.unwrap();
        let copy = d
            .decide("a-copy", &f.fingerprint(story), now)
            .await
            .unwrap();
        assert!(copy.is_duplicate(), "{copy:?}");
        assert_eq!(copy.duplicate_of.as_deref(), Some("a"));
    }

    #[test]
    fn permanent_and_outage_errors_are_told_apart() {
        assert!(StoreError::Timeout { op: "x", ms: 1 }.is_outage());
        assert!(
            !StoreError::Protocol {
                op: "x",
                detail: "y".into()
            }
            .is_outage()
        );
        assert!(!StoreError::SignatureLength { got: 1, want: 2 }.is_outage());
        let io =
            ::redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(
            StoreError::Redis {
                op: "x",
                source: io
            }
            .is_outage()
        );
    }

    #[test]
    fn cluster_settings_validation_and_url_lists() {
        let s: DedupeSettings = serde_json::from_str(
            r#"{"store":"redis_cluster","redis":{"cluster_urls":["redis://10.0.0.1:6379","rediss://app@10.0.0.2:6379"]}}"#,
        )
        .unwrap();
        assert_eq!(s.store, StoreKind::RedisCluster);
        s.validate().unwrap();
        // What an environment variable delivers: one comma-separated string.
        let from_env: RedisSettings = serde_json::from_str(
            r#"{"cluster_urls":"redis://a:7000, redis://b:7001,,redis://c:7002"}"#,
        )
        .unwrap();
        assert_eq!(
            from_env.cluster_urls,
            ["redis://a:7000", "redis://b:7001", "redis://c:7002"]
        );
        let problem = |edit: &dyn Fn(&mut DedupeSettings)| {
            let mut bad = s.clone();
            edit(&mut bad);
            bad.validate().unwrap_err()
        };
        assert!(problem(&|b| b.redis.cluster_urls.clear()).contains("dedupe.redis.cluster_urls"));
        let e = problem(&|b| b.redis.cluster_urls[1] = "redis://:s3cret@h:6379".into());
        assert!(
            e.contains("cluster_urls[1]") && e.contains("dedupe.redis.password"),
            "{e}"
        );
        assert!(!e.contains("s3cret"), "{e}");
        let e = problem(&|b| b.redis.cluster_urls[0] = "http://nope".into());
        assert!(e.contains("cluster_urls[0]"), "{e}");
        let e = problem(&|b| b.redis.key_prefix = "{wiredesk}:".into());
        assert!(e.contains("dedupe.redis.key_prefix"), "{e}");
        let e = problem(&|b| b.redis.cluster_bucket_len = 0);
        assert!(e.contains("dedupe.redis.cluster_bucket_len"), "{e}");
        // The single-Redis store does not look at the cluster keys.
        let mut single = s.clone();
        single.store = StoreKind::Redis;
        single.redis.cluster_urls.clear();
        single.validate().unwrap();
    }

    #[test]
    fn cluster_errors_are_classified() {
        use ::redis::{ErrorKind, RedisError, ServerErrorKind};
        let err = |kind: ServerErrorKind| StoreError::Redis {
            op: "x",
            source: RedisError::from((ErrorKind::Server(kind), "test")),
        };
        // The cluster is reconfiguring or lacks a master: wait for it.
        assert!(err(ServerErrorKind::ClusterDown).is_outage());
        assert!(err(ServerErrorKind::TryAgain).is_outage());
        // A redirect still failing after the client's own retries: the topology is in flux.
        assert!(err(ServerErrorKind::Moved).is_outage());
        // Keys of one call in different slots: a bug, waiting does not help.
        assert!(!err(ServerErrorKind::CrossSlot).is_outage());
    }

    #[test]
    fn result_serialization() {
        let r = DedupeResult::unique("a1");
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"status":"unique","cluster_id":"a1","duplicate_of":null,"similarity":null}"#
        );
    }
}
