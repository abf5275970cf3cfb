//! Redis store shared by all replicas.
//!
//! Key layout (prefix `P`, default `wiredesk:dedupe:`):
//! * `P a:<article id>` — hash: `st` status, `c` cluster id, `d` duplicate_of
//!   (empty if none), `s` similarity ("" or 4 decimals), `sig` signature
//!   bytes, `t` event time ms, `n` normalized word count (saturating at
//!   65535, as in the memory store). TTL = `window_secs`.
//! * `P b:<band>:<16 hex band hash>` — string: id of the latest article whose
//!   signature has that band value. TTL = `window_secs` (refreshed on write).
//!
//! One Lua script (run atomically by Redis) does replay lookup, candidate
//! lookup, similarity confirmation and insert, so two replicas racing on the
//! same story get exactly one `unique`. The script reads `P a:<candidate>`
//! keys it discovers, which is fine on a single Redis / Sentinel setup but not
//! on Redis Cluster: `store = "redis_cluster"` uses [`super::cluster`] instead.

use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, IntoConnectionInfo, Script};
use secrecy::ExposeSecret;

use super::fingerprint::{ConfirmRule, band_hash};
use super::{DedupeResult, DedupeSettings, DedupeStatus, Fingerprint, StoreError};

const CHECK_AND_INSERT: &str = r#"
local akey = KEYS[1]
local id, sig = ARGV[1], ARGV[2]
local t = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local thr = tonumber(ARGV[5])
local ttl = tonumber(ARGV[6])
local aprefix = ARGV[7]
local ntok = tonumber(ARGV[8])
local minj = tonumber(ARGV[9])
local cthr = tonumber(ARGV[10])
local k = tonumber(ARGV[11])
local function shingles(w)
  local s = w - k + 1
  if s < 1 then s = 1 end
  return s
end
local old = redis.call('HMGET', akey, 'st', 'c', 'd', 's')
if old[1] then
  return {old[1], old[2] or id, old[3] or '', old[4] or ''}
end
local n = #sig
local best, bestsim, bestc = nil, -1, nil
if n > 0 then
  local q = {string.byte(sig, 1, n)}
  local seen = {}
  for i = 2, #KEYS do
    local cand = redis.call('GET', KEYS[i])
    if cand and cand ~= id and not seen[cand] then
      seen[cand] = true
      local rec = redis.call('HMGET', aprefix .. cand, 'sig', 'c', 't', 'n')
      if rec[1] and rec[3] and #rec[1] == n and math.abs(tonumber(rec[3]) - t) <= window then
        local o = {string.byte(rec[1], 1, n)}
        local eq = 0
        for j = 1, n do
          if q[j] == o[j] then eq = eq + 1 end
        end
        local s = (eq / n - 1 / 256) / (1 - 1 / 256)
        if s < 0 then s = 0 end
        if s > 1 then s = 1 end
        local ok = s >= thr
        local on = tonumber(rec[4] or '0') or 0
        if not ok and s >= minj and ntok > 0 and on > 0 then
          local a, b = shingles(ntok), shingles(on)
          local inter = s * (a + b) / (1 + s)
          local c = inter / math.min(a, b)
          if c > 1 then c = 1 end
          ok = c >= cthr
        end
        if ok and s > bestsim then best, bestsim, bestc = cand, s, rec[2] end
      end
    end
  end
end
local st, c, d, sv = 'unique', id, '', ''
if best then
  st, c, d, sv = 'duplicate', bestc, bestc, string.format('%.4f', bestsim)
end
redis.call('HSET', akey, 'st', st, 'c', c, 'd', d, 's', sv, 'sig', sig, 't', ARGV[3], 'n', ARGV[8])
redis.call('EXPIRE', akey, ttl)
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], id, 'EX', ttl)
end
return {st, c, d, sv}
"#;

/// Redis-backed store; cheap to share (`ConnectionManager` is a handle that
/// reconnects by itself after a connection loss).
pub struct RedisStore {
    conn: ConnectionManager,
    script: Script,
    prefix: String,
    bands: usize,
    rows: usize,
    num_hashes: usize,
    rule: ConfirmRule,
    window_ms: i64,
    ttl_secs: u64,
    timeout: Duration,
}

