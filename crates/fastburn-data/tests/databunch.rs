//! The DataBunch on generated folders and on the rock-paper-scissors dataset.

mod common;

use burn::tensor::Device;
use common::{dataset_color, int_values, make_dataset, shared_dir, values, write_solid_png};
use fastburn_data::{IMAGENET_STATS, ImageCheck, ImageDataBunch, Item, NormStats, open_image};

fn device() -> Device {
    Device::default()
}

#[test]
fn scan_classes_items_and_extensions() {
    let root = tempfile::tempdir().unwrap();
    make_dataset(root.path(), &["dog", "cat"], &[("train", 3), ("valid", 2)]);
    write_solid_png(&root.path().join("train/cat/UPPER.PNG"), 4, 4, [0, 0, 0]);
    std::fs::rename(
        root.path().join("train/cat/UPPER.PNG"),
        root.path().join("train/cat/UPPER.JPG.png"),
    )
    .unwrap();
    std::fs::write(root.path().join("train/cat/.DS_Store"), "x").unwrap();
    std::fs::write(root.path().join("train/cat/README.txt"), "x").unwrap();

    let data = ImageDataBunch::from_folder(root.path()).build().unwrap();
    assert_eq!(data.classes(), ["cat", "dog"]);
    assert_eq!(data.c(), 2);
    assert_eq!(data.train_len(), 7);
    assert_eq!(data.valid_len(), 4);
    assert_eq!(
        data.train_items()[0],
        Item {
            path: root.path().join("train/cat/000.png"),
            label: 0
        }
    );
    let dogs = data
        .valid_items()
        .iter()
        .filter(|item| item.label == 1)
        .count();
    assert_eq!(dogs, 2);
}

#[test]
fn batch_shapes_targets_and_drop_last() {
    let root = tempfile::tempdir().unwrap();
    make_dataset(root.path(), &["a", "b"], &[("train", 5), ("valid", 3)]);
    let data = ImageDataBunch::from_folder(root.path())
        .size(8)
        .batch_size(4)
        .num_workers(2)
        .build()
        .unwrap();
    assert_eq!(data.num_train_batches(), 2);
    assert_eq!(data.num_valid_batches(), 2);

    let train: Vec<_> = data
        .train_batches(0, &device())
        .map(Result::unwrap)
        .collect();
    assert_eq!(train.len(), 2);
    let mut seen = Vec::new();
    for batch in train {
        assert_eq!(batch.images.dims(), [4, 3, 8, 8]);
        let targets = int_values(batch.targets);
        for (target, index) in targets.iter().zip(&batch.indices) {
            assert_eq!(*target as usize, data.train_items()[*index].label);
        }
        seen.extend(batch.indices);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 8, "8 distinct items in the two full batches");

    let valid: Vec<_> = data.valid_batches(&device()).map(Result::unwrap).collect();
    assert_eq!(valid[0].images.dims(), [4, 3, 8, 8]);
    assert_eq!(valid[1].images.dims(), [2, 3, 8, 8]);
    assert_eq!(valid[0].indices, [0, 1, 2, 3]);
    assert_eq!(valid[1].indices, [4, 5]);
}

#[test]
fn valid_batch_normalized_values() {
    let root = tempfile::tempdir().unwrap();
    make_dataset(root.path(), &["a", "b"], &[("train", 1), ("valid", 1)]);
    let data = ImageDataBunch::from_folder(root.path())
        .size(6)
        .batch_size(2)
        .normalize(IMAGENET_STATS)
        .build()
        .unwrap();

    let batch = data.valid_batches(&device()).next().unwrap().unwrap();
    let samples = values(batch.images);
    let plane = 36;
    for (position, item) in data.valid_items().iter().enumerate() {
        let color = dataset_color(item.label, 0);
        for channel in 0..3 {
            let expected = (f32::from(color[channel]) / 255.0 - IMAGENET_STATS.mean[channel])
                / IMAGENET_STATS.std[channel];
            let start = (position * 3 + channel) * plane;
            for value in &samples[start..start + plane] {
                assert!(
                    (value - expected).abs() < 1e-4,
                    "got {value}, expected {expected}"
                );
            }
        }
    }
}

