//! The Redis store against a real redis-server.
//!
//! Needs `WIREDESK_TEST_REDIS_URL` (e.g. after `scripts/redis-local start`:
//! `export WIREDESK_TEST_REDIS_URL=redis://127.0.0.1:6390`). Without it these
//! tests FAIL on purpose: a silently skipped store test is worse than a red one.
//! The outage test additionally starts its own throw-away `redis-server` on a
//! free loopback port (the binary must be on PATH).

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::free_port;
use common::redis_server::RedisServer;

use wiredesk::dedupe::redis::RedisStore;
use wiredesk::dedupe::{
    DedupeSettings, DedupeStatus, Deduper, Fingerprinter, Store, StoreErrorPolicy, StoreKind,
};

#[path = "support/corpus.rs"]
mod corpus;
use corpus::gum_texts;

fn redis_url() -> String {
    std::env::var("WIREDESK_TEST_REDIS_URL").unwrap_or_else(|_| {
        panic!(
            "WIREDESK_TEST_REDIS_URL is not set: these tests need a real redis-server. \
             Run `scripts/redis-local start` and `export WIREDESK_TEST_REDIS_URL=redis://127.0.0.1:6390` \
             (or point it at any disposable Redis)."
        )
    })
}

fn settings(url: &str) -> DedupeSettings {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let mut s = DedupeSettings {
        store: StoreKind::Redis,
        window_secs: 3600,
        ..Default::default()
    };
    s.redis.url = url.to_string();
    s.redis.key_prefix = format!("wiredesk-test:{}:{nanos}:", std::process::id());
    s.redis.timeout_ms = 1000;
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_replicas_yield_exactly_one_unique() {
    let s = settings(&redis_url());
    let a = RedisStore::connect(&s).await.expect("connect replica A");
    let b = RedisStore::connect(&s).await.expect("connect replica B");
    let f = Fingerprinter::new(&s);
    for (i, text) in gum_texts().iter().enumerate() {
        // Two replicas receive the same story under different article ids at
        // the same moment (one with a republisher's byline).
        let fa = f.fingerprint(text);
        let fb = f.fingerprint(&format!("By Jane Doe, Reuters\n{text}"));
        let (ida, idb) = (format!("a-{i}"), format!("b-{i}"));
        let (ra, rb) = tokio::join!(
            a.check_and_insert(&ida, &fa, 1_000),
            b.check_and_insert(&idb, &fb, 1_000)
        );
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        let uniques = [&ra, &rb]
            .iter()
            .filter(|r| r.status == DedupeStatus::Unique)
            .count();
        assert_eq!(uniques, 1, "story {i}: {ra:?} / {rb:?}");
        let (u, d) = if ra.status == DedupeStatus::Unique {
            (&ra, &rb)
        } else {
            (&rb, &ra)
        };
        assert_eq!(d.cluster_id, u.cluster_id);
        assert_eq!(d.duplicate_of.as_deref(), Some(u.cluster_id.as_str()));
        assert_eq!(d.similarity, Some(1.0));
    }
}

#[tokio::test]
async fn ttl_replay_and_near_duplicates() {
    let url = redis_url();
    let s = settings(&url);
    let store = RedisStore::connect(&s).await.expect("connect");
    let f = Fingerprinter::new(&s);
    let texts = gum_texts();
    let orig = f.fingerprint(&texts[0]);
    let edited = f.fingerprint(&format!(
        "UPDATE 1-{}\n\nReporting by Jane Doe; Editing by Mark Potter",
        texts[0].replacen("the", "a", 5)
    ));
    let other = f.fingerprint(&texts[1]);

    let r1 = store.check_and_insert("orig", &orig, 10_000).await.unwrap();
    assert_eq!(r1.status, DedupeStatus::Unique);
    assert_eq!(r1.cluster_id, "orig");
    let r2 = store
        .check_and_insert("edited", &edited, 20_000)
        .await
        .unwrap();
    assert_eq!(r2.status, DedupeStatus::Duplicate, "{r2:?}");
    assert_eq!(r2.cluster_id, "orig");
    let sim = r2.similarity.unwrap();
    assert!(sim >= s.threshold && sim < 1.0, "{sim}");
    let r3 = store
        .check_and_insert("other", &other, 20_000)
        .await
        .unwrap();
    assert_eq!(r3.status, DedupeStatus::Unique);

    // Replays (redelivery after a crash) return the stored decision, whatever
    // the event time now says.
    assert_eq!(
        store
            .check_and_insert("orig", &orig, 99_000_000)
            .await
            .unwrap(),
        r1
    );
    assert_eq!(
        store
            .check_and_insert("edited", &edited, 99_000_000)
            .await
            .unwrap(),
        r2
    );
    // Same text outside the window (event time 2 h later) is a new cluster.
    let r4 = store
        .check_and_insert("late", &orig, 10_000 + 7_200_000)
        .await
        .unwrap();
    assert_eq!(r4.status, DedupeStatus::Unique, "{r4:?}");

    // Every key written carries a TTL of about window_secs.
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*", s.redis.key_prefix))
        .query_async(&mut c)
        .await
        .unwrap();
    let (bands, _) = s.band_layout();
    assert!(keys.len() >= 4 + bands, "only {} keys", keys.len());
    assert!(keys.contains(&store.article_key("orig")));
    for k in &keys {
        let ttl: i64 = redis::cmd("TTL").arg(k).query_async(&mut c).await.unwrap();
        assert!(ttl > 0 && ttl <= s.window_secs as i64, "{k} ttl {ttl}");
    }
    let _: () = redis::cmd("DEL")
        .arg(&keys)
        .query_async(&mut c)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_fail_open_fail_closed_and_recovery() {
    let _ = redis_url(); // same precondition as the other tests
    let port = free_port();
    let server = RedisServer::start(port);
    let mut s = settings(&format!("redis://127.0.0.1:{port}"));
    s.store_retries = 1;
    s.retry_backoff_ms = 20;
    s.redis.timeout_ms = 300;
    let f = Fingerprinter::new(&s);
    let texts = gum_texts();
    let fp = f.fingerprint(&texts[2]);

    let open = Deduper::new(Store::connect(&s).await.unwrap(), &s);
    let closed = {
        let mut c = s.clone();
        c.on_store_error = StoreErrorPolicy::FailClosed;
        Deduper::new(Store::connect(&c).await.unwrap(), &c)
    };
    open.store().ping().await.unwrap();
    assert_eq!(
        open.decide("first", &fp, 1_000).await.unwrap().status,
        DedupeStatus::Unique
    );

    drop(server); // Redis goes down
    let r = open.decide("during-outage", &fp, 2_000).await.unwrap();
    assert!(r.store_error && r.status == DedupeStatus::Unique, "{r:?}");
    assert_eq!(open.fail_open_count(), 1);
    let e = closed
        .decide("during-outage-2", &fp, 2_000)
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("dedupe redis store"), "{msg}");

    // Redis is back (empty: no persistence): the ConnectionManager reconnects.
    let _server = RedisServer::start(port);
    let mut ok = None;
    for _ in 0..40 {
        match closed.decide("after", &fp, 3_000).await {
            Ok(r) => {
                ok = Some(r);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let r = ok.expect("store did not recover after redis came back");
    assert!(!r.store_error);
    let r2 = open.decide("after-2", &fp, 3_000).await.unwrap();
    assert_eq!(r2.status, DedupeStatus::Duplicate, "{r2:?}");
    assert_eq!(r2.cluster_id, "after");
}
