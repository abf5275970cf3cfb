#![no_main]
//! Fuzz target `parse_normalize`: see `wiredesk::harness::Target::ParseNormalize`.
use libfuzzer_sys::fuzz_target;
use wiredesk::harness::{Target, run};

fuzz_target!(|data: &[u8]| run(Target::ParseNormalize, data));