#[test]
fn same_seed_same_batches_any_workers() {
    let root = tempfile::tempdir().unwrap();
    make_dataset(root.path(), &["a", "b", "c"], &[("train", 4), ("valid", 1)]);
    let build = |workers: usize, seed: u64| {
        ImageDataBunch::from_folder(root.path())
            .size(8)
            .batch_size(3)
            .num_workers(workers)
            .seed(seed)
            .build()
            .unwrap()
    };
    let epoch = |data: &ImageDataBunch, epoch: usize| -> Vec<(Vec<usize>, Vec<f32>)> {
        data.train_batches(epoch, &device())
            .map(|batch| {
                let batch = batch.unwrap();
                (batch.indices, values(batch.images))
            })
            .collect()
    };

    let serial = build(0, 5);
    let parallel = build(3, 5);
    assert_eq!(epoch(&serial, 0), epoch(&parallel, 0));
    assert_ne!(
        epoch(&serial, 0),
        epoch(&serial, 1),
        "each epoch reshuffles"
    );
    assert_ne!(
        epoch(&serial, 0),
        epoch(&build(0, 6), 0),
        "the seed matters"
    );
}

#[test]
fn dropping_iterator_early_stops_workers() {
    let root = tempfile::tempdir().unwrap();
    make_dataset(root.path(), &["a"], &[("train", 12), ("valid", 1)]);
    let data = ImageDataBunch::from_folder(root.path())
        .size(4)
        .batch_size(2)
        .num_workers(2)
        .build()
        .unwrap();
    let mut batches = data.train_batches(0, &device());
    assert_eq!(batches.len(), 6);
    assert!(batches.next().unwrap().is_ok());
    drop(batches);
}

#[test]
fn valid_pct_random_split() {
    let root = tempfile::tempdir().unwrap();
    make_dataset(root.path(), &["a", "b"], &[("all", 10)]);
    let split = |seed: u64| {
        ImageDataBunch::from_folder(root.path())
            .train("all")
            .valid_pct(0.25)
            .seed(seed)
            .build()
            .unwrap()
    };

    let data = split(1);
    assert_eq!(data.classes(), ["a", "b"]);
    assert_eq!(data.valid_len(), 5);
    assert_eq!(data.train_len(), 15);
    let mut all: Vec<_> = data
        .train_items()
        .iter()
        .chain(data.valid_items())
        .cloned()
        .collect();
    all.sort_by(|a, b| a.path.cmp(&b.path));
    all.dedup();
    assert_eq!(all.len(), 20, "the split is a partition");

    assert_eq!(split(1).valid_items(), data.valid_items());
    assert_ne!(split(2).valid_items(), data.valid_items());
}

#[test]
fn max_items_balances_classes() {
    let root = tempfile::tempdir().unwrap();
    make_dataset(root.path(), &["a", "b"], &[("train", 6), ("valid", 3)]);
    let data = ImageDataBunch::from_folder(root.path())
        .max_items(4)
        .build()
        .unwrap();
    assert_eq!(data.train_len(), 4);
    assert_eq!(data.valid_len(), 4);
    let label_b = data
        .train_items()
        .iter()
        .filter(|item| item.label == 1)
        .count();
    assert_eq!(label_b, 2);
}

#[test]
fn prepare_image_matches_valid_batch() {
    let root = tempfile::tempdir().unwrap();
    make_dataset(root.path(), &["a"], &[("train", 1), ("valid", 1)]);
    let mut data = ImageDataBunch::from_folder(root.path())
        .size(5)
        .build()
        .unwrap();
    let stats = NormStats {
        mean: [0.5; 3],
        std: [0.25; 3],
    };
    data.set_normalize(stats);
    assert_eq!(data.stats(), Some(stats));

    let path = &data.valid_items()[0].path;
    let single = data.prepare_image(path, &device()).unwrap();
    assert_eq!(single.dims(), [1, 3, 5, 5]);
    let batch = data.valid_batches(&device()).next().unwrap().unwrap();
    assert_eq!(values(single), values(batch.images));
}

