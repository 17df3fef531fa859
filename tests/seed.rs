//! Two notebook runs with the same seed train alike. This file is its own test process,
//! because Burn's random generator is shared by the whole process and a run in another test
//! thread would draw from it in between.

use burn::tensor::Device;
use fastburn::burn;
use fastburn::notebook::run_notebook;

mod common;
use common::{shared_dir, small_config};

#[test]
fn same_seed_trains_alike() {
    let shared = shared_dir();
    let (first, second) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut runs = Vec::new();
    for out in [&first, &second] {
        let mut config = small_config(&shared, out.path());
        config.frozen_epochs = 1;
        config.seed = 7;
        runs.push(run_notebook(&config, &Device::default()).unwrap());
    }

    // The head's weights, the dropout masks and the batches all follow the seed. Sums split
    // across threads may still add up in another order, hence the tolerance.
    for (stage_a, stage_b) in runs[0].stages.iter().zip(&runs[1].stages) {
        for (row_a, row_b) in stage_a.rows.iter().zip(&stage_b.rows) {
            for column in 1..=3 {
                let a: f64 = row_a[column].parse().unwrap();
                let b: f64 = row_b[column].parse().unwrap();
                assert!((a - b).abs() <= 1e-4 * a.abs().max(1.0), "{}: {row_a:?} vs {row_b:?}", stage_a.name);
            }
        }
    }
}
