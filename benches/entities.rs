//! Throughput of the entities stage on real news articles (tests/data/gum-news).
//!
//! `cargo bench --bench entities -- --warm-up-time 1 --measurement-time 3`
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wiredesk::stage::entities::{EntitySettings, EntityStage};

fn articles() -> Vec<(String, usize)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/gum-news/articles.jsonl"
    );
    let data = std::fs::read_to_string(path).expect("gum-news articles");
    data.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let title = v["title"].as_str().unwrap();
            (
                format!("{}\n\n{}", title, v["body"].as_str().unwrap()),
                title.chars().count(),
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    // ENTITIES_BENCH_MODEL=<file>: time another model file (e.g. a smaller table).
    let settings = EntitySettings {
        model: std::env::var_os("ENTITIES_BENCH_MODEL").map(Into::into),
        ..EntitySettings::default()
    };
    let stage = EntityStage::new(&settings).unwrap();
    let arts = articles();
    let bytes: usize = arts.iter().map(|(t, _)| t.len()).sum();
    let run = |stage: &EntityStage| {
        let mut n = 0;
        for (text, title) in &arts {
            n += stage.extract(black_box(text), *title).len();
        }
        n
    };
    let mut g = c.benchmark_group("entities_bytes");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("gum_news_24_articles", |b| b.iter(|| run(&stage)));
    g.finish();
    let mut g = c.benchmark_group("entities_articles");
    g.throughput(Throughput::Elements(arts.len() as u64));
    g.bench_function("gum_news_24_articles", |b| b.iter(|| run(&stage)));
    g.finish();
    // Building the stage (gazetteer automaton, model) takes about a second: few samples.
    let mut g = c.benchmark_group("entities_stage_new");
    g.sample_size(10);
    g.bench_function("default", |b| {
        b.iter(|| EntityStage::new(&EntitySettings::default()).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
