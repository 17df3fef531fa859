//! `save` / `load`: the model's weights and the optimizer's state in one file.
//!
//! The file is a safetensors container: tensor `model` contains the model's Burn record
//! (burnpack bytes), and `adam.<parameter path>.exp_avg` / `.exp_avg_sq` the Adam moments, with
//! each parameter's step count in the metadata. Parameters are keyed by module path because
//! `ParamId`s change when a model is rebuilt.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Tensor};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::io::{param_paths, write_atomic};
use crate::{AdamParamState, Learner, LearnerData, LearnerError, LearnerModel};

const FORMAT_KEY: &str = "format";
const FORMAT: &str = "fastburn-learner-state-1";
const MODEL_TENSOR: &str = "model";

impl<M: LearnerModel, D: LearnerData> Learner<M, D> {
    /// Returns the file `save(name)` writes: `<path>/models/<name>.safetensors`.
    pub fn model_file(&self, name: &str) -> PathBuf {
        let folder = self.path.join(fastburn_data::MODEL_DIR);
        folder.join(format!("{name}.safetensors"))
    }

    /// Saves the model and the optimizer state to [`model_file(name)`](Self::model_file),
    /// atomically. Returns the file written.
    pub fn save(&self, name: &str) -> Result<PathBuf, LearnerError> {
        let path = self.model_file(name);
        let bytes = self.state_bytes(&path)?;
        write_atomic(&path, &bytes)?;
        Ok(path)
    }

    /// Loads the model and optimizer state that [`save(name)`](Self::save) wrote.
    pub fn load(&mut self, name: &str) -> Result<(), LearnerError> {
        let path = self.model_file(name);
        let bytes = std::fs::read(&path).map_err(|error| LearnerError::io(&path, error))?;
        self.load_state_bytes(&path, &bytes)
    }

    fn state_bytes(&self, path: &Path) -> Result<Vec<u8>, LearnerError> {
        let model_bytes = model_to_bytes(&self.model, path)?;
        let paths = param_paths(&self.model);

        let mut metadata = HashMap::new();
        metadata.insert(FORMAT_KEY.to_string(), FORMAT.to_string());
        let mut buffers: Vec<(String, Vec<u8>, usize)> = Vec::new();
        for (id, state) in self.opt.state() {
            let Some(param_path) = paths.get(id) else {
                continue;
            };
            metadata.insert(format!("adam.{param_path}.step"), state.step.to_string());
            for (suffix, tensor) in [("exp_avg", &state.exp_avg), ("exp_avg_sq", &state.exp_avg_sq)] {
                let values = tensor_values(tensor, path)?;
                let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                buffers.push((format!("adam.{param_path}.{suffix}"), bytes, values.len()));
            }
        }

        let mut views = vec![(
            MODEL_TENSOR.to_string(),
            view(Dtype::U8, vec![model_bytes.len()], &model_bytes, path)?,
        )];
        for (name, bytes, len) in &buffers {
            views.push((name.clone(), view(Dtype::F32, vec![*len], bytes, path)?));
        }
        safetensors::serialize(views, Some(metadata)).map_err(|error| invalid(path, error))
    }

    fn load_state_bytes(&mut self, path: &Path, bytes: &[u8]) -> Result<(), LearnerError> {
        let file = SafeTensors::deserialize(bytes).map_err(|error| invalid(path, error))?;
        let (_, metadata) = SafeTensors::read_metadata(bytes).map_err(|error| invalid(path, error))?;
        let metadata = metadata.metadata().clone().unwrap_or_default();
        if metadata.get(FORMAT_KEY).map(String::as_str) != Some(FORMAT) {
            return Err(LearnerError::InvalidFile {
                path: path.to_path_buf(),
                reason: format!("metadata `{FORMAT_KEY}` is not `{FORMAT}`; not a file `save` wrote"),
            });
        }

        let model_view = file
            .tensor(MODEL_TENSOR)
            .map_err(|error| invalid(path, error))?;
        self.model = model_from_bytes(self.model.clone(), model_view.data(), path)?
            .fork(&self.device.clone().autodiff());

        let device = self.device.clone();
        let mut state = HashMap::new();
        for (id, param_path) in param_paths(&self.model) {
            let Some(step) = metadata.get(&format!("adam.{param_path}.step")) else {
                continue;
            };
            let step: u64 = step.parse().map_err(|_| LearnerError::InvalidFile {
                path: path.to_path_buf(),
                reason: format!("step count `{step}` of `{param_path}` is not an integer"),
            })?;
            let exp_avg = read_f32(&file, &format!("adam.{param_path}.exp_avg"), path, &device)?;
            let exp_avg_sq = read_f32(&file, &format!("adam.{param_path}.exp_avg_sq"), path, &device)?;
            state.insert(
                id,
                AdamParamState {
                    step,
                    exp_avg,
                    exp_avg_sq,
                },
            );
        }
        self.opt.set_state(state);
        Ok(())
    }
}

/// Serialises `model`'s weights and batch-norm statistics as a Burn record.
pub(crate) fn model_to_bytes<M: Module>(model: &M, path: &Path) -> Result<Vec<u8>, LearnerError> {
    // `valid()` folds pending batch-norm statistics updates into the values first.
    let record = model.valid().into_record();
    let bytes = record.into_bytes().map_err(|error| invalid(path, error))?;
    Ok(bytes.to_vec())
}

/// Loads weights written by [`model_to_bytes`] into `model`.
pub(crate) fn model_from_bytes<M: Module>(model: M, bytes: &[u8], path: &Path) -> Result<M, LearnerError> {
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes.to_vec()))
        .map_err(|error| invalid(path, error))?;
    model
        .try_load_record(record)
        .map_err(|error| invalid(path, error))
}

fn tensor_values(tensor: &Tensor<1>, path: &Path) -> Result<Vec<f32>, LearnerError> {
    tensor
        .to_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|error| invalid(path, format!("{error:?}")))
}

fn read_f32(
    file: &SafeTensors<'_>,
    name: &str,
    path: &Path,
    device: &burn::tensor::Device,
) -> Result<Tensor<1>, LearnerError> {
    let view = file.tensor(name).map_err(|error| invalid(path, error))?;
    if view.dtype() != Dtype::F32 {
        return Err(invalid(path, format!("tensor `{name}` is not F32")));
    }
    let values: Vec<f32> = view
        .data()
        .chunks_exact(4)
        .map(|chunk| f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
        .collect();
    Ok(Tensor::from_floats(values.as_slice(), device))
}

fn view<'a>(dtype: Dtype, shape: Vec<usize>, data: &'a [u8], path: &Path) -> Result<TensorView<'a>, LearnerError> {
    TensorView::new(dtype, shape, data).map_err(|error| invalid(path, error))
}

fn invalid(path: &Path, error: impl std::fmt::Display) -> LearnerError {
    LearnerError::InvalidFile {
        path: path.to_path_buf(),
        reason: error.to_string(),
    }
}