impl RedisStore {
    /// Connects (bounded by `redis.timeout_ms`) and loads the script.
    pub async fn connect(s: &DedupeSettings) -> Result<Self, StoreError> {
        let mut info = s
            .redis
            .url
            .as_str()
            .into_connection_info()
            .map_err(|source| StoreError::Redis {
                op: "parse dedupe.redis.url",
                source,
            })?;
        if let Some(pw) = &s.redis.password {
            let rs = info
                .redis_settings()
                .clone()
                .set_password(pw.expose_secret());
            info = info.set_redis_settings(rs);
        }
        let client = Client::open(info).map_err(|source| StoreError::Redis {
            op: "open client",
            source,
        })?;
        let timeout = Duration::from_millis(s.redis.timeout_ms);
        let cfg = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(2));
        let conn = super::within(
            timeout * 4,
            "connect",
            client.get_connection_manager_with_config(cfg),
        )
        .await?;
        let (bands, rows) = s.band_layout();
        let store = RedisStore {
            conn,
            script: Script::new(CHECK_AND_INSERT),
            prefix: s.redis.key_prefix.clone(),
            bands,
            rows,
            num_hashes: s.num_hashes,
            rule: ConfirmRule::new(s),
            window_ms: (s.window_secs as i64).saturating_mul(1000),
            ttl_secs: s.window_secs,
            timeout,
        };
        store.ping().await?;
        Ok(store)
    }

    /// Key of an article's record.
    pub fn article_key(&self, article_id: &str) -> String {
        format!("{}a:{}", self.prefix, article_id)
    }

    /// Keys of the LSH buckets of a fingerprint.
    pub fn band_keys(&self, fp: &Fingerprint) -> Vec<String> {
        if fp.is_empty() {
            return Vec::new();
        }
        (0..self.bands)
            .map(|b| {
                format!(
                    "{}b:{}:{:016x}",
                    self.prefix,
                    b,
                    band_hash(fp.signature(), b, self.rows)
                )
            })
            .collect()
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        let cmd = ::redis::cmd("PING");
        super::within(self.timeout, "PING", cmd.query_async::<String>(&mut c)).await?;
        Ok(())
    }

    pub async fn check_and_insert(
        &self,
        article_id: &str,
        fp: &Fingerprint,
        event_time_ms: i64,
    ) -> Result<DedupeResult, StoreError> {
        if fp.signature().len() != self.num_hashes {
            return Err(StoreError::SignatureLength {
                got: fp.signature().len(),
                want: self.num_hashes,
            });
        }
        let sig: &[u8] = if fp.is_empty() { &[] } else { fp.signature() };
        let mut inv = self.script.prepare_invoke();
        inv.key(self.article_key(article_id));
        for k in self.band_keys(fp) {
            inv.key(k);
        }
        inv.arg(article_id)
            .arg(sig)
            .arg(event_time_ms)
            .arg(self.window_ms)
            .arg(self.rule.threshold)
            .arg(self.ttl_secs.max(1))
            .arg(format!("{}a:", self.prefix))
            .arg(fp.tokens().min(u16::MAX as u32))
            .arg(self.rule.min_jaccard)
            .arg(self.rule.containment_threshold)
            .arg(self.rule.shingle_size);
        let mut c = self.conn.clone();
        let reply: Vec<String> = super::within(
            self.timeout,
            "check_and_insert script",
            inv.invoke_async(&mut c),
        )
        .await?;
        parse_reply("check_and_insert script", reply)
    }
}

/// Reads a stored decision (`[status, cluster id, duplicate_of, similarity]`, the record's
/// `st c d s` fields); shared with the cluster store, which stores decisions the same way.
pub(super) fn parse_reply(op: &'static str, r: Vec<String>) -> Result<DedupeResult, StoreError> {
    let bad = |detail: String| StoreError::Protocol { op, detail };
    let [st, c, d, s] =
        <[String; 4]>::try_from(r).map_err(|r| bad(format!("expected 4 fields, got {r:?}")))?;
    let status = match st.as_str() {
        "unique" => DedupeStatus::Unique,
        "duplicate" => DedupeStatus::Duplicate,
        other => return Err(bad(format!("unknown status {other:?}"))),
    };
    let similarity = if s.is_empty() {
        None
    } else {
        Some(
            s.parse::<f64>()
                .map_err(|e| bad(format!("similarity {s:?}: {e}")))?,
        )
    };
    Ok(DedupeResult {
        status,
        cluster_id: c,
        duplicate_of: (!d.is_empty()).then_some(d),
        similarity,
        store_error: false,
    })
}
