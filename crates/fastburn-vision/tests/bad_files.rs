//! Bad weight files: each gives a typed error, never a panic.

mod common;

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use common::fixture;
use fastburn_vision::resnet::{BlockKind, ResNetConfig, load_resnet};
use fastburn_vision::weights::{WeightsError, read_tensors};

/// Writes `bytes` to a file named `name` in `dir`.
fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The first `len` bytes of a fixture.
fn head_of(name: &str, len: usize) -> Vec<u8> {
    let mut bytes = std::fs::read(fixture(name)).unwrap();
    bytes.truncate(len);
    bytes
}

#[test]
fn truncated_zip_is_invalid_pytorch() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "cut.pth",
        &head_of("resnet34-random.pth", 1 << 20),
    );

    let err = read_tensors(&path).unwrap_err();
    assert!(matches!(err, WeightsError::InvalidPytorch { .. }), "{err}");
    assert!(err.to_string().contains("cut.pth"), "{err}");
}

#[test]
fn truncated_legacy_pickle_is_invalid() {
    let dir = tempfile::tempdir().unwrap();

    // Cut inside the pickle that describes the tensors.
    let path = write(
        dir.path(),
        "pickle.pth",
        &head_of("resnet10-random-legacy.pth", 5000),
    );
    let err = read_tensors(&path).unwrap_err();
    assert!(matches!(err, WeightsError::InvalidPickle { .. }), "{err}");

    // Cut inside the storage bytes that follow the pickles.
    let path = write(
        dir.path(),
        "data.pth",
        &head_of("resnet10-random-legacy.pth", 1 << 20),
    );
    let err = read_tensors(&path).unwrap_err();
    assert!(matches!(err, WeightsError::InvalidPytorch { .. }), "{err}");
}

#[test]
fn os_system_pickle_is_rejected() {
    // pickle.dumps of `os.system("echo pwned")` as a reduce, protocol 2.
    let pickle = b"\x80\x02cos\nsystem\nq\x00X\n\x00\x00\x00echo pwnedq\x01\x85q\x02Rq\x03.";
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "evil.pth", pickle);

    let err = read_tensors(&path).unwrap_err();
    match err {
        WeightsError::UnsafePickle { global, .. } => assert_eq!(global, "os.system"),
        other => panic!("expected UnsafePickle, got {other}"),
    }
}

#[test]
fn resnet10_into_resnet34_reports_missing() {
    let device = Device::default();
    let err = load_resnet(
        &ResNetConfig::resnet34(),
        &fixture("resnet10-random.safetensors"),
        &device,
    )
    .unwrap_err();

    let WeightsError::Mismatch { report, .. } = &err else {
        panic!("expected Mismatch, got {err}");
    };
    assert!(
        report
            .missing
            .contains(&"layer1.1.conv1.weight".to_string())
    );
    assert!(
        report
            .missing
            .contains(&"layer4.2.bn2.running_var".to_string())
    );
    assert!(report.unexpected.is_empty(), "{:?}", report.unexpected);
    assert!(report.shape_mismatches.is_empty());
    // The message lists the first keys and the count, and the report contains all of them.
    let message = err.to_string();
    let count = format!("missing keys ({})", report.missing.len());
    assert!(message.contains(&count), "{message}");
    assert!(message.contains(&report.missing[0]), "{message}");
}

