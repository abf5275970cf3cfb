//! Redis Cluster store: the single-Redis store's decisions, taken in steps that each touch one
//! key, so every step can run on whichever master owns that key's slot.
//!
//! Key layout (prefix `P`; the `{…}` part is the hash tag that picks the slot):
//! * `P a:{<article id>}` — hash, the same fields as the single-Redis store (`st`, `c`, `d`,
//!   `s`, `sig`, `t`, `n`), except that `st` is `pending` between the claim and the settle below.
//!   TTL = `window_secs` from the first write.
//! * `P l:{<band>:<16 hex band hash>}` — list of the ids that reached this LSH bucket, oldest
//!   first, at most `redis.cluster_bucket_len` long. TTL = `window_secs`, refreshed on append.
//!
//! Protocol of one decision (the *why* is in docs/dedupe.md, "Redis Cluster"):
//! 1. `claim` script on `a:{id}`: a final decision there is returned as is (replay); otherwise
//!    the record is created as `pending` with signature, event time and word count, so anyone
//!    who later meets this id in a bucket can read its signature.
//! 2. `bucket` script on each band's list, all bands at once: if the id is already in the list
//!    (a redelivery after a crash), return the ids before it and change nothing; otherwise
//!    return the whole list and append the id. Each list's order is Redis's atomic order.
//! 3. Read the candidates' records and confirm them with [`ConfirmRule`], as the other stores do.
//! 4. A candidate counts only if it is *before us in the lowest band where our band values are
//!    equal*: for any pair of articles that band is the same, seen from either side, and its
//!    list orders the pair once, so of two racing copies exactly one sees the other.
//! 5. `settle` script on `a:{id}`: write the final decision unless one is already there (a
//!    concurrent redelivery won), and return the stored one.

use std::time::Duration;

use ::redis::cluster::ClusterClientBuilder;
use ::redis::cluster_async::ClusterConnection;
use ::redis::{RedisResult, Script};
use futures::future::try_join_all;
use secrecy::ExposeSecret;

use super::fingerprint::{ConfirmRule, band_hash, round_similarity};
use super::{DedupeResult, DedupeSettings, Fingerprint, StoreError};

/// Step 1: replay lookup, else create the `pending` record. Returns the 4 decision fields, or an
/// empty array when the caller has to decide. An existing `pending` record (our own earlier,
/// interrupted attempt) is left as it is: the same id carries the same text.
const CLAIM: &str = r#"
local old = redis.call('HMGET', KEYS[1], 'st', 'c', 'd', 's')
if old[1] and old[1] ~= 'pending' then
  return {old[1], old[2] or ARGV[5], old[3] or '', old[4] or ''}
end
if not old[1] then
  redis.call('HSET', KEYS[1], 'st', 'pending', 'sig', ARGV[1], 't', ARGV[2], 'n', ARGV[3])
  redis.call('EXPIRE', KEYS[1], ARGV[4])
end
return {}
"#;

/// Step 2, on one bucket list: the ids before ours. Appends ours only the first time, so a
/// redelivered id sees the view it saw before and takes the same decision.
const BUCKET: &str = r#"
local l = redis.call('LRANGE', KEYS[1], 0, -1)
for i = 1, #l do
  if l[i] == ARGV[1] then
    local before = {}
    for j = 1, i - 1 do before[j] = l[j] end
    return before
  end
end
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return l
"#;

/// Step 5: the first final decision written for an id wins; returns the stored one. Rewrites
/// the signature fields too, so a record that expired meanwhile comes back whole.
const SETTLE: &str = r#"
local cur = redis.call('HMGET', KEYS[1], 'st', 'c', 'd', 's')
if cur[1] and cur[1] ~= 'pending' then
  return {cur[1], cur[2] or '', cur[3] or '', cur[4] or ''}
end
redis.call('HSET', KEYS[1], 'st', ARGV[1], 'c', ARGV[2], 'd', ARGV[3], 's', ARGV[4],
  'sig', ARGV[5], 't', ARGV[6], 'n', ARGV[7])
if not cur[1] then redis.call('EXPIRE', KEYS[1], ARGV[8]) end
return {ARGV[1], ARGV[2], ARGV[3], ARGV[4]}
"#;

/// Re-reads of a confirmed candidate whose record is still `pending` (it is being decided right
/// now, or its worker crashed) before its own id is taken as the cluster id: 2+4+…+64 ms.
const PENDING_POLLS: u32 = 6;
const PENDING_FIRST_DELAY: Duration = Duration::from_millis(2);

