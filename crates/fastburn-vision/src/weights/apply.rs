//! Applying a [`TensorMap`] with PyTorch names onto a Burn module.

use std::collections::BTreeSet;

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Tensor, TensorData};

use super::error::WeightsError;
use super::report::{LoadReport, ShapeMismatch};
use super::tensor_map::{TensorMap, WeightTensor};

/// Suffix of PyTorch's batch-norm step counter, which Burn's `BatchNorm` has no field for.
/// PyTorch only reads it when `momentum=None`, which torchvision and fastai never use.
const NUM_BATCHES_TRACKED: &str = ".num_batches_tracked";

/// Copies every tensor of `map` into `module`, matching PyTorch state-dict names.
///
/// Module paths are translated to PyTorch's names: enum variant names are left out,
/// `Vec` and tuple entries are numbered (`layer1.0`, `downsample.1`), a `BatchNorm`'s
/// `gamma`/`beta` are `weight`/`bias`, and a `Linear` weight is transposed from PyTorch's
/// `[out, in]` to Burn's `[in, out]`. `num_batches_tracked` entries are ignored.
///
/// Parameter ids and `require_grad` settings are kept. Nothing is applied unless every
/// key matches: missing keys, unexpected keys and shape mismatches are all returned in one
/// [`WeightsError::Mismatch`], named by `source_name` (usually the file path).
pub fn apply<M: Module>(module: M, map: &TensorMap, source_name: &str) -> Result<M, WeightsError> {
    // A dry run first, so a mismatch leaves the caller's module untouched.
    let mut check = Applier::new(map, false);
    let module = module.map(&mut check);
    let report = check.finish();
    if !report.is_clean() {
        return Err(WeightsError::Mismatch {
            source_name: source_name.to_string(),
            report,
        });
    }

    let mut applier = Applier::new(map, true);
    Ok(module.map(&mut applier))
}

/// Returns the PyTorch names `apply` expects for `module`'s parameters, in visit order.
pub fn pytorch_names<M: Module>(module: M) -> Vec<String> {
    let empty = TensorMap::new();
    let mut lister = Applier::new(&empty, false);
    let _ = module.map(&mut lister);
    lister.report.missing
}

/// A [`ModuleMapper`] that tracks the PyTorch name of each parameter it visits.
struct Applier<'a> {
    map: &'a TensorMap,
    /// Whether to replace values, or only compare names and shapes.
    write: bool,
    path: Vec<String>,
    containers: Vec<String>,
    used: BTreeSet<String>,
    report: LoadReport,
}

impl<'a> Applier<'a> {
    fn new(map: &'a TensorMap, write: bool) -> Self {
        Self {
            map,
            write,
            path: Vec::new(),
            containers: Vec::new(),
            used: BTreeSet::new(),
            report: LoadReport::default(),
        }
    }

    /// Finishes the report with the keys no parameter took.
    fn finish(mut self) -> LoadReport {
        self.report.unexpected = self
            .map
            .names()
            .filter(|name| !name.ends_with(NUM_BATCHES_TRACKED))
            .filter(|name| !self.used.contains(*name))
            .map(str::to_string)
            .collect();
        self.report
    }

    /// Returns the PyTorch name of the parameter being visited, and whether the parent module is
    /// a `Linear` (whose weight PyTorch stores transposed).
    fn current_name(&self) -> (String, bool) {
        let parent = self.containers.last().map(String::as_str).unwrap_or("");
        let mut segments = self.path.clone();

        if parent == "Struct:BatchNorm"
            && let Some(last) = segments.last_mut()
        {
            match last.as_str() {
                "gamma" => *last = "weight".to_string(),
                "beta" => *last = "bias".to_string(),
                _ => {}
            }
        }

        // NOTE: this assumes Burn's default `LinearLayout::Row`; a `Col` linear already
        // stores `[out, in]` and would be transposed twice.
        let is_linear_weight =
            parent == "Struct:Linear" && self.path.last().is_some_and(|l| l == "weight");
        (segments.join("."), is_linear_weight)
    }
}

impl ModuleMapper for Applier<'_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.containers.push(container_type.to_string());
        if !container_type.starts_with("Enum:") {
            self.path.push(name.to_string());
        }
    }

    fn exit_module(&mut self, _name: &str, container_type: &str) {
        self.containers.pop();
        if !container_type.starts_with("Enum:") {
            self.path.pop();
        }
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (name, transposed) = self.current_name();
        let burn_shape = param.lazy_shape().to_vec();
        let mut expected = burn_shape.clone();
        if transposed {
            expected.reverse();
        }

        let Some(tensor) = self.map.get(&name) else {
            self.report.missing.push(name);
            return param;
        };
        self.used.insert(name.clone());

        if tensor.shape != expected {
            self.report.shape_mismatches.push(ShapeMismatch {
                key: name,
                expected,
                found: tensor.shape.clone(),
            });
            return param;
        }

        if !self.write {
            return param;
        }

        let values = if transposed {
            transpose_2d(tensor)
        } else {
            tensor.values.clone()
        };
        let device = param.lazy_device();
        let value = Tensor::<D>::from_data(TensorData::new(values, burn_shape), &device);
        let id = param.id;
        param.transform_for_load(value, id)
    }
}

/// Transposes a row-major `[rows, cols]` tensor's values to `[cols, rows]`.
fn transpose_2d(tensor: &WeightTensor) -> Vec<f32> {
    let (rows, cols) = (tensor.shape[0], tensor.shape[1]);
    let mut out = vec![0.0; tensor.values.len()];
    for row in 0..rows {
        for col in 0..cols {
            out[col * rows + row] = tensor.values[row * cols + col];
        }
    }
    out
}
