#![no_main]
//! Fuzz target `tags`: see `wiredesk::harness::Target::Tags`.
use libfuzzer_sys::fuzz_target;
use wiredesk::harness::{Target, run};

fuzz_target!(|data: &[u8]| run(Target::Tags, data));
