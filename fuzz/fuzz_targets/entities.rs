#![no_main]
//! Fuzz target `entities`: see `wiredesk::harness::Target::Entities`.
use libfuzzer_sys::fuzz_target;
use wiredesk::harness::{Target, run};

fuzz_target!(|data: &[u8]| run(Target::Entities, data));
