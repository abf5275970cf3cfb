//! PLACEHOLDER until the tags stage lands (issue 4): assigns nothing. Never faked.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TagSettings {
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Tag { pub id: String }

pub struct TagStage;
impl TagStage {
    pub fn new(_s: &TagSettings) -> anyhow::Result<Self> { Ok(TagStage) }
    pub fn reload(&self) -> anyhow::Result<()> { Ok(()) }
    pub fn tag(&self, _text: &str, _title_chars: usize, _e: &[(&str, &str)]) -> Vec<Tag> { Vec::new() }
}
