//! Test data shared by the dedupe tests, benches and examples (each includes this file with
//! `#[path]`): the GUM Wikinews articles as texts, and a seeded generator for edits.
#![allow(dead_code)]

pub const ARTICLES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/gum-news/articles.jsonl"
);

/// Title and body of every article in `tests/data/gum-news/articles.jsonl`.
pub fn gum_texts() -> Vec<String> {
    std::fs::read_to_string(ARTICLES)
        .expect("read tests/data/gum-news/articles.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON article");
            format!(
                "{}\n\n{}",
                v["title"].as_str().expect("a title"),
                v["body"].as_str().expect("a body")
            )
        })
        .collect()
}

/// splitmix64: seeded, so every run makes the same edits.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}
