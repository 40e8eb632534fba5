#![no_main]
// Raw request frames through decode, prep, txn encoding, apply and reads; see ferrozk::fuzzing.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrozk::fuzzing::request_path(data));
