//! `export`, `load_learner` and `predict`: a trained CNN learner as one inference file.
//!
//! The file is a safetensors container: tensor `model` contains the model's Burn record and the
//! metadata the architecture name, the head configuration (JSON), the class names (JSON), the
//! normalization statistics (JSON) and the image size.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor, TensorData};
use fastburn_data::{NormStats, apply_tfms, get_transforms, open_image};
use fastburn_vision::{Arch, CnnModel, HeadConfig, create_cnn};
use rand::SeedableRng;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::io::write_atomic;
use crate::save::{model_from_bytes, model_to_bytes};
use crate::{CnnLearner, LearnerError};

const FORMAT: &str = "fastburn-export-1";

/// A prediction for one image.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Name of the most probable class.
    pub class: String,
    /// Index of the most probable class.
    pub index: usize,
    /// Probability of every class.
    pub probs: Vec<f32>,
}

/// A model loaded by [`load_learner`], ready for inference, with its classes and
/// preprocessing.
#[derive(Debug, Clone)]
pub struct InferenceLearner {
    /// The model, in eval mode, without autodiff.
    pub model: CnnModel,
    /// The architecture of the body.
    pub arch: Arch,
    /// Class names, indexed by prediction.
    pub classes: Vec<String>,
    /// Normalization applied to images, if any.
    pub stats: Option<NormStats>,
    /// Side of the square images the model was trained on, in pixels.
    pub size: usize,
    device: Device,
}

impl CnnLearner {
    /// Writes everything `load_learner` needs to `path`, atomically.
    ///
    /// Fails for a learner not built by `cnn_learner`, which has no architecture to record,
    /// and for data whose validation transforms are not fastai's default ones, which the file
    /// does not record: `load_learner` would prepare images differently.
    pub fn export(&self, path: impl AsRef<Path>) -> Result<(), LearnerError> {
        let path = path.as_ref();
        let info = self.cnn_info.as_ref().ok_or_else(|| {
            LearnerError::invalid("learner", "export needs a learner built by cnn_learner")
        })?;
        if self.data.valid_tfms() != get_transforms().1.as_slice() {
            return Err(LearnerError::invalid(
                "valid_tfms",
                "export records only the default validation transforms of get_transforms(), \
                 and these data use others; save the weights with `save` instead",
            ));
        }

        let mut metadata = HashMap::new();
        metadata.insert("format".to_string(), FORMAT.to_string());
        metadata.insert("arch".to_string(), info.arch.name().to_string());
        metadata.insert("head".to_string(), json(&info.head, path)?);
        metadata.insert("classes".to_string(), json(&self.data.classes().to_vec(), path)?);
        let stats = self.data.stats().map(|stats| (stats.mean, stats.std));
        metadata.insert("stats".to_string(), json(&stats, path)?);
        metadata.insert("size".to_string(), self.data.size().to_string());
        check_metadata(&info.head, self.data.classes(), stats.as_ref(), self.data.size())
            .map_err(|reason| invalid(path, reason))?;

        let model_bytes = model_to_bytes(&self.model, path)?;
        let view = TensorView::new(Dtype::U8, vec![model_bytes.len()], &model_bytes)
            .map_err(|error| invalid(path, error))?;
        let bytes = safetensors::serialize([("model", view)], Some(metadata))
            .map_err(|error| invalid(path, error))?;
        write_atomic(path, &bytes)
    }

    /// Predicts the class of the image at `path`, prepared like the validation set.
    pub fn predict(&self, path: impl AsRef<Path>) -> Result<Prediction, LearnerError> {
        let image = self
            .data
            .prepare_image(path.as_ref(), &self.device)
            .map_err(|error| LearnerError::Data(error.to_string()))?;
        let model = self.model.valid();
        let output = fastburn_vision::conv::autocast(self.precision.compute_dtype(), || model.forward(image));
        prediction(output, self.data.classes())
    }
}

