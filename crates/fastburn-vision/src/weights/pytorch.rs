//! PyTorch checkpoints (`.pth`, `.pt`): the zip format of PyTorch ≥ 1.6 and the legacy
//! pickle stream before it, read with pytorch-reader after a pickle safety scan.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use burn_store::pytorch_reader::{DType, PytorchReader};

use super::error::WeightsError;
use super::pickle_scan::{ScanError, scan_pickle};
use super::tensor_map::{TensorMap, WeightTensor};

/// The number of pickles at the start of a legacy checkpoint: magic number, protocol
/// version, system info, the saved object and the storage keys. Raw storage bytes follow.
const LEGACY_PICKLE_COUNT: usize = 5;

/// Reads every tensor of a zip checkpoint, after checking all its pickles are safe.
pub(crate) fn read_zip(path: &Path) -> Result<TensorMap, WeightsError> {
    scan_zip_pickles(path)?;
    read_checked(path)
}

/// Reads every tensor of a legacy (pre-1.6) checkpoint or a plain pickle, after checking
/// its pickles are safe.
pub(crate) fn read_legacy(path: &Path, bytes: &[u8]) -> Result<TensorMap, WeightsError> {
    let mut start = 0;

    for _ in 0..LEGACY_PICKLE_COUNT {
        let end = scan_pickle(&bytes[start..]).map_err(|err| scan_error(path, start, err))?;
        start += end;

        // A plain pickle contains one object and then ends, but a legacy stream continues.
        if bytes.get(start) != Some(&0x80) {
            break;
        }
    }

    read_checked(path)
}

/// Scans every pickle inside a zip checkpoint (`<root>/data.pkl`, and any other `.pkl`).
fn scan_zip_pickles(path: &Path) -> Result<(), WeightsError> {
    let file = File::open(path).map_err(|source| io_error(path, source))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|err| invalid_pytorch(path, err))?;
    let mut scanned = 0;

    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .map_err(|err| invalid_pytorch(path, err))?;
        let name = entry.name().map_err(|err| invalid_pytorch(path, err))?;
        if !name.ends_with(".pkl") {
            continue;
        }

        let mut pickle = Vec::new();
        entry
            .read_to_end(&mut pickle)
            .map_err(|err| invalid_pytorch(path, err))?;
        scan_pickle(&pickle).map_err(|err| scan_error(path, 0, err))?;
        scanned += 1;
    }

    if scanned == 0 {
        return Err(WeightsError::InvalidPytorch {
            path: path.to_path_buf(),
            message: "the zip archive has no data.pkl entry".to_string(),
        });
    }

    Ok(())
}

/// Opens a checkpoint whose pickles passed the scan and converts its tensors to `f32`.
fn read_checked(path: &Path) -> Result<TensorMap, WeightsError> {
    let reader = PytorchReader::new(path).map_err(|err| invalid_pytorch(path, err))?;
    let mut map = TensorMap::new();

    for (name, tensor) in reader.into_tensors() {
        let bytes = tensor.read().map_err(|err| invalid_pytorch(path, err))?;
        let values = to_f32(tensor.dtype(), &bytes);

        // `read` returns exactly `shape.product()` elements, so `new` cannot fail here;
        // it is checked anyway rather than trusted.
        let tensor = WeightTensor::new(tensor.shape().to_vec(), values).ok_or_else(|| {
            invalid_pytorch(
                path,
                format!("tensor `{name}` has the wrong number of elements"),
            )
        })?;
        map.insert(name, tensor);
    }

    Ok(map)
}

/// Converts native-endian bytes of `dtype` to `f32` (integers and booleans too, since
/// state dicts hold counters such as `num_batches_tracked`).
fn to_f32(dtype: DType, bytes: &[u8]) -> Vec<f32> {
    fn chunks<const N: usize>(bytes: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
        bytes
            .chunks_exact(N)
            .map(|chunk| chunk.try_into().expect("chunks_exact yields N bytes"))
    }

    match dtype {
        DType::F32 => chunks::<4>(bytes).map(f32::from_ne_bytes).collect(),
        DType::F64 => chunks::<8>(bytes)
            .map(|b| f64::from_ne_bytes(b) as f32)
            .collect(),
        DType::F16 => chunks::<2>(bytes)
            .map(|b| half::f16::from_ne_bytes(b).to_f32())
            .collect(),
        DType::BF16 => chunks::<2>(bytes)
            .map(|b| half::bf16::from_ne_bytes(b).to_f32())
            .collect(),
        DType::I64 => chunks::<8>(bytes)
            .map(|b| i64::from_ne_bytes(b) as f32)
            .collect(),
        DType::I32 => chunks::<4>(bytes)
            .map(|b| i32::from_ne_bytes(b) as f32)
            .collect(),
        DType::I16 => chunks::<2>(bytes)
            .map(|b| i16::from_ne_bytes(b) as f32)
            .collect(),
        DType::I8 => bytes.iter().map(|b| *b as i8 as f32).collect(),
        DType::U8 | DType::Bool => bytes.iter().map(|b| *b as f32).collect(),
        DType::U16 => chunks::<2>(bytes)
            .map(|b| u16::from_ne_bytes(b) as f32)
            .collect(),
        DType::U32 => chunks::<4>(bytes)
            .map(|b| u32::from_ne_bytes(b) as f32)
            .collect(),
        DType::U64 => chunks::<8>(bytes)
            .map(|b| u64::from_ne_bytes(b) as f32)
            .collect(),
    }
}

fn scan_error(path: &Path, base: usize, err: ScanError) -> WeightsError {
    match err {
        ScanError::Unsafe(global) => WeightsError::UnsafePickle {
            path: path.to_path_buf(),
            global,
        },
        ScanError::Invalid { offset, message } => WeightsError::InvalidPickle {
            path: path.to_path_buf(),
            offset: base + offset,
            message,
        },
    }
}

fn invalid_pytorch(path: &Path, err: impl std::fmt::Display) -> WeightsError {
    WeightsError::InvalidPytorch {
        path: path.to_path_buf(),
        message: err.to_string(),
    }
}

fn io_error(path: &Path, source: std::io::Error) -> WeightsError {
    WeightsError::Io {
        path: path.to_path_buf(),
        source,
    }
}
