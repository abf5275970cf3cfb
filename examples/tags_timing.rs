//! Minimum time per pass over the 24 GUM articles, rules alone vs rules + model, interleaved
//! (the minimum of many rounds is robust to a loaded machine). `cargo run --release --example tags_timing`
use std::time::Instant;
use wiredesk::stage::tags::{TagSettings, TagStage};

fn main() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/gum-news/articles.jsonl"
    );
    let docs: Vec<(String, usize)> = std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            let t = v["title"].as_str().unwrap_or("").to_owned();
            (
                format!("{t}\n\n{}", v["body"].as_str().unwrap_or("")),
                t.chars().count(),
            )
        })
        .collect();
    // the held-out briefs: what the model is for
    let briefs: Vec<(String, usize)> = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/topics/heldout.jsonl"
    ))
    .unwrap_or_default()
    .lines()
    .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
    .map(|v| {
        let t = v["title"].as_str().unwrap_or("").to_owned();
        (
            format!("{t}\n\n{}", v["body"].as_str().unwrap_or("")),
            t.chars().count(),
        )
    })
    .collect();
    let full = TagStage::new(&TagSettings::default()).expect("default stage");
    let rules = TagStage::new(&TagSettings {
        model_enabled: false,
        ..TagSettings::default()
    })
    .expect("rules");
    for (name, set, rounds) in [
        ("24 GUM articles", &docs, 300),
        ("340 held-out briefs", &briefs, 30),
    ] {
        let (mut best_full, mut best_rules) = (f64::MAX, f64::MAX);
        for _ in 0..rounds {
            for (stage, best) in [(&full, &mut best_full), (&rules, &mut best_rules)] {
                let t = Instant::now();
                for (text, title) in set.iter() {
                    std::hint::black_box(stage.tag(text, *title, &[]));
                }
                *best = best.min(t.elapsed().as_secs_f64());
            }
        }
        let n = set.len() as f64;
        println!(
            "{name}: rules + model {:.0} articles/s; rules only {:.0} articles/s",
            n / best_full,
            n / best_rules
        );
    }
}
