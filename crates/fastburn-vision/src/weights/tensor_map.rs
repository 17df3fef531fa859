//! The format-independent result of reading a weight file: named `f32` tensors.

use std::collections::BTreeMap;

/// One tensor read from a weight file, converted to `f32`, contiguous in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightTensor {
    /// Extents, outermost first (PyTorch's layout: `[out, in]` for a linear weight).
    pub shape: Vec<usize>,
    /// The elements in row-major order.
    pub values: Vec<f32>,
}

impl WeightTensor {
    /// Creates a tensor, checking that `values` has as many elements as `shape` describes.
    pub fn new(shape: Vec<usize>, values: Vec<f32>) -> Option<Self> {
        let expected: usize = shape.iter().product();
        (expected == values.len()).then_some(Self { shape, values })
    }
}

/// Tensors by name (`layer1.0.conv1.weight`), sorted by name.
///
/// Names are the file's own: PyTorch state-dict names for `.pth` and safetensors files,
/// initializer names for ONNX files.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TensorMap {
    tensors: BTreeMap<String, WeightTensor>,
}

impl TensorMap {
    /// Creates an empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts a tensor, returning the one it replaces.
    pub fn insert(
        &mut self,
        name: impl Into<String>,
        tensor: WeightTensor,
    ) -> Option<WeightTensor> {
        self.tensors.insert(name.into(), tensor)
    }

    /// Returns the tensor named `name`.
    pub fn get(&self, name: &str) -> Option<&WeightTensor> {
        self.tensors.get(name)
    }

    /// Removes and returns the tensor named `name`.
    pub fn remove(&mut self, name: &str) -> Option<WeightTensor> {
        self.tensors.remove(name)
    }

    /// Returns whether a tensor named `name` exists.
    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// Iterates over the names in sorted order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// Iterates over names and tensors in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &WeightTensor)> {
        self.tensors
            .iter()
            .map(|(name, tensor)| (name.as_str(), tensor))
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Returns whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// Keeps only the tensors for which `keep(name)` is true, e.g. to drop a classifier
    /// (`fc.`) before loading a backbone.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.tensors.retain(|name, _| keep(name));
    }

    /// Returns the map with `prefix` removed from every name that starts with it and the
    /// other names dropped, e.g. `strip_prefix("module.")` for a `DataParallel` checkpoint.
    pub fn strip_prefix(self, prefix: &str) -> Self {
        let tensors = self
            .tensors
            .into_iter()
            .filter_map(|(name, tensor)| Some((name.strip_prefix(prefix)?.to_string(), tensor)))
            .collect();
        Self { tensors }
    }
}

impl FromIterator<(String, WeightTensor)> for TensorMap {
    fn from_iter<I: IntoIterator<Item = (String, WeightTensor)>>(iter: I) -> Self {
        Self {
            tensors: iter.into_iter().collect(),
        }
    }
}

impl IntoIterator for TensorMap {
    type Item = (String, WeightTensor);
    type IntoIter = std::collections::btree_map::IntoIter<String, WeightTensor>;

    fn into_iter(self) -> Self::IntoIter {
        self.tensors.into_iter()
    }
}
