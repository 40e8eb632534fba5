#![no_main]
// DIGEST-MD5 responses, JAAS files and JVM flags; see ferrozk::fuzzing::sasl.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrozk::fuzzing::sasl(data));
