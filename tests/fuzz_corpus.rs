//! Replays the fuzz corpus (`fuzz/corpus/<target>/`) and every input that once broke a
//! target (`fuzz/regressions/<target>/`) through the same harnesses cargo-fuzz runs, so that
//! CI checks them on stable Rust without libFuzzer. See fuzz/README.md.

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut n = 0;
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        let mut files: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        files.sort();
        for f in files {
            let data = std::fs::read(&f).unwrap();
            let res = std::panic::catch_unwind(|| run(&data));
            assert!(res.is_ok(), "{target} fails on {}", f.display());
            n += 1;
        }
    }
    n
}

#[test]
fn jute_decode_corpus() {
    let n = replay("jute_decode", ferrozk::fuzzing::jute_decode);
    assert!(n >= 100, "only {n} inputs in the jute_decode corpus");
}

#[test]
fn request_path_corpus() {
    let n = replay("request_path", ferrozk::fuzzing::request_path);
    assert!(n >= 30, "only {n} inputs in the request_path corpus");
}

#[test]
fn sasl_corpus() {
    let n = replay("sasl", ferrozk::fuzzing::sasl);
    assert!(n >= 30, "only {n} inputs in the sasl corpus");
}
