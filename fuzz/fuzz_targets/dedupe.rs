#![no_main]
//! Fuzz target `dedupe`: see `wiredesk::harness::Target::Dedupe`.
use libfuzzer_sys::fuzz_target;
use wiredesk::harness::{Target, run};

fuzz_target!(|data: &[u8]| run(Target::Dedupe, data));
