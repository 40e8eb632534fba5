#![no_main]
// Every jute decoder the server runs on network or disk bytes; see ferrozk::fuzzing.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrozk::fuzzing::jute_decode(data));
