//! The report of keys that did not match when tensors were applied to a module.

use std::fmt;

/// A tensor whose shape differs between the file and the module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeMismatch {
    /// The tensor's name in the file (PyTorch naming).
    pub key: String,
    /// The module's shape, in the file's layout.
    pub expected: Vec<usize>,
    /// The file's shape.
    pub found: Vec<usize>,
}

/// Every key that did not match between a tensor map and a module, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Module parameters with no tensor in the file.
    pub missing: Vec<String>,
    /// Tensors in the file that no module parameter takes.
    pub unexpected: Vec<String>,
    /// Tensors present in both with different shapes.
    pub shape_mismatches: Vec<ShapeMismatch>,
}

impl LoadReport {
    /// Returns whether everything matched.
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.shape_mismatches.is_empty()
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.missing.is_empty() {
            writeln!(
                f,
                "  missing keys ({}): {}",
                self.missing.len(),
                self.missing.join(", ")
            )?;
        }

        if !self.unexpected.is_empty() {
            writeln!(
                f,
                "  unexpected keys ({}): {}",
                self.unexpected.len(),
                self.unexpected.join(", ")
            )?;
        }

        for mismatch in &self.shape_mismatches {
            writeln!(
                f,
                "  shape mismatch for `{}`: the model expects {:?}, the file has {:?}",
                mismatch.key, mismatch.expected, mismatch.found
            )?;
        }

        Ok(())
    }
}
