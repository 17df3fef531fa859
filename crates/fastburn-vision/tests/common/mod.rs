//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::PathBuf;

/// The shared data directory: `$FASTBURN_SHARED`, else `<workspace root>/../shared`.
pub fn shared_dir() -> PathBuf {
    let dir = match std::env::var_os("FASTBURN_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    };
    assert!(
        dir.join("fixtures").is_dir(),
        "shared data not found at {}: set $FASTBURN_SHARED to the directory holding fixtures/",
        dir.display()
    );
    dir
}

/// A file under `shared/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    shared_dir().join("fixtures").join(name)
}
