//! Reading PyTorch (zip and legacy) and safetensors files into tensor maps.

mod common;

use common::fixture;
use fastburn_vision::weights::{WeightsError, read_tensors};

#[test]
fn zip_checkpoint_reads_resnet34_names() {
    let map = read_tensors(&fixture("resnet34-random.pth")).unwrap();

    let conv1 = map.get("conv1.weight").unwrap();
    assert_eq!(conv1.shape, vec![64, 3, 7, 7]);
    assert_eq!(conv1.values.len(), 64 * 3 * 7 * 7);
    assert_eq!(map.get("fc.weight").unwrap().shape, vec![1000, 512]);
    assert_eq!(
        map.get("layer4.2.bn2.running_var").unwrap().shape,
        vec![512]
    );
    assert_eq!(
        map.get("layer2.0.downsample.0.weight").unwrap().shape,
        vec![128, 64, 1, 1]
    );
    assert!(map.contains("layer1.0.bn1.num_batches_tracked"));
}

#[test]
fn legacy_and_safetensors_hold_same_values() {
    let legacy = read_tensors(&fixture("resnet10-random-legacy.pth")).unwrap();
    let safetensors = read_tensors(&fixture("resnet10-random.safetensors")).unwrap();

    let mut compared = 0;
    for (name, tensor) in safetensors.iter() {
        let other = legacy
            .get(name)
            .unwrap_or_else(|| panic!("legacy file lacks {name}"));
        assert_eq!(tensor.shape, other.shape, "{name}");
        assert_eq!(tensor.values, other.values, "{name}");
        compared += 1;
    }
    assert!(compared > 50, "only {compared} tensors compared");
}

#[test]
fn legacy_checkpoint_honours_strides() {
    // This legacy file stores some weights transposed, and its expected file contains
    // contiguous copies made by PyTorch.
    let shared = common::shared_dir();
    let map = read_tensors(&shared.join("weights/efficientnet-lite0-57934424.pth")).unwrap();
    let expected = read_tensors(&fixture("efficientnet-lite0-expected.safetensors")).unwrap();

    for key in ["_conv_stem.weight", "_blocks.1._expand_conv.weight"] {
        let want = expected.get(&format!("weight.{key}")).unwrap();
        let got = map.get(key).unwrap();
        assert_eq!(got.shape, want.shape, "{key}");
        assert_eq!(got.values, want.values, "{key}");
    }
}

#[test]
fn empty_file_is_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.pth");
    std::fs::write(&path, b"").unwrap();

    let err = read_tensors(&path).unwrap_err();
    assert!(matches!(err, WeightsError::Empty { .. }), "{err}");
}

#[test]
fn missing_file_is_io_error() {
    let err = read_tensors(std::path::Path::new("/nonexistent/weights.pth")).unwrap_err();
    assert!(matches!(err, WeightsError::Io { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/weights.pth"));
}
