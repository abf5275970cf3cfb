//! Dedupe decisions per second of the Redis stores: the single-Redis store (one Lua script per
//! decision) and the Redis Cluster store (single-key steps), in one run on the same fingerprints,
//! so the ratio means something even where the absolute figures do not.
//!
//! The fingerprints are made before the clock starts (fingerprinting is CPU work the store does
//! not see): COUNT distinct ~5 KB texts from the eval articles, each with half of its words edited
//! under its own seed (distinct stories, as most of a wire feed is), and every tenth one a
//! republished copy of an earlier text (a duplicate). Decisions run with at most WINDOW in flight,
//! like the worker's `processing.max_in_flight` of 64.
//!
//! Usage: store_rate [--count N] [--window W] [--single URL] [--cluster URL,URL,...]
//! Run through `scripts/bench.d/store_rate.sh`, which starts both and builds in release mode.

use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use wiredesk::dedupe::{DedupeSettings, Fingerprint, Fingerprinter, Store, StoreKind};

#[path = "../tests/support/corpus.rs"]
mod corpus;
use corpus::{ARTICLES, Rng};

struct Args {
    count: usize,
    window: usize,
    single: Option<String>,
    cluster: Vec<String>,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        count: 20_000,
        window: 64,
        single: None,
        cluster: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--count" => a.count = value()?.parse()?,
            "--window" => a.window = value()?.parse()?,
            "--single" => a.single = Some(value()?),
            "--cluster" => a.cluster = value()?.split(',').map(str::to_owned).collect(),
            other => anyhow::bail!(
                "unknown argument {other}; usage: store_rate [--count N] [--window W] [--single URL] [--cluster URL,URL,...]"
            ),
        }
    }
    anyhow::ensure!(
        a.count > 0 && a.window > 0,
        "--count and --window must be > 0"
    );
    Ok(a)
}

fn corpus(count: usize, f: &Fingerprinter) -> anyhow::Result<Vec<(String, Fingerprint)>> {
    let articles: Vec<String> = std::fs::read_to_string(ARTICLES)?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l)?;
            Ok(format!(
                "{}\n\n{}",
                v["title"].as_str().unwrap_or_default(),
                v["body"].as_str().unwrap_or_default()
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    // All articles' words in order; item k is a ~5 KB run of them from its own offset, half of
    // its words replaced by random words of the same texts.
    let words: Vec<&str> = articles.iter().flat_map(|a| a.split_whitespace()).collect();
    let mut texts: Vec<String> = Vec::with_capacity(count);
    for k in 0..count {
        let text = if k % 10 == 9 {
            // A republished copy of a text a little earlier in the stream.
            format!("By Staff Reporter\n\n{}", texts[k - 5])
        } else {
            let mut rng = Rng(k as u64);
            let start = (rng.next() % words.len() as u64) as usize;
            let mut text = String::with_capacity(5_200);
            for i in 0.. {
                if text.len() >= 5_000 {
                    break;
                }
                let w = if rng.next().is_multiple_of(2) {
                    words[(rng.next() % words.len() as u64) as usize]
                } else {
                    words[(start + i) % words.len()]
                };
                text.push_str(w);
                // Paragraphs of about 60 words, as in the articles.
                text.push_str(if i % 60 == 59 { "\n\n" } else { " " });
            }
            text
        };
        texts.push(text);
    }
    let avg = texts.iter().map(String::len).sum::<usize>() / count;
    eprintln!("store_rate: {count} texts, {avg} bytes on average, fingerprinting");
    Ok(texts
        .iter()
        .enumerate()
        .map(|(k, t)| (format!("bench-{k:08}"), f.fingerprint(t)))
        .collect())
}

/// Sum of `used_memory` over the given standalone node URLs.
async fn used_memory(urls: &[String]) -> anyhow::Result<i64> {
    let mut total = 0;
    for url in urls {
        let client = redis::Client::open(url.as_str())?;
        let mut c = client.get_multiplexed_async_connection().await?;
        let info: String = redis::cmd("INFO").arg("memory").query_async(&mut c).await?;
        total += info
            .lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .context("INFO memory without used_memory")?
            .trim()
            .parse::<i64>()?;
    }
    Ok(total)
}

struct Figures {
    rate: f64,
    p50: Duration,
    p99: Duration,
    duplicates: usize,
    bytes_per_article: f64,
}

async fn run(
    s: &DedupeSettings,
    nodes: &[String],
    items: &[(String, Fingerprint)],
    window: usize,
) -> anyhow::Result<Figures> {
    let store = Store::connect(s).await?;
    let before = used_memory(nodes).await?;
    let t = chrono::Utc::now().timestamp_millis();
    let started = Instant::now();
    let mut results = futures::stream::iter(items.iter().map(|(id, fp)| {
        let store = &store;
        async move {
            let t0 = Instant::now();
            let r = store.check_and_insert(id, fp, t).await;
            (r, t0.elapsed())
        }
    }))
    .buffer_unordered(window);
    let mut latencies = Vec::with_capacity(items.len());
    let mut duplicates = 0;
    while let Some((r, took)) = results.next().await {
        duplicates += usize::from(r?.is_duplicate());
        latencies.push(took);
    }
    let secs = started.elapsed().as_secs_f64();
    drop(results);
    let after = used_memory(nodes).await?;
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Ok(Figures {
        rate: items.len() as f64 / secs,
        p50: at(0.50),
        p99: at(0.99),
        duplicates,
        bytes_per_article: (after - before) as f64 / items.len() as f64,
    })
}

fn print(name: &str, n: usize, window: usize, f: &Figures) {
    println!(
        "store_rate: {name:<8} {n} decisions, window {window}: {:>7.0} decisions/s  p50 {:>6.2} ms  p99 {:>6.2} ms  {} duplicates  {:.0} B/article (used_memory)",
        f.rate,
        f.p50.as_secs_f64() * 1e3,
        f.p99.as_secs_f64() * 1e3,
        f.duplicates,
        f.bytes_per_article
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args()?;
    let base = DedupeSettings::default();
    let f = Fingerprinter::new(&base);
    let items = corpus(a.count, &f)?;
    let prefix = format!("bench-store-rate:{}:", std::process::id());
    let mut single = None;
    if let Some(url) = &a.single {
        let mut s = base.clone();
        s.store = StoreKind::Redis;
        s.redis.url = url.clone();
        s.redis.key_prefix = prefix.clone();
        s.redis.timeout_ms = 5_000;
        let figures = run(&s, std::slice::from_ref(url), &items, a.window).await?;
        print("single", a.count, a.window, &figures);
        single = Some(figures);
    }
    if !a.cluster.is_empty() {
        let mut s = base.clone();
        s.store = StoreKind::RedisCluster;
        s.redis.cluster_urls = a.cluster.clone();
        s.redis.key_prefix = prefix.clone();
        s.redis.timeout_ms = 5_000;
        let figures = run(&s, &a.cluster, &items, a.window).await?;
        print("cluster", a.count, a.window, &figures);
        if let Some(single) = &single {
            println!(
                "store_rate: cluster / single = {:.2} (decisions/s), {:.2} (bytes per article)",
                figures.rate / single.rate,
                figures.bytes_per_article / single.bytes_per_article
            );
        }
    }
    Ok(())
}
