//! safetensors files, as timm and Hugging Face ship ResNets (torchvision names).

use std::path::Path;

use safetensors::{Dtype, SafeTensors};

use super::error::WeightsError;
use super::tensor_map::{TensorMap, WeightTensor};

/// Reads every tensor of a safetensors file held in `bytes`, converted to `f32`.
pub(crate) fn read_safetensors(path: &Path, bytes: &[u8]) -> Result<TensorMap, WeightsError> {
    let file = SafeTensors::deserialize(bytes).map_err(|err| WeightsError::InvalidSafetensors {
        path: path.to_path_buf(),
        message: err.to_string(),
    })?;
    let mut map = TensorMap::new();

    for (name, view) in file.iter() {
        let values =
            to_f32(view.dtype(), view.data()).ok_or_else(|| WeightsError::UnsupportedDtype {
                path: path.to_path_buf(),
                key: name.to_string(),
                dtype: format!("{:?}", view.dtype()),
            })?;

        // safetensors checks each view's byte length against its shape and dtype.
        let tensor = WeightTensor::new(view.shape().to_vec(), values).ok_or_else(|| {
            WeightsError::InvalidSafetensors {
                path: path.to_path_buf(),
                message: format!("tensor `{name}` has the wrong number of elements"),
            }
        })?;
        map.insert(name, tensor);
    }

    Ok(map)
}

/// Converts little-endian bytes (safetensors' byte order) of `dtype` to `f32`.
fn to_f32(dtype: Dtype, bytes: &[u8]) -> Option<Vec<f32>> {
    fn chunks<const N: usize>(bytes: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
        bytes
            .chunks_exact(N)
            .map(|chunk| chunk.try_into().expect("chunks_exact yields N bytes"))
    }

    let values = match dtype {
        Dtype::F32 => chunks::<4>(bytes).map(f32::from_le_bytes).collect(),
        Dtype::F64 => chunks::<8>(bytes)
            .map(|b| f64::from_le_bytes(b) as f32)
            .collect(),
        Dtype::F16 => chunks::<2>(bytes)
            .map(|b| half::f16::from_le_bytes(b).to_f32())
            .collect(),
        Dtype::BF16 => chunks::<2>(bytes)
            .map(|b| half::bf16::from_le_bytes(b).to_f32())
            .collect(),
        Dtype::I64 => chunks::<8>(bytes)
            .map(|b| i64::from_le_bytes(b) as f32)
            .collect(),
        Dtype::I32 => chunks::<4>(bytes)
            .map(|b| i32::from_le_bytes(b) as f32)
            .collect(),
        Dtype::I16 => chunks::<2>(bytes)
            .map(|b| i16::from_le_bytes(b) as f32)
            .collect(),
        Dtype::I8 => bytes.iter().map(|b| *b as i8 as f32).collect(),
        Dtype::U8 | Dtype::BOOL => bytes.iter().map(|b| *b as f32).collect(),
        _ => return None,
    };

    Some(values)
}