/// What steps 1–2 leave for the decision: a replayed final decision, or the per-band views.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The id already has a final decision.
    Decided(DedupeResult),
    /// `views[b]`: the ids before ours in band `b`'s bucket (oldest first).
    Open { views: Vec<Vec<String>> },
}

/// One candidate's record as read in step 3.
struct Record {
    sig: Vec<u8>,
    cluster: Option<String>,
    event_ms: i64,
    tokens: u32,
    pending: bool,
}

/// Redis Cluster store; cheap to share (`ClusterConnection` is a cloneable handle that routes
/// each command to its slot's master, follows MOVED/ASK and reconnects by itself).
pub struct RedisClusterStore {
    conn: ClusterConnection,
    claim: Script,
    bucket: Script,
    settle: Script,
    prefix: String,
    bands: usize,
    rows: usize,
    num_hashes: usize,
    bucket_len: usize,
    rule: ConfirmRule,
    window_ms: i64,
    ttl_secs: u64,
    timeout: Duration,
}

impl RedisClusterStore {
    /// Connects to the cluster given by `redis.cluster_urls` (bounded by 4 × `redis.timeout_ms`)
    /// and loads the scripts on every node.
    pub async fn connect(s: &DedupeSettings) -> Result<Self, StoreError> {
        let timeout = Duration::from_millis(s.redis.timeout_ms);
        let mut builder =
            ClusterClientBuilder::new(s.redis.cluster_urls.iter().map(String::as_str))
                .connection_timeout(timeout)
                .response_timeout(timeout)
                // MOVED/ASK/TRYAGAIN are retried inside the client; the per-step timeout below
                // bounds them, and `Deduper::decide` retries whole decisions with its own back-off.
                .retries(2)
                .min_retry_wait(10)
                .max_retry_wait(200);
        if let Some(pw) = &s.redis.password {
            builder = builder.password(pw.expose_secret());
        }
        let client = builder.build().map_err(|source| StoreError::Redis {
            op: "open cluster client",
            source,
        })?;
        let conn = super::within(
            timeout * 4,
            "connect to cluster",
            client.get_async_connection(),
        )
        .await?;
        let (bands, rows) = s.band_layout();
        let store = RedisClusterStore {
            conn,
            claim: Script::new(CLAIM),
            bucket: Script::new(BUCKET),
            settle: Script::new(SETTLE),
            prefix: s.redis.key_prefix.clone(),
            bands,
            rows,
            num_hashes: s.num_hashes,
            bucket_len: s.redis.cluster_bucket_len,
            rule: ConfirmRule::new(s),
            window_ms: (s.window_secs as i64).saturating_mul(1000),
            ttl_secs: s.window_secs.max(1),
            timeout,
        };
        // SCRIPT LOAD goes to every node: EVALSHA then never pays a NOSCRIPT round trip, and a
        // node that does not answer fails the connect instead of the first article.
        for script in [&store.claim, &store.bucket, &store.settle] {
            let mut c = store.conn.clone();
            store
                .timed("load scripts", script.load_async(&mut c))
                .await?;
        }
        store.ping().await?;
        Ok(store)
    }

    /// Key of an article's record (slot chosen by the id).
    pub fn article_key(&self, article_id: &str) -> String {
        format!("{}a:{{{article_id}}}", self.prefix)
    }

    /// Key of band `band`'s bucket for band value `hash` (slot chosen by band and value).
    pub fn bucket_key(&self, band: usize, hash: u64) -> String {
        format!("{}l:{{{band}:{hash:016x}}}", self.prefix)
    }

