//! The Redis Cluster store against a real three-master cluster that each test starts itself
//! (`redis-server` and `redis-cli` on PATH; no environment variable needed).
//!
//! * the same decisions as the memory store and the single-Redis store (eval articles and
//!   edited copies, pair by pair and as one stream), with keys spread over all masters;
//! * two workers racing copies of one story: exactly one unique, also when the bucket lists
//!   order the pair differently (the tie-break);
//! * replay, also after a crash between the bucket appends and the final write;
//! * an outage (a master killed) is a `StoreError` that `is_outage()`, within the timeout.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::free_port;
use common::redis_cluster::RedisCluster;
use common::redis_server::RedisServer;

use wiredesk::dedupe::cluster::{Claim, RedisClusterStore};
use wiredesk::dedupe::fingerprint::band_hash;
use wiredesk::dedupe::memory::MemoryStore;
use wiredesk::dedupe::{
    DedupeResult, DedupeSettings, DedupeStatus, Deduper, Fingerprint, Fingerprinter, Store,
    StoreErrorPolicy, StoreKind,
};

#[path = "support/corpus.rs"]
mod corpus;
use corpus::{Rng, gum_texts};

fn prefix(tag: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("wdc-{tag}:{}:{nanos}:", std::process::id())
}

fn cluster_settings(cluster: &RedisCluster, tag: &str) -> DedupeSettings {
    let mut s = DedupeSettings {
        store: StoreKind::RedisCluster,
        window_secs: 600,
        ..Default::default()
    };
    s.redis.cluster_urls = cluster.urls();
    s.redis.key_prefix = prefix(tag);
    s.redis.timeout_ms = 2000;
    s
}

