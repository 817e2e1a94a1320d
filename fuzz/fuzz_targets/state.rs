#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| svc::fuzzing::state(data));
