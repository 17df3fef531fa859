//! fastburn's workloads at 224 pixels, batch 32 and 64, on the default backend: the data
//! pipeline on the rock-paper-scissors images, ResNet34 inference, and `fit` steps with the
//! body frozen and unfrozen. The model workloads run again with the learner's `to_bf16()`
//! (names ending in `_bf16`), which on Flex uses the AMX tiles where the processor has them.
//!
//! `cargo bench --profile dev --bench workloads` reuses the test build; a plain `cargo bench`
//! builds the release profile first. One training step at batch 64 takes seconds on a CPU,
//! so every benchmark takes 10 samples of one batch each. Filter with a name, as in
//! `cargo bench --profile dev --bench workloads -- train_frozen`.

use std::path::PathBuf;
use std::time::Duration;

use burn::tensor::Device;
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use fastburn::burn;
use fastburn::learner::Precision;
use fastburn::vision::Arch;
use fastburn::workload::{Workload, WorkloadConfig, run_workload};

const BATCH_SIZES: [usize; 2] = [32, 64];
const SIZE: usize = 224;

fn rps_dir() -> PathBuf {
    // `$FASTBURN_SHARED/data/rps`, or `../shared/data/rps` from the workspace root, where
    // cargo runs benches.
    fastburn::rps_data::locate_rps(None).unwrap_or_else(|error| panic!("{error}"))
}

/// Batches per timed run: one training or inference batch takes seconds, but the loader
/// workers run ahead, so the pipeline is timed over many batches to reach its steady rate.
fn batches_per_run(workload: Workload) -> usize {
    match workload {
        Workload::Pipeline => 12,
        _ => 1,
    }
}

fn bench_workload(c: &mut Criterion, workload: Workload, precision: Precision, name: &str) {
    let mut group = c.benchmark_group(name);
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(1));
    group.measurement_time(Duration::from_secs(1));

    for batch_size in BATCH_SIZES {
        let config = WorkloadConfig {
            workload,
            arch: Arch::ResNet34,
            batch_size,
            size: SIZE,
            iters: batches_per_run(workload),
            warmup: 1,
            device: Device::default(),
            data: workload.needs_data().then(rps_dir),
            workers: 2,
            precision,
        };
        group.throughput(Throughput::Elements((batch_size * config.iters) as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(batch_size),
            &config,
            |bencher, config| {
                // Each run builds its model or loader and warms up before its timed batches, and
                // reports only their time.
                bencher.iter_custom(|iters| {
                    let mut seconds = 0.0;
                    for _ in 0..iters {
                        seconds += run_workload(config).expect("the workload runs").seconds;
                    }
                    Duration::from_secs_f64(seconds)
                });
            },
        );
    }
    group.finish();
}

fn pipeline(c: &mut Criterion) {
    bench_workload(c, Workload::Pipeline, Precision::Fp32, "pipeline_224");
}

/// Benchmarks `workload` in `f32` as group `name` and with bfloat16 convolutions (the
/// learner's `to_bf16()`) as `name_bf16`.
fn bench_both_precisions(c: &mut Criterion, workload: Workload, name: &str) {
    bench_workload(c, workload, Precision::Fp32, name);
    bench_workload(c, workload, Precision::Bf16, &format!("{name}_bf16"));
}

fn inference(c: &mut Criterion) {
    bench_both_precisions(c, Workload::Inference, "resnet34_inference_224");
}

fn train_frozen(c: &mut Criterion) {
    bench_both_precisions(c, Workload::TrainFrozen, "resnet34_train_frozen_224");
}

fn train_unfrozen(c: &mut Criterion) {
    bench_both_precisions(c, Workload::TrainUnfrozen, "resnet34_train_unfrozen_224");
}

criterion_group!(benches, pipeline, inference, train_frozen, train_unfrozen);
criterion_main!(benches);
