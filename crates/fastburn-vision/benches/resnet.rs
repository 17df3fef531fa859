//! ResNet34 throughput at 224 pixels on the default CPU backend, in images per second:
//! inference (eval mode, no autodiff) and one training step (forward, cross-entropy and
//! backward on an autodiff device).
//!
//! Run with `cargo bench -p fastburn-vision --bench resnet`.

use burn::module::Module;
use burn::tensor::{Device, Distribution, Int, Tensor};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fastburn_vision::resnet::ResNetConfig;

/// Images per batch: small enough for a 2-core CI machine, large enough to amortise
/// per-call overhead.
const BATCH: usize = 8;

fn inference(c: &mut Criterion) {
    let device = Device::default();
    let model = ResNetConfig::resnet34().init(&device).valid();
    let images = Tensor::<4>::random(
        [BATCH, 3, 224, 224],
        Distribution::Normal(0.0, 1.0),
        &device,
    );

    let mut group = c.benchmark_group("resnet34");
    group.sample_size(10);
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("inference_224", |b| {
        b.iter(|| {
            let logits = model.forward(images.clone());
            logits.into_data()
        })
    });
    group.finish();
}

fn training_step(c: &mut Criterion) {
    let device = Device::default().autodiff();
    let model = ResNetConfig::resnet34().init(&device);
    let images = Tensor::<4>::random(
        [BATCH, 3, 224, 224],
        Distribution::Normal(0.0, 1.0),
        &device,
    );
    let targets = Tensor::<1, Int>::arange(0..BATCH as i64, &device);

    let mut group = c.benchmark_group("resnet34");
    group.sample_size(10);
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("train_step_224", |b| {
        b.iter(|| {
            let logits = model.forward(images.clone());
            let loss = burn::nn::loss::CrossEntropyLossConfig::new()
                .init(&device)
                .forward(logits, targets.clone());
            loss.backward()
        })
    });
    group.finish();
}

criterion_group!(benches, inference, training_step);
criterion_main!(benches);
