//! Fingerprint-and-lookup throughput with 1,000,000 articles in the window,
//! and index memory per article (from `MemoryStore::approx_bytes`).
//!
//! Run: `cargo bench --bench dedupe`

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wiredesk::dedupe::fingerprint::mix64;
use wiredesk::dedupe::memory::MemoryStore;
use wiredesk::dedupe::{DedupeSettings, Fingerprint, Fingerprinter};

#[path = "../tests/support/corpus.rs"]
mod corpus;
use corpus::gum_texts;

/// Articles held during the measurement. `cargo test --all-targets` runs this
/// bench once in test mode (no `--bench` argument, debug build): prefill less.
fn prefill() -> u64 {
    if std::env::args().any(|a| a == "--bench") {
        1_000_000
    } else {
        10_000
    }
}

fn bench(c: &mut Criterion) {
    let n_prefill = prefill();
    let s = DedupeSettings {
        max_entries: n_prefill as usize,
        ..Default::default()
    };
    let f = Fingerprinter::new(&s);
    let store = MemoryStore::new(&s);
    let (bands, rows) = store.band_layout();
    // Prefill with synthetic random signatures (unrelated articles), ids like
    // real ones ("reuters-<n>"), event times spread over 48 h.
    let t0 = Instant::now();
    for i in 0..n_prefill {
        let sig: Vec<u8> = (0..s.num_hashes as u64)
            .map(|j| mix64(i << 16 | j) as u8)
            .collect();
        let fp = Fingerprint::from_parts(sig, i, 400);
        store
            .check_and_insert(&format!("reuters-{i:08}"), &fp, (i * 172) as i64)
            .unwrap();
    }
    let bytes = store.approx_bytes();
    let n = store.entries();
    println!(
        "\nprefill: {n} articles in {:.2?}; index {:.1} MiB = {:.1} bytes/article (num_hashes={}, bands={bands}x{rows})",
        t0.elapsed(),
        bytes as f64 / (1 << 20) as f64,
        bytes as f64 / n as f64,
        s.num_hashes
    );

    let texts = gum_texts();
    let now = (n_prefill * 172) as i64;
    let mut g = c.benchmark_group("dedupe");
    g.throughput(Throughput::Elements(1));
    // The unit: one 5 KB article (the Wikinews texts joined and cut
    // at 5,000 bytes, on a char boundary).
    let joined = texts.join("\n\n");
    let mut cut = 5_000.min(joined.len());
    while !joined.is_char_boundary(cut) {
        cut -= 1;
    }
    let five_kb = &joined[..cut];
    g.bench_function("fingerprint_5kb", |b| {
        b.iter(|| black_box(f.fingerprint(black_box(five_kb))))
    });
    let mut k = 0usize;
    g.bench_function("fingerprint", |b| {
        b.iter(|| {
            k += 1;
            black_box(f.fingerprint(&texts[k % texts.len()]))
        })
    });
    let mut id = 0u64;
    g.bench_function("fingerprint_and_lookup_1M_window", |b| {
        b.iter(|| {
            id += 1;
            let fp = f.fingerprint(&texts[id as usize % texts.len()]);
            black_box(
                store
                    .check_and_insert(&format!("ap-{id:010}"), &fp, now)
                    .unwrap(),
            )
        })
    });
    let sigs: Vec<Fingerprint> = texts.iter().map(|t| f.fingerprint(t)).collect();
    g.bench_function("lookup_insert_only_1M_window", |b| {
        b.iter(|| {
            id += 1;
            black_box(
                store
                    .check_and_insert(
                        &format!("ap-{id:010}"),
                        &sigs[id as usize % sigs.len()],
                        now,
                    )
                    .unwrap(),
            )
        })
    });
    g.finish();
    let bytes = store.approx_bytes();
    let n = store.entries();
    println!(
        "after bench: {n} articles; {:.1} bytes/article",
        bytes as f64 / n as f64
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
