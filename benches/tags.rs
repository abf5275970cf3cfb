//! Throughput of the tags stage (phrase rules + topic model) over the 24 GUM Wikinews articles
//! (avg ~3.8k chars), and of the rules alone.
//! Run: `cargo bench --bench tags -- --warm-up-time 1 --measurement-time 3`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use wiredesk::stage::tags::{TagSettings, TagStage};

fn articles() -> Vec<(String, usize)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/gum-news/articles.jsonl"
    );
    std::fs::read_to_string(path)
        .expect("tests/data/gum-news/articles.jsonl")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let title = v["title"].as_str().unwrap();
            (
                format!("{title}\n\n{}", v["body"].as_str().unwrap()),
                title.chars().count(),
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let stage = TagStage::new(&TagSettings::default()).unwrap();
    let docs = articles();
    let mut g = c.benchmark_group("tags");
    g.throughput(Throughput::Elements(docs.len() as u64));
    g.bench_function("gum_news_24_articles", |b| {
        b.iter(|| {
            for (text, title) in &docs {
                black_box(stage.tag(black_box(text), *title, &[]));
            }
        })
    });
    // the same without the topic model: the model's share of the time (issue 13)
    let rules = TagStage::new(&TagSettings {
        model_enabled: false,
        ..TagSettings::default()
    })
    .unwrap();
    g.bench_function("gum_news_24_articles_rules_only", |b| {
        b.iter(|| {
            for (text, title) in &docs {
                black_box(rules.tag(black_box(text), *title, &[]));
            }
        })
    });
    g.finish();
    c.bench_function("tags/compile_default_taxonomy", |b| {
        b.iter(|| TagStage::new(&TagSettings::default()).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
