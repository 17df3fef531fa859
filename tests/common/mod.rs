//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

use fastburn::notebook::NotebookConfig;

/// Returns the shared data folder: `$FASTBURN_SHARED`, or `../shared` beside the workspace.
pub fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("FASTBURN_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    assert!(
        dir.join("data/rps").is_dir(),
        "shared data not found at {}: set FASTBURN_SHARED to the folder holding data/ and fixtures/",
        dir.display()
    );
    dir
}

/// Returns a configuration that runs every step on 18 images of 32 pixels, writing into `out`.
pub fn small_config(shared: &Path, out: &Path) -> NotebookConfig {
    let mut config = NotebookConfig::new(shared.join("data/rps"), out);
    config.weights = Some(shared.join("fixtures/resnet34-random.pth"));
    config.size = 32;
    config.batch_size = 6;
    config.max_items = Some(18);
    config.frozen_epochs = 2;
    config.unfrozen_epochs = 1;
    config.final_epochs = 1;
    config.lr_find_iters = 8;
    config.num_workers = Some(2);
    config.verbose = false;
    config
}
