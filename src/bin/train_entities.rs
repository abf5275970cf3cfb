//! `train-entities`: train the entity model from annotated corpora (issue 12).
//!
//! `cargo run --release --bin train-entities` retrains `models/entities/model.bin` from
//! `data/ner-train` with the committed settings; see `docs/entities.md` for training on
//! your own annotated data.

use std::path::PathBuf;

use clap::Parser;
use wiredesk::stage::entities::train::{TrainOptions, train};

/// Train the entities model (averaged perceptron over hashed features; deterministic).
#[derive(Parser, Debug)]
#[command(name = "train-entities")]
struct Args {
    /// Corpus folder or `sentences.conll` file (repeatable). Folders are searched for
    /// `sentences.conll`; a file's parent folder names its source.
    #[arg(long, default_value = "data/ner-train")]
    data: Vec<PathBuf>,
    /// Leave out sources under `share-alike/` (CC BY-SA), for a model that is not share-alike.
    #[arg(long)]
    no_share_alike: bool,
    /// Do not synthesize headlines and datelines.
    #[arg(long)]
    no_augment: bool,
    /// Synthetic sports documents to add (with augmentation).
    #[arg(long, default_value_t = TrainOptions::default().sport_docs)]
    sport_docs: usize,
    /// Passes over the training data.
    #[arg(long, default_value_t = TrainOptions::default().epochs)]
    epochs: usize,
    /// Weight table size: 2^bits rows.
    #[arg(long, default_value_t = TrainOptions::default().bits)]
    bits: u32,
    /// Seed for example order and augmentation.
    #[arg(long, default_value_t = TrainOptions::default().seed)]
    seed: u64,
    /// Update weight of a source, `name=weight` (repeatable; default 1).
    #[arg(long = "weight", value_parser = parse_weight)]
    weights: Vec<(String, f32)>,
    /// Output model file.
    #[arg(long, default_value = "models/entities/model.bin")]
    out: PathBuf,
}

fn main() {
    let a = Args::parse();
    if !(10..=24).contains(&a.bits) {
        eprintln!("error: --bits must be between 10 and 24");
        std::process::exit(2);
    }
    let opts = TrainOptions {
        data: a.data,
        share_alike: !a.no_share_alike,
        epochs: a.epochs,
        bits: a.bits,
        seed: a.seed,
        augment: !a.no_augment,
        out: a.out,
        weights: a.weights,
        sport_docs: a.sport_docs,
        ..TrainOptions::default()
    };
    if let Err(e) = train(&opts, &mut std::io::stderr()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn parse_weight(s: &str) -> Result<(String, f32), String> {
    let (name, w) = s
        .split_once('=')
        .ok_or_else(|| format!("expected name=weight, got {s:?}"))?;
    let w: f32 = w.parse().map_err(|e| format!("bad weight in {s:?}: {e}"))?;
    if !(w.is_finite() && w >= 0.0) {
        return Err(format!("weight must be >= 0 in {s:?}"));
    }
    Ok((name.to_string(), w))
}
