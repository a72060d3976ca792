#![no_main]
//! Fuzz target: the properties of `webim_edge::fuzzing::signature`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| webim_edge::fuzzing::signature(data));