    /// Health: every connected node answers PING, and the cluster (as one node sees it) has
    /// all 16384 slots served. PING alone is not enough: the client stops talking to a dead
    /// master, and the survivors still answer PING while the cluster refuses every write.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        let ping = ::redis::cmd("PING");
        self.timed("PING", ping.query_async::<String>(&mut c))
            .await?;
        let mut info = ::redis::cmd("CLUSTER");
        info.arg("INFO");
        let info: String = self.timed("CLUSTER INFO", info.query_async(&mut c)).await?;
        let field = |name: &str| {
            info.lines()
                .find_map(|l| l.trim().strip_prefix(name)?.strip_prefix(':'))
                .map(str::to_owned)
        };
        let state = field("cluster_state");
        let slots_ok = field("cluster_slots_ok");
        if state.as_deref() == Some("ok") && slots_ok.as_deref() == Some("16384") {
            return Ok(());
        }
        // Reported as CLUSTERDOWN, so it classifies as an outage (see `StoreError::is_outage`).
        Err(StoreError::Redis {
            op: "CLUSTER INFO",
            source: ::redis::RedisError::from((
                ::redis::ErrorKind::Server(::redis::ServerErrorKind::ClusterDown),
                "cluster not healthy",
                format!(
                    "cluster_state {}, cluster_slots_ok {} of 16384",
                    state.as_deref().unwrap_or("?"),
                    slots_ok.as_deref().unwrap_or("?")
                ),
            )),
        })
    }

    /// Runs one store step under the per-call timeout, naming it in the error.
    async fn timed<T>(
        &self,
        op: &'static str,
        fut: impl Future<Output = RedisResult<T>>,
    ) -> Result<T, StoreError> {
        super::within(self.timeout, op, fut).await
    }

    fn check_length(&self, fp: &Fingerprint) -> Result<(), StoreError> {
        if fp.signature().len() != self.num_hashes {
            return Err(StoreError::SignatureLength {
                got: fp.signature().len(),
                want: self.num_hashes,
            });
        }
        Ok(())
    }

    /// The signature as stored: empty for an empty fingerprint (never a candidate).
    fn stored_sig(fp: &Fingerprint) -> &[u8] {
        if fp.is_empty() { &[] } else { fp.signature() }
    }

    /// Same contract as the other stores: a replayed decision, or a new one recorded.
    pub async fn check_and_insert(
        &self,
        article_id: &str,
        fp: &Fingerprint,
        event_time_ms: i64,
    ) -> Result<DedupeResult, StoreError> {
        match self.claim(article_id, fp, event_time_ms).await? {
            Claim::Decided(r) => Ok(r),
            Claim::Open { views } => self.settle(article_id, fp, event_time_ms, &views).await,
        }
    }

    /// Steps 1–2: replay lookup and pending record, then the bucket appends. Public so a test
    /// can stop here, as a worker that crashes mid-decision would.
    pub async fn claim(
        &self,
        article_id: &str,
        fp: &Fingerprint,
        event_time_ms: i64,
    ) -> Result<Claim, StoreError> {
        self.check_length(fp)?;
        let tokens = fp.tokens().min(u16::MAX as u32);
        let mut inv = self.claim.prepare_invoke();
        inv.key(self.article_key(article_id))
            .arg(Self::stored_sig(fp))
            .arg(event_time_ms)
            .arg(tokens)
            .arg(self.ttl_secs)
            .arg(article_id);
        let mut c = self.conn.clone();
        let old: Vec<String> = self
            .timed("claim article record", inv.invoke_async(&mut c))
            .await?;
        if !old.is_empty() {
            return super::redis::parse_reply("claim article record", old).map(Claim::Decided);
        }
        if fp.is_empty() {
            return Ok(Claim::Open { views: Vec::new() });
        }
        // All bands at once: the cluster connection pipelines them per node, so this costs one
        // round trip however the buckets spread over the masters.
        let appends = (0..self.bands).map(|b| {
            let key = self.bucket_key(b, band_hash(fp.signature(), b, self.rows));
            let mut c = self.conn.clone();
            async move {
                let mut inv = self.bucket.prepare_invoke();
                inv.key(key)
                    .arg(article_id)
                    .arg(self.bucket_len)
                    .arg(self.ttl_secs);
                inv.invoke_async::<Vec<String>>(&mut c).await
            }
        });
        let views = self
            .timed("append to LSH buckets", try_join_all(appends))
            .await?;
        Ok(Claim::Open { views })
    }

    /// Steps 3–5: confirm the candidates that precede us, then record the final decision.
    pub async fn settle(
        &self,
        article_id: &str,
        fp: &Fingerprint,
        event_time_ms: i64,
        views: &[Vec<String>],
    ) -> Result<DedupeResult, StoreError> {
        self.check_length(fp)?;
        let tokens = fp.tokens().min(u16::MAX as u32);
        let sig = Self::stored_sig(fp);

        // Candidates in order of first appearance (band, then age), so the same views always
        // give the same best candidate on ties.
        let mut cands: Vec<&str> = Vec::new();
        for id in views.iter().flatten() {
            if id != article_id && !cands.contains(&id.as_str()) {
                cands.push(id);
            }
        }
        let records = self.read_records(&cands).await?;
        let ours: Vec<u64> = if sig.is_empty() {
            Vec::new()
        } else {
            (0..self.bands)
                .map(|b| band_hash(sig, b, self.rows))
                .collect()
        };
        let mut best: Option<(&str, &Record, f64)> = None;
        for (&cand, rec) in cands.iter().zip(&records) {
            let Some(rec) = rec else { continue };
            if rec.sig.len() != sig.len() || (rec.event_ms - event_time_ms).abs() > self.window_ms {
                continue;
            }
            // The tie-break: only the bucket of the lowest equal band orders this pair.
            let Some(b) = (0..self.bands).find(|&b| band_hash(&rec.sig, b, self.rows) == ours[b])
            else {
                continue;
            };
            if !views.get(b).is_some_and(|v| v.iter().any(|v| v == cand)) {
                continue;
            }
            let Some(s) = self.rule.confirm(sig, tokens, &rec.sig, rec.tokens) else {
                continue;
            };
            if best.is_none_or(|(_, _, bs)| s > bs) {
                best = Some((cand, rec, s));
            }
        }

        // (status, cluster id, duplicate_of, similarity) as stored, in the single-Redis format.
        let (st, c, d, sv) = match best {
            None => (
                "unique",
                article_id.to_string(),
                String::new(),
                String::new(),
            ),
            Some((cand, rec, s)) => {
                let cluster = match (&rec.cluster, rec.pending) {
                    (Some(c), false) => c.clone(),
                    _ => self.await_cluster(cand).await?,
                };
                let sv = format!("{:.4}", round_similarity(s));
                ("duplicate", cluster.clone(), cluster, sv)
            }
        };
        let mut inv = self.settle.prepare_invoke();
        inv.key(self.article_key(article_id))
            .arg(st)
            .arg(&c)
            .arg(&d)
            .arg(&sv)
            .arg(sig)
            .arg(event_time_ms)
            .arg(tokens)
            .arg(self.ttl_secs);
        let mut conn = self.conn.clone();
        let stored: Vec<String> = self
            .timed("settle article record", inv.invoke_async(&mut conn))
            .await?;
        super::redis::parse_reply("settle article record", stored)
    }

    /// Step 3's reads, all at once (each record is one key, possibly on a different master).
    async fn read_records(&self, ids: &[&str]) -> Result<Vec<Option<Record>>, StoreError> {
        let reads = ids.iter().map(|id| {
            let mut c = self.conn.clone();
            let mut cmd = ::redis::cmd("HMGET");
            cmd.arg(self.article_key(id))
                .arg("sig")
                .arg("c")
                .arg("t")
                .arg("n")
                .arg("st");
            async move {
                cmd.query_async::<(
                    Option<Vec<u8>>,
                    Option<String>,
                    Option<i64>,
                    Option<u32>,
                    Option<String>,
                )>(&mut c)
                    .await
            }
        });
        let rows = self
            .timed("read candidate records", try_join_all(reads))
            .await?;
        Ok(rows
            .into_iter()
            .map(|(sig, c, t, n, st)| {
                Some(Record {
                    sig: sig?,
                    cluster: c,
                    event_ms: t?,
                    tokens: n.unwrap_or(0),
                    pending: st.as_deref() == Some("pending"),
                })
            })
            .collect())
    }

    /// The cluster id of a confirmed candidate that is still being decided: re-read its record
    /// a few times; if it is still `pending` (its worker may have crashed), the candidate's own
    /// id, which is what it becomes if it turns out unique.
    async fn await_cluster(&self, cand: &str) -> Result<String, StoreError> {
        let mut delay = PENDING_FIRST_DELAY;
        for _ in 0..PENDING_POLLS {
            tokio::time::sleep(delay).await;
            delay *= 2;
            let mut c = self.conn.clone();
            let mut cmd = ::redis::cmd("HMGET");
            cmd.arg(self.article_key(cand)).arg("st").arg("c");
            let (st, cluster): (Option<String>, Option<String>) = self
                .timed("re-read pending candidate", cmd.query_async(&mut c))
                .await?;
            match (st.as_deref(), cluster) {
                (Some("pending"), _) => continue,
                (Some(_), Some(cluster)) => return Ok(cluster),
                // Gone (expired) or malformed: nothing better to wait for.
                _ => break,
            }
        }
        Ok(cand.to_string())
    }
}