/// Loads a learner written by [`CnnLearner::export`] onto `device`.
pub fn load_learner(path: impl AsRef<Path>, device: &Device) -> Result<InferenceLearner, LearnerError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|error| LearnerError::io(path, error))?;
    let file = SafeTensors::deserialize(&bytes).map_err(|error| invalid(path, error))?;
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|error| invalid(path, error))?;
    let metadata = header.metadata().clone().unwrap_or_default();
    let field = |key: &str| -> Result<&String, LearnerError> {
        metadata
            .get(key)
            .ok_or_else(|| invalid(path, format!("metadata `{key}` is missing; not a file `export` wrote")))
    };

    if field("format")? != FORMAT {
        return Err(invalid(path, format!("format is not `{FORMAT}`")));
    }
    let arch_name = field("arch")?;
    let arch = [Arch::ResNet18, Arch::ResNet34, Arch::ResNet50, Arch::EfficientNetLite0]
        .into_iter()
        .find(|arch| arch.name() == arch_name)
        .ok_or_else(|| invalid(path, format!("unknown architecture `{arch_name}`")))?;
    let head: HeadConfig = parse(field("head")?, "head", path)?;
    let classes: Vec<String> = parse(field("classes")?, "classes", path)?;
    let stats: Option<([f32; 3], [f32; 3])> = parse(field("stats")?, "stats", path)?;
    let size: usize = parse(field("size")?, "size", path)?;
    check_metadata(&head, &classes, stats.as_ref(), size).map_err(|reason| invalid(path, reason))?;

    let model = create_cnn(arch, head.n_classes, None, &head, device)
        .map_err(|error| invalid(path, error))?;
    let weights = file.tensor("model").map_err(|error| invalid(path, error))?;
    let model = model_from_bytes(model, weights.data(), path)?.valid();

    Ok(InferenceLearner {
        model,
        arch,
        classes,
        stats: stats.map(|(mean, std)| NormStats { mean, std }),
        size,
        device: device.clone(),
    })
}

impl InferenceLearner {
    /// Predicts the class of the image at `path`: fastai's validation transform (center
    /// crop and resize to `size`), then the stored normalization.
    pub fn predict(&self, path: impl AsRef<Path>) -> Result<Prediction, LearnerError> {
        let path = path.as_ref();
        let decoded = open_image(path).map_err(|error| LearnerError::Data(error.to_string()))?;
        // `export` accepts only data with these default validation transforms.
        let (_, valid_tfms) = get_transforms();
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let mut pixels = apply_tfms(&valid_tfms, &decoded, Some(self.size), &mut rng).data;
        if let Some(stats) = &self.stats {
            stats.normalize(&mut pixels);
        }

        let data = TensorData::new(pixels, [1, 3, self.size, self.size]);
        let output = self.model.forward(Tensor::from_data(data, &self.device));
        prediction(output, &self.classes)
    }
}

/// The largest image side `load_learner` accepts, so a damaged file cannot request an
/// allocation of many gigabytes per image.
const MAX_SIZE: usize = 8192;

/// Checks what `predict` relies on: one class name per output, an image side in
/// `1..=MAX_SIZE` and finite normalization statistics with positive deviations.
fn check_metadata(
    head: &HeadConfig,
    classes: &[String],
    stats: Option<&([f32; 3], [f32; 3])>,
    size: usize,
) -> Result<(), String> {
    if classes.len() != head.n_classes {
        let count = classes.len();
        return Err(format!("{count} class names for a head with {} outputs", head.n_classes));
    }
    if !(1..=MAX_SIZE).contains(&size) {
        return Err(format!("metadata `size` {size} is outside 1..={MAX_SIZE}"));
    }
    if let Some((mean, std)) = stats {
        let finite = mean.iter().all(|value| value.is_finite());
        let positive = std.iter().all(|value| value.is_finite() && *value > 0.0);
        if !(finite && positive) {
            return Err(format!("metadata `stats`: mean {mean:?} and std {std:?} must be finite, std above 0"));
        }
    }
    Ok(())
}

fn prediction(output: Tensor<2>, classes: &[String]) -> Result<Prediction, LearnerError> {
    let probs = softmax(output, 1)
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|error| LearnerError::Data(format!("reading probabilities failed: {error:?}")))?;
    let index = probs
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(index, _)| index)
        .unwrap_or(0);
    let class = classes.get(index).cloned().ok_or_else(|| {
        LearnerError::invalid("classes", format!("no class name for index {index} of {}", classes.len()))
    })?;
    Ok(Prediction { class, index, probs })
}

fn json(value: &impl serde::Serialize, path: &Path) -> Result<String, LearnerError> {
    serde_json::to_string(value).map_err(|error| invalid(path, error))
}

fn parse<T: serde::de::DeserializeOwned>(text: &str, key: &str, path: &Path) -> Result<T, LearnerError> {
    serde_json::from_str(text).map_err(|error| invalid(path, format!("metadata `{key}`: {error}")))
}

fn invalid(path: &Path, error: impl std::fmt::Display) -> LearnerError {
    LearnerError::InvalidFile {
        path: PathBuf::from(path),
        reason: error.to_string(),
    }
}
