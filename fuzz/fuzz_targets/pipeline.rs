#![no_main]
//! Fuzz target `pipeline`: see `wiredesk::harness::Target::Pipeline`.
use libfuzzer_sys::fuzz_target;
use wiredesk::harness::{Target, run};

fuzz_target!(|data: &[u8]| run(Target::Pipeline, data));