#[test]
fn renamed_key_reports_both_names() {
    let file = read_tensors(&fixture("resnet10-random.safetensors")).unwrap();
    let mut tensors = Vec::new();
    for (name, tensor) in file.iter() {
        let name = if name == "layer2.0.bn1.weight" {
            "layer2.0.bn1.gamma"
        } else {
            name
        };
        let bytes: Vec<u8> = tensor.values.iter().flat_map(|v| v.to_le_bytes()).collect();
        tensors.push((name.to_string(), tensor.shape.clone(), bytes));
    }
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(name, shape, bytes)| {
            let view =
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                    .unwrap();
            (name.clone(), view)
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("renamed.safetensors");
    safetensors::serialize_to_file(views, None, &path).unwrap();

    let config = ResNetConfig::new(BlockKind::Basic, [1, 1, 1, 1]);
    let err = load_resnet(&config, &path, &Device::default()).unwrap_err();
    let WeightsError::Mismatch { report, .. } = &err else {
        panic!("expected Mismatch, got {err}");
    };
    assert_eq!(report.missing, vec!["layer2.0.bn1.weight".to_string()]);
    assert_eq!(report.unexpected, vec!["layer2.0.bn1.gamma".to_string()]);
}

#[test]
fn wrong_shape_is_reported() {
    let device = Device::default();
    let config = ResNetConfig::new(BlockKind::Basic, [1, 1, 1, 1]).with_num_classes(10);
    let err = load_resnet(&config, &fixture("resnet10-random.safetensors"), &device).unwrap_err();

    let WeightsError::Mismatch { report, .. } = &err else {
        panic!("expected Mismatch, got {err}");
    };
    assert_eq!(report.shape_mismatches.len(), 2);
    assert_eq!(report.shape_mismatches[0].key, "fc.weight");
    assert_eq!(report.shape_mismatches[0].expected, vec![10, 512]);
    assert_eq!(report.shape_mismatches[0].found, vec![1000, 512]);
    assert_eq!(report.shape_mismatches[1].key, "fc.bias");
    assert_eq!(report.shape_mismatches[1].expected, vec![10]);
    assert_eq!(report.shape_mismatches[1].found, vec![1000]);
}

#[test]
fn empty_file_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "empty.safetensors", b"");
    assert!(matches!(
        read_tensors(&path),
        Err(WeightsError::Empty { .. })
    ));
}

#[test]
fn non_weights_file_is_unknown_format() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "notes.pth", b"these are not weights\n");

    let err = read_tensors(&path).unwrap_err();
    assert!(matches!(err, WeightsError::UnknownFormat { .. }), "{err}");
    assert!(err.to_string().contains("notes.pth"));
}

#[test]
fn truncated_onnx_is_invalid_onnx() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "cut.onnx",
        &head_of("resnet10-random.onnx", 1 << 20),
    );

    let err = read_tensors(&path).unwrap_err();
    assert!(matches!(err, WeightsError::InvalidOnnx { .. }), "{err}");

    let config = ResNetConfig::new(BlockKind::Basic, [1, 1, 1, 1]);
    let err = load_resnet(&config, &path, &Device::default()).unwrap_err();
    assert!(matches!(err, WeightsError::InvalidOnnx { .. }), "{err}");
}

#[test]
fn onnx_with_other_block_counts_is_rejected() {
    let err = load_resnet(
        &ResNetConfig::resnet34(),
        &fixture("resnet10-random-folded.onnx"),
        &Device::default(),
    )
    .unwrap_err();

    assert!(matches!(err, WeightsError::InvalidOnnx { .. }), "{err}");
    assert!(err.to_string().contains("4 residual blocks"), "{err}");
}

#[test]
fn truncated_safetensors_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = head_of("resnet10-random.safetensors", 1 << 20);
    let path = write(dir.path(), "cut.safetensors", &bytes);

    let err = read_tensors(&path).unwrap_err();
    assert!(
        matches!(err, WeightsError::InvalidSafetensors { .. }),
        "{err}"
    );
}

#[test]
fn unsafe_pickle_in_zip_is_rejected() {
    use std::io::Write;

    // The layout torch.save writes, with a data.pkl that calls builtins.eval.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evil.pth");
    let mut archive = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    archive.start_file("evil/data.pkl", options).unwrap();
    archive
        .write_all(b"\x80\x02cbuiltins\neval\nX\x04\x00\x00\x001+1q\x00\x85R.")
        .unwrap();
    archive.start_file("evil/version", options).unwrap();
    archive.write_all(b"3\n").unwrap();
    archive.finish().unwrap();

    let err = read_tensors(&path).unwrap_err();
    match err {
        WeightsError::UnsafePickle { global, .. } => assert_eq!(global, "builtins.eval"),
        other => panic!("expected UnsafePickle, got {other}"),
    }
}
