//! PLACEHOLDER until the dedupe stage lands (issue 5). Disabled by default; never faked.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DedupeSettings {
    pub enabled: bool,
    pub action: DuplicateAction,
}
impl DedupeSettings {
    pub fn validate(&self) -> Result<(), String> { Ok(()) }
}
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateAction { Drop, #[default] Tag, Route }

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DedupeStatus { Unique, Duplicate }

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DedupeResult { pub status: DedupeStatus, pub cluster_id: String, pub duplicate_of: Option<String>, pub similarity: Option<f64>, #[serde(default, skip_serializing_if = "std::ops::Not::not")] pub store_error: bool }

#[derive(Debug, thiserror::Error)]
#[error("dedupe store unavailable")]
pub struct StoreError;

#[derive(Debug, Clone)]
pub struct Fingerprint;
pub struct Fingerprinter;
impl Fingerprinter {
    pub fn new(_s: &DedupeSettings) -> Self { Fingerprinter }
    pub fn fingerprint(&self, _text: &str) -> Fingerprint { Fingerprint }
}
pub struct Deduper;
impl Deduper {
    pub async fn connect(_s: &DedupeSettings) -> anyhow::Result<Self> { anyhow::bail!("dedupe not implemented yet") }
    pub async fn decide(&self, _id: &str, _fp: &Fingerprint, _t: i64) -> Result<DedupeResult, StoreError> { Err(StoreError) }
    pub async fn ping(&self) -> Result<(), StoreError> { Err(StoreError) }
    pub fn entries(&self) -> Option<u64> { None }
    pub fn approx_bytes(&self) -> Option<u64> { None }
}
