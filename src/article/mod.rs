//! The article as it arrives ([`Article`]) and as it leaves ([`Enriched`]): parsing, normalization
//! and, in [`wire`], the v1 wire types themselves (re-exported here).

pub mod normalize;
pub mod parse;
pub mod wire;

pub use wire::*;
