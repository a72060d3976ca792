#![no_main]
//! Fuzz target: the properties of `webim_edge::fuzzing::sanitize`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| webim_edge::fuzzing::sanitize(data));
