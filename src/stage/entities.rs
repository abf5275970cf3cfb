//! PLACEHOLDER until the entities stage lands (issue 3): finds nothing. Never faked.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EntitySettings {
    pub enabled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind { Person, Organization, Location, Group, Event, Other }
impl EntityKind {
    pub fn as_str(self) -> &'static str { "other" }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Entity {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: EntityKind,
}

pub struct EntityStage;
impl EntityStage {
    pub fn new(_s: &EntitySettings) -> anyhow::Result<Self> { Ok(EntityStage) }
    pub fn extract(&self, _text: &str, _title_chars: usize) -> Vec<Entity> { Vec::new() }
}