/// Deletes, replaces (with a word of `donor`) or doubles about `rate` of the words.
fn edit_words(text: &str, rate: f64, seed: u64, donor: &str) -> String {
    let mut rng = Rng(seed);
    let donor: Vec<&str> = donor.split_whitespace().collect();
    text.split("\n\n")
        .map(|para| {
            let mut out: Vec<&str> = Vec::new();
            for w in para.split_whitespace() {
                if !rng.chance(rate) {
                    out.push(w);
                    continue;
                }
                match rng.next() % 3 {
                    0 => {}
                    1 => out.push(donor[(rng.next() as usize) % donor.len()]),
                    _ => out.extend([w, w]),
                }
            }
            out.join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn trimmed(text: &str, keep: f64) -> String {
    let paras: Vec<&str> = text.split("\n\n").collect();
    let n = ((paras.len() as f64 * keep).ceil() as usize).max(1);
    paras[..n].join("\n\n")
}

/// Republished copies of article `i`: (kind, text).
fn copies(all: &[String], i: usize) -> Vec<(&'static str, String)> {
    let t = &all[i];
    let donor = &all[(i + 7) % all.len()];
    let seed = i as u64 * 1_000;
    vec![
        (
            "byline",
            format!("By Jane Doe, Reuters\n\n{t}\n\nEditing by Mark Potter"),
        ),
        (
            "headline",
            format!("UPDATE 2-{}", t.replacen('\n', " amid concerns\n", 1)),
        ),
        ("trimmed_70", trimmed(t, 0.7)),
        ("light_5", edit_words(t, 0.05, seed + 1, donor)),
        ("light_10", edit_words(t, 0.10, seed + 2, donor)),
        ("light_15", edit_words(t, 0.15, seed + 3, donor)),
        ("light_20", edit_words(t, 0.20, seed + 4, donor)),
        (
            "trim50_light10",
            edit_words(&trimmed(t, 0.5), 0.10, seed + 5, donor),
        ),
    ]
}

fn uniques(rs: &[&DedupeResult]) -> usize {
    rs.iter()
        .filter(|r| r.status == DedupeStatus::Unique)
        .count()
}

/// Pairs (first, second) as in tests/dedupe_eval.rs: each article against each of its copies,
/// and against two other articles (hard-ish negatives: some share their subject).
fn pairs(all: &[String]) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for i in 0..all.len() {
        for (kind, text) in copies(all, i) {
            out.push((kind.to_string(), all[i].clone(), text));
        }
        for j in [1, 5] {
            out.push((
                "negative".into(),
                all[i].clone(),
                all[(i + j) % all.len()].clone(),
            ));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_decisions_as_memory_and_single_redis_and_keys_spread_over_all_masters() {
    let cluster = RedisCluster::start(3);
    let single = RedisServer::start(free_port());
    let s = cluster_settings(&cluster, "same");
    let cl = RedisClusterStore::connect(&s)
        .await
        .expect("connect cluster");
    let mut single_settings = s.clone();
    single_settings.store = StoreKind::Redis;
    single_settings.redis.url = single.url();
    let one = Store::connect(&single_settings)
        .await
        .expect("connect single redis");
    let f = Fingerprinter::new(&s);
    let all = gum_texts();

    // 1. Pair by pair. One key space for all pairs: pair k lives at event time k × 10^7 ms,
    // far outside the 600 s window of every other pair, so no pair sees another's articles
    // (the stores' window check), as if each had a fresh store.
    let pairs = pairs(&all);
    let (mut dup, mut equal_sim) = (0, 0);
    for (k, (kind, a, b)) in pairs.iter().enumerate() {
        let (fa, fb) = (f.fingerprint(a), f.fingerprint(b));
        let t = k as i64 * 10_000_000;
        let (ia, ib) = (format!("p{k}-a"), format!("p{k}-b"));
        let m = MemoryStore::new(&s);
        m.check_and_insert(&ia, &fa, t).unwrap();
        let want = m.check_and_insert(&ib, &fb, t + 1_000).unwrap();
        one.check_and_insert(&ia, &fa, t).await.unwrap();
        let single_got = one.check_and_insert(&ib, &fb, t + 1_000).await.unwrap();
        let ra = cl.check_and_insert(&ia, &fa, t).await.unwrap();
        assert_eq!(
            ra,
            DedupeResult::unique(&ia),
            "pair {k} ({kind}) first article"
        );
        let got = cl.check_and_insert(&ib, &fb, t + 1_000).await.unwrap();
        assert_eq!(got, want, "pair {k} ({kind}): cluster vs memory");
        assert_eq!(
            got, single_got,
            "pair {k} ({kind}): cluster vs single redis"
        );
        dup += usize::from(got.is_duplicate());
        equal_sim += usize::from(got.similarity == want.similarity);
    }
    eprintln!(
        "{} pairs: {dup} duplicates, every decision equal to memory and single Redis ({equal_sim} similarities equal)",
        pairs.len()
    );
    assert!(
        dup > pairs.len() / 2,
        "only {dup} duplicates: the copies were not recognised"
    );

    // 2. One stream: every article and three copies, interleaved, in one window. Decisions
    // equal the memory store's (status and cluster); the single-Redis store keeps only the
    // latest id per bucket, so only its status is compared.
    let m = MemoryStore::new(&s);
    let mut stream: Vec<(String, Fingerprint)> = Vec::new();
    for round in 0..4 {
        for i in 0..all.len() {
            let text = if round == 0 {
                all[i].clone()
            } else {
                copies(&all, i)[[0, 4, 2][round - 1]].1.clone()
            };
            stream.push((format!("s{round}-{i}"), f.fingerprint(&text)));
        }
    }
    let t = 900_000_000;
    let mut stream_dups = 0;
    for (id, fp) in &stream {
        let want = m.check_and_insert(id, fp, t).unwrap();
        let single_got = one.check_and_insert(id, fp, t).await.unwrap();
        let got = cl.check_and_insert(id, fp, t).await.unwrap();
        assert_eq!(
            got.status, want.status,
            "{id}: cluster {got:?} memory {want:?}"
        );
        assert_eq!(got.cluster_id, want.cluster_id, "{id}");
        assert_eq!(got.status, single_got.status, "{id}: single {single_got:?}");
        stream_dups += usize::from(got.is_duplicate());
    }
    assert!(
        stream_dups >= 3 * all.len() * 9 / 10,
        "{stream_dups} duplicates in the stream"
    );

    // Keys really spread over the three masters, and every key has a TTL within the window.
    for i in 0..3 {
        let keys = cluster.cli(
            i,
            &["--scan", "--pattern", &format!("{}*", s.redis.key_prefix)],
        );
        let keys: Vec<&str> = keys.lines().filter(|l| !l.is_empty()).collect();
        assert!(
            keys.len() > 100,
            "master {i} holds only {} keys",
            keys.len()
        );
        for k in keys.iter().step_by(37) {
            let ttl: i64 = cluster.cli(i, &["TTL", k]).trim().parse().unwrap();
            assert!(ttl > 0 && ttl <= s.window_secs as i64, "{k}: ttl {ttl}");
        }
    }
}

/// Two separate deduplicators (own connections) decide two copies of one story at the same
/// moment, 200 times: exactly one unique each time, the other its duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_racing_copies_of_a_story_yield_exactly_one_unique() {
    let cluster = RedisCluster::start(3);
    let mut s = cluster_settings(&cluster, "race");
    s.on_store_error = StoreErrorPolicy::FailClosed;
    let workers = [
        Arc::new(Deduper::connect(&s).await.expect("worker A")),
        Arc::new(Deduper::connect(&s).await.expect("worker B")),
    ];
    let f = Fingerprinter::new(&s);
    let all = gum_texts();
    let window_ms = s.window_secs as i64 * 1000;
    for round in 0..200usize {
        let i = round % all.len();
        // Identical texts once in three rounds (all bands equal), edited copies otherwise
        // (only some bands equal, so the lists can order the pair differently).
        let text_b = match round % 3 {
            0 => format!("By Jane Doe, Reuters\n\n{}", all[i]),
            1 => copies(&all, i)[3].1.clone(),
            _ => copies(&all, i)[1].1.clone(),
        };
        let fps = [
            Arc::new(f.fingerprint(&all[i])),
            Arc::new(f.fingerprint(&text_b)),
        ];
        // Each round in its own window: earlier rounds' copies are never candidates.
        let t = round as i64 * window_ms * 3;
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let tasks: Vec<_> = (0..2)
            .map(|w| {
                let (worker, fp, barrier) = (workers[w].clone(), fps[w].clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    worker.decide(&format!("r{round}-{w}"), &fp, t).await
                })
            })
            .collect();
        let mut rs = Vec::new();
        for task in tasks {
            rs.push(task.await.unwrap().expect("decision"));
        }
        assert_eq!(uniques(&[&rs[0], &rs[1]]), 1, "round {round}: {rs:?}");
        let (u, d) = if rs[0].is_duplicate() {
            (&rs[1], &rs[0])
        } else {
            (&rs[0], &rs[1])
        };
        assert_eq!(
            d.duplicate_of.as_deref(),
            Some(u.cluster_id.as_str()),
            "round {round}"
        );
        assert_eq!(d.cluster_id, u.cluster_id, "round {round}");
    }
}

/// The tie-break, made deterministic: copy A is first in band 0's bucket, copy B first in every
/// other bucket (two workers interleaving their appends). Counting a candidate seen in *any*
/// bucket would make each a duplicate of the other, and the story would have no unique article.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crossed_bucket_orders_still_yield_exactly_one_unique() {
    let cluster = RedisCluster::start(3);
    let s = cluster_settings(&cluster, "cross");
    let store = RedisClusterStore::connect(&s).await.expect("connect");
    let f = Fingerprinter::new(&s);
    let text = &gum_texts()[3];
    // Same normalized text (a byline is boilerplate): every band equal, the lowest is band 0.
    let (fa, fb) = (
        f.fingerprint(text),
        f.fingerprint(&format!("By Jane Doe, Reuters\n\n{text}")),
    );
    assert_eq!(fa.signature(), fb.signature());
    let (bands, rows) = s.band_layout();

    // A claims normally: its record (pending) and A in every bucket.
    let Claim::Open { .. } = store.claim("A", &fa, 1_000).await.unwrap() else {
        panic!("fresh id already decided")
    };
    // B got ahead of A everywhere except band 0.
    let client = redis::cluster::ClusterClient::new(cluster.urls()).unwrap();
    let mut raw = client.get_async_connection().await.unwrap();
    for b in 0..bands {
        let key = store.bucket_key(b, band_hash(fb.signature(), b, rows));
        let cmd = if b == 0 { "RPUSH" } else { "LPUSH" };
        let _: i64 = redis::cmd(cmd)
            .arg(&key)
            .arg("B")
            .query_async(&mut raw)
            .await
            .unwrap();
    }
    let Claim::Open { views: vb } = store.claim("B", &fb, 1_000).await.unwrap() else {
        panic!("B already decided")
    };
    let Claim::Open { views: va } = store.claim("A", &fa, 1_000).await.unwrap() else {
        panic!("A already decided")
    };
    assert_eq!(va[0], Vec::<String>::new());
    assert_eq!(vb[0], vec!["A".to_string()]);
    assert!(va[1..].iter().all(|v| v == &["B".to_string()]), "{va:?}");
    assert!(vb[1..].iter().all(Vec::is_empty), "{vb:?}");

    let (ra, rb) = tokio::join!(
        store.settle("A", &fa, 1_000, &va),
        store.settle("B", &fb, 1_000, &vb)
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra, DedupeResult::unique("A"), "B: {rb:?}");
    assert_eq!(rb.duplicate_of.as_deref(), Some("A"), "{rb:?}");
    assert_eq!(rb.cluster_id, "A");
}

/// Replays return the stored decision; a decision interrupted after the bucket appends (the
/// worker crashed, or its Kafka transaction aborted) is taken again, later, exactly as it would
/// have been, even though another copy arrived in between.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_and_redelivery_after_a_crash_give_the_uninterrupted_decision() {
    let cluster = RedisCluster::start(3);
    let f = Fingerprinter::with_params(3, 64);
    let all = gum_texts();
    let x = f.fingerprint(&all[5]);
    let y_text = edit_words(&all[5], 0.10, 77, &all[12]);
    let y = f.fingerprint(&y_text);
    // W: Y republished with a byline, so W is closer to Y (J = 1) than to X.
    let w = f.fingerprint(&format!("By Jane Doe, Reuters\n\n{y_text}"));
    assert_eq!(w.signature(), y.signature());

    // The uninterrupted run.
    let s1 = cluster_settings(&cluster, "replay-ref");
    let reference = RedisClusterStore::connect(&s1).await.unwrap();
    reference.check_and_insert("X", &x, 1_000).await.unwrap();
    let want = reference.check_and_insert("Y", &y, 2_000).await.unwrap();
    assert!(want.is_duplicate() && want.cluster_id == "X", "{want:?}");
    assert!(want.similarity.unwrap() < 1.0);

    // The crashed run: Y's worker dies after its bucket appends; W is decided meanwhile (it
    // sees Y pending and, after a short wait, takes Y's id as its cluster: docs/dedupe.md).
    let s2 = cluster_settings(&cluster, "replay-crash");
    let store = RedisClusterStore::connect(&s2).await.unwrap();
    let rx = store.check_and_insert("X", &x, 1_000).await.unwrap();
    assert_eq!(rx, DedupeResult::unique("X"));
    let Claim::Open { .. } = store.claim("Y", &y, 2_000).await.unwrap() else {
        panic!("fresh id already decided")
    };
    let rw = store.check_and_insert("W", &w, 3_000).await.unwrap();
    assert!(rw.is_duplicate(), "{rw:?}");
    assert!(["X", "Y"].contains(&rw.cluster_id.as_str()), "{rw:?}");
    // Redelivered Y (another worker, another connection): the same view, the same decision.
    let other = RedisClusterStore::connect(&s2).await.unwrap();
    let got = other.check_and_insert("Y", &y, 2_000).await.unwrap();
    assert_eq!(got, want, "redelivery after the crash");

    // Plain replays, whatever the event time says now, and two workers replaying at once.
    for (id, fp, r) in [("X", &x, &rx), ("Y", &y, &want), ("W", &w, &rw)] {
        assert_eq!(
            &store.check_and_insert(id, fp, 99_000_000).await.unwrap(),
            r
        );
        let (a, b) = tokio::join!(
            store.check_and_insert(id, fp, 5_000),
            other.check_and_insert(id, fp, 5_000)
        );
        assert_eq!((&a.unwrap(), &b.unwrap()), (r, r), "{id}");
    }

    // A new id decided by two workers at once (a rebalance handing a partition over while the
    // old owner still works on it): one decision, the same for both.
    let z = f.fingerprint(&edit_words(&all[5], 0.05, 78, &all[12]));
    let (a, b) = tokio::join!(
        store.check_and_insert("Z", &z, 4_000),
        other.check_and_insert("Z", &z, 4_000)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a, b);
    assert!(a.is_duplicate(), "{a:?}");
}

/// A killed master: decisions fail with an outage error within the timeout, never hang or
/// panic; `fail_open` passes the article as unique; the health check reports it too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_master_is_an_outage_error_within_the_timeout() {
    let mut cluster = RedisCluster::start(3);
    let mut s = cluster_settings(&cluster, "outage");
    s.redis.timeout_ms = 300;
    s.store_retries = 0;
    s.on_store_error = StoreErrorPolicy::FailClosed;
    let closed = Deduper::connect(&s).await.expect("connect");
    let open = {
        let mut o = s.clone();
        o.on_store_error = StoreErrorPolicy::FailOpen;
        o.breaker_failures = 0;
        Deduper::connect(&o).await.expect("connect")
    };
    let f = Fingerprinter::new(&s);
    let all = gum_texts();
    let r = closed
        .decide("before", &f.fingerprint(&all[0]), 1_000)
        .await;
    assert_eq!(r.unwrap().status, DedupeStatus::Unique);

    cluster.kill(1);
    // Right after the kill (connection refused / reset), and after the survivors mark the
    // cluster as failed (CLUSTERDOWN), every decision touches the dead master's slots.
    let mut marked_down = false;
    for k in 0..12 {
        if k == 6 {
            common::wait_until(Duration::from_secs(30), "cluster_state:fail", || {
                cluster
                    .cli(0, &["CLUSTER", "INFO"])
                    .contains("cluster_state:fail")
            });
            marked_down = true;
        }
        let started = Instant::now();
        let fp = f.fingerprint(&all[1 + k]);
        let e = closed
            .decide(&format!("during-{k}"), &fp, 2_000)
            .await
            .expect_err("a decision without one of the masters");
        let took = started.elapsed();
        assert!(e.is_outage(), "not an outage: {e}");
        assert!(e.to_string().contains("dedupe redis store"), "{e}");
        // Four steps at most, each bounded by timeout_ms (300 ms), plus the pending re-reads.
        assert!(
            took < Duration::from_millis(2_500),
            "{k}: took {took:?}: {e}"
        );
        eprintln!("outage {k} (cluster marked down: {marked_down}) after {took:?}: {e}");
        let passed = open.decide(&format!("open-{k}"), &fp, 2_000).await.unwrap();
        assert!(passed.store_error && passed.status == DedupeStatus::Unique);
    }
    assert!(closed.ping().await.unwrap_err().is_outage());
}
