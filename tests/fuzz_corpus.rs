//! Replays every kept fuzz input — the seed corpus and each crash found — through the same
//! properties the fuzz targets check (`webim_edge::fuzzing`), so a fixed crash stays fixed.

use std::fs;
use std::path::Path;

use webim_edge::fuzzing;

type Check = fn(&[u8]);

const TARGETS: [(&str, Check); 6] = [
    ("params", fuzzing::params),
    ("signature", fuzzing::signature),
    ("clean", fuzzing::clean),
    ("sanitize", fuzzing::sanitize),
    ("timestamp", fuzzing::timestamp),
    ("pipeline", fuzzing::pipeline),
];

#[test]
fn kept_fuzz_inputs_still_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut replayed = 0;
    for (target, check) in TARGETS {
        for folder in ["corpus", "regressions"] {
            let Ok(entries) = fs::read_dir(root.join(folder).join(target)) else {
                continue;
            };
            for entry in entries.flatten() {
                let data = fs::read(entry.path()).expect("readable fuzz input");
                check(&data);
                replayed += 1;
            }
        }
    }
    assert!(
        replayed >= TARGETS.len(),
        "expected a seed corpus for every target, replayed {replayed}"
    );
}