#[test]
fn show_batch_writes_png_grid() {
    let root = tempfile::tempdir().unwrap();
    make_dataset(root.path(), &["a", "b"], &[("train", 3), ("valid", 1)]);
    let data = ImageDataBunch::from_folder(root.path())
        .size(32)
        .build()
        .unwrap();
    let output = root.path().join("batch.png");
    data.show_batch(2, &output).unwrap();

    let grid = open_image(&output).unwrap();
    // Two 32-pixel cells with captions, 4-pixel margins: 2 · 36 + 4 wide.
    assert_eq!(grid.width(), 76);
    assert!(grid.height() > 76);
    let dark = grid
        .pixels()
        .filter(|pixel| pixel.0.iter().all(|&c| c < 64))
        .count();
    assert!(dark > 10, "captions are drawn in black");
    assert!(!root.path().join("batch.png.tmp").exists());
}

#[test]
fn rps_classes_counts_and_batches() {
    let rps = shared_dir().join("data/rps");
    let data = ImageDataBunch::from_folder(&rps)
        .image_check(ImageCheck::Header)
        .build()
        .unwrap();
    assert_eq!(data.classes(), ["paper", "rock", "scissors"]);
    assert_eq!(data.train_len(), 840 * 3);
    assert_eq!(data.valid_len(), 124 * 3);
    for label in 0..3 {
        let train = data
            .train_items()
            .iter()
            .filter(|item| item.label == label)
            .count();
        let valid = data
            .valid_items()
            .iter()
            .filter(|item| item.label == label)
            .count();
        assert_eq!((train, valid), (840, 124), "class {label}");
    }

    let small = ImageDataBunch::from_folder(&rps)
        .size(64)
        .batch_size(6)
        .max_items(6)
        .normalize(IMAGENET_STATS)
        .build()
        .unwrap();
    let lowest = (0..3).map(|c| -IMAGENET_STATS.mean[c] / IMAGENET_STATS.std[c]);
    let lowest = lowest.fold(f32::INFINITY, f32::min);
    let highest = (0..3).map(|c| (1.0 - IMAGENET_STATS.mean[c]) / IMAGENET_STATS.std[c]);
    let highest = highest.fold(f32::NEG_INFINITY, f32::max);

    let train = small.train_batches(0, &device()).next().unwrap().unwrap();
    let valid = small.valid_batches(&device()).next().unwrap().unwrap();
    for batch in [train, valid] {
        assert_eq!(batch.images.dims(), [6, 3, 64, 64]);
        let samples = values(batch.images);
        assert!(
            samples
                .iter()
                .all(|v| (lowest - 1e-4..=highest + 1e-4).contains(v))
        );
        let mean = samples.iter().sum::<f32>() / samples.len() as f32;
        // The hands sit on a white background, which normalizes to about 2.
        assert!(mean > 1.0, "normalized mean {mean}");
        let spread = samples.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / samples.len() as f32;
        assert!(spread > 0.05, "images are not blank: variance {spread}");
    }
}

#[test]
fn rps_rgba_png_decodes_rgb() {
    let path = shared_dir().join("data/rps/valid/rock/testrock01-00.png");
    let rgba = image::open(&path).unwrap();
    assert_eq!(rgba.color(), image::ColorType::Rgba8);
    let rgba = rgba.to_rgba8();
    let rgb = open_image(&path).unwrap();
    assert_eq!(rgb.dimensions(), (300, 300));
    for (x, y) in [(0, 0), (150, 150), (299, 10)] {
        let expected = &rgba.get_pixel(x, y).0[..3];
        assert_eq!(&rgb.get_pixel(x, y).0[..], expected);
    }
}
