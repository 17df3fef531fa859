//! Atomic file writes and the parameter-path map that saved optimizer state is keyed by.

use std::collections::HashMap;
use std::path::Path;

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::tensor::Tensor;

use crate::LearnerError;

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a
/// reader never sees a half-written file. Creates the folder if needed.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), LearnerError> {
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(folder).map_err(|error| LearnerError::io(folder, error))?;

    fastburn_data::write_atomic(path, bytes).map_err(|error| LearnerError::io(path, error))
}

/// Returns the dotted module path (`layer1.0.conv1.weight`) of every float parameter of `model`.
pub(crate) fn param_paths<M: Module>(model: &M) -> HashMap<ParamId, String> {
    let mut visitor = PathVisitor {
        path: Vec::new(),
        paths: HashMap::new(),
    };
    model.visit(&mut visitor);
    visitor.paths
}

struct PathVisitor {
    path: Vec<String>,
    paths: HashMap<ParamId, String>,
}

impl ModuleVisitor for PathVisitor {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.paths.insert(param.id, self.path.join("."));
    }
}
