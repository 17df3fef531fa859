//! Throughput of the data pipeline: decode and the full training transforms at 224 pixels,
//! in images per second, on the rock-paper-scissors training images.
//!
//! Run with `cargo bench -p fastburn-data --bench pipeline`. The dataset is read from
//! `$FASTBURN_SHARED/data/rps` or `../shared/data/rps` beside the workspace.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fastburn_data::{IMAGENET_STATS, ImageCheck, ImageDataBunch};

/// Images per measured iteration: two batches of 64.
const IMAGES: usize = 128;

fn rps_dir() -> PathBuf {
    let shared = match std::env::var_os("FASTBURN_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    };
    let rps = shared.join("data/rps");
    assert!(
        rps.is_dir(),
        "rps dataset not found at {}: set FASTBURN_SHARED to the folder that holds data/rps",
        rps.display()
    );
    rps
}

fn pipeline(c: &mut Criterion) {
    let data = ImageDataBunch::from_folder(rps_dir())
        .size(224)
        .batch_size(64)
        .max_items(IMAGES)
        .normalize(IMAGENET_STATS)
        .image_check(ImageCheck::Skip)
        .build()
        .expect("the rps dataset builds");
    let device = Device::flex();

    let mut group = c.benchmark_group("pipeline");
    group.sample_size(10);
    group.throughput(Throughput::Elements(IMAGES as u64));
    group.bench_function("train_batches_224_all_workers", |bencher| {
        let mut epoch = 0;
        bencher.iter(|| {
            // A new epoch each time, so every iteration decodes and augments afresh.
            epoch += 1;
            for batch in data.train_batches(epoch, &device) {
                let batch = batch.expect("rps images decode");
                std::hint::black_box(batch.images);
            }
        });
    });
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
