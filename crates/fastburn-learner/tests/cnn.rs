//! cnn_learner on an image folder: freezing of a pretrained body, export, load_learner and
//! predict.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use fastburn_data::ImageDataBunch;
use fastburn_learner::{Lr, accuracy, cnn_learner, load_learner};
use fastburn_vision::{Arch, HeadConfig};

fn shared_dir() -> PathBuf {
    let path = match std::env::var_os("FASTBURN_SHARED") {
        Some(path) => PathBuf::from(path),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    };
    assert!(
        path.is_dir(),
        "shared data folder {} is missing; set FASTBURN_SHARED to its location",
        path.display()
    );
    path
}

/// Writes `n` solid-colour 20×20 PNGs per class into `root/{train,valid}/{red,blue}`.
fn write_colour_folder(root: &Path, n: usize) {
    for (split, count) in [("train", n), ("valid", n / 2)] {
        for (class, rgb) in [("red", [200u8, 40, 40]), ("blue", [40u8, 40, 200])] {
            let folder = root.join(split).join(class);
            std::fs::create_dir_all(&folder).unwrap();
            for i in 0..count {
                let shade = (i * 7 % 40) as u8;
                let image = image::RgbImage::from_pixel(20, 20, image::Rgb([rgb[0] - shade, rgb[1] + shade, rgb[2] - shade]));
                image.save(folder.join(format!("{i}.png"))).unwrap();
            }
        }
    }
}

/// Returns the builder of a DataBunch over `n` coloured images per class written into
/// `folder`, at 16 px in batches of 4.
fn colour_data(folder: &Path, n: usize) -> fastburn_data::ImageDataBunchBuilder {
    write_colour_folder(folder, n);
    ImageDataBunch::from_folder(folder).size(16).batch_size(4).num_workers(1)
}

#[test]
fn pretrained_cnn_learner_trains_exports_and_predicts() {
    let folder = tempfile::tempdir().unwrap();
    let data = colour_data(folder.path(), 8).build().unwrap();
    let weights = shared_dir().join("fixtures/resnet34-random.pth");
    let device = Device::default();
    let head = HeadConfig::new(0, 0);
    let mut learner = cnn_learner(data, Arch::ResNet34, Some(&weights), &head, vec![accuracy()], &device).unwrap();
    learner.show_progress = false;

    assert_eq!(learner.layer_groups().len(), 3);
    assert_eq!(learner.n_frozen(), 2, "a pretrained body is frozen");
    assert!(learner.data().stats().is_some(), "ImageNet statistics were set");

    let body_before = learner.model().body.clone();
    learner.fit_one_cycle(1, Lr::Value(1e-2)).unwrap();
    assert_eq!(learner.recorder.losses.len(), 4);
    let first_conv = |body: &fastburn_vision::Body| match body {
        fastburn_vision::Body::ResNet(resnet) => resnet.conv1.weight.val().into_data(),
        _ => unreachable!("a ResNet34 body"),
    };
    assert_eq!(first_conv(&body_before), first_conv(&learner.model().body));

    let export = folder.path().join("export.safetensors");
    learner.export(&export).unwrap();
    let inference = load_learner(&export, &device).unwrap();
    assert_eq!(inference.classes, vec!["blue".to_string(), "red".to_string()]);
    assert_eq!(inference.size, 16);

    let image = folder.path().join("valid/red/0.png");
    let live = learner.predict(&image).unwrap();
    let loaded = inference.predict(&image).unwrap();
    assert_eq!(live.index, loaded.index);
    assert_eq!(live.class, loaded.class);
    for (a, b) in live.probs.iter().zip(&loaded.probs) {
        assert!((a - b).abs() < 1e-4, "{:?} vs {:?}", live.probs, loaded.probs);
    }

    let missing = load_learner(folder.path().join("none.safetensors"), &device).unwrap_err();
    assert!(missing.to_string().contains("none.safetensors"), "{missing}");
}

#[test]
fn export_rejects_custom_valid_tfms() {
    let folder = tempfile::tempdir().unwrap();
    let data = colour_data(folder.path(), 4)
        .valid_tfms(vec![fastburn_data::Transform::flip_lr(1.0)])
        .build()
        .unwrap();
    let head = HeadConfig::new(0, 0);
    let device = Device::default();
    let learner = cnn_learner(data, Arch::ResNet18, None, &head, vec![accuracy()], &device).unwrap();

    let export = folder.path().join("export.safetensors");
    let error = learner.export(&export).unwrap_err();
    assert!(error.to_string().contains("valid_tfms"), "{error}");
    assert!(!export.exists());
}

/// Rewrites the export file at `path` with metadata `key` set to `value`.
fn set_metadata(path: &Path, key: &str, value: &str) {
    let bytes = std::fs::read(path).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let mut metadata = header.metadata().clone().unwrap();
    metadata.insert(key.to_string(), value.to_string());
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let model = file.tensor("model").unwrap();
    let rewritten = safetensors::serialize([("model", model)], Some(metadata)).unwrap();
    std::fs::write(path, rewritten).unwrap();
}

#[test]
fn load_learner_rejects_bad_metadata() {
    let folder = tempfile::tempdir().unwrap();
    let data = colour_data(folder.path(), 4).build().unwrap();
    let head = HeadConfig::new(0, 0);
    let device = Device::default();
    let learner = cnn_learner(data, Arch::ResNet18, None, &head, vec![accuracy()], &device).unwrap();
    let export = folder.path().join("export.safetensors");
    learner.export(&export).unwrap();

    let cases = [
        ("size", "0", "size"),
        ("size", "100000", "size"),
        ("classes", r#"["red"]"#, "1 class names for a head with 2 outputs"),
        ("stats", "[[0.5,0.5,0.5],[0.2,0.0,0.2]]", "stats"),
        ("stats", "[[0.5,null,0.5],[0.2,0.2,0.2]]", "stats"),
    ];
    for (key, value, expected) in cases {
        let damaged = folder.path().join("damaged.safetensors");
        std::fs::copy(&export, &damaged).unwrap();
        set_metadata(&damaged, key, value);
        let error = load_learner(&damaged, &device).unwrap_err();
        let message = error.to_string();
        assert!(message.contains(expected), "{key}={value}: {message}");
        assert!(message.contains("damaged.safetensors"), "{message}");
    }
}
