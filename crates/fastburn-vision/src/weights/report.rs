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

/// The number of keys of each kind that the message lists. A checkpoint for another
/// architecture mismatches hundreds, and the fields keep every one of them.
const LISTED_KEYS: usize = 10;

/// Joins the first [`LISTED_KEYS`] of `keys`, followed by the count of the others.
fn list_keys<'a>(keys: impl ExactSizeIterator<Item = &'a str>) -> String {
    let more = keys.len().saturating_sub(LISTED_KEYS);
    let mut text = keys.take(LISTED_KEYS).collect::<Vec<_>>().join(", ");
    if more > 0 {
        text.push_str(&format!(", and {more} more"));
    }
    text
}

impl LoadReport {
    /// Returns whether everything matched.
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.shape_mismatches.is_empty()
    }

    /// Returns the prefix that turns every missing key into an unexpected one, such as the
    /// `module.` that `torch.nn.DataParallel` adds, when the two lists differ only by it.
    pub fn extra_prefix(&self) -> Option<&str> {
        if self.missing.is_empty() || self.missing.len() != self.unexpected.len() {
            return None;
        }
        let first = &self.unexpected[0];
        let prefix = self
            .missing
            .iter()
            .filter(|key| first.len() > key.len() && first.ends_with(key.as_str()))
            .map(|key| &first[..first.len() - key.len()])
            .next()?;
        let missing: std::collections::HashSet<&str> =
            self.missing.iter().map(String::as_str).collect();
        let all_match = self.unexpected.iter().all(|key| {
            key.strip_prefix(prefix)
                .is_some_and(|rest| missing.contains(rest))
        });
        all_match.then_some(prefix)
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(prefix) = self.extra_prefix() {
            writeln!(
                f,
                "  every key in the file has the extra prefix `{prefix}`: remove it from the \
                 keys (nn.DataParallel adds `module.`)"
            )?;
        }

        if !self.missing.is_empty() {
            let keys = list_keys(self.missing.iter().map(String::as_str));
            writeln!(f, "  missing keys ({}): {keys}", self.missing.len())?;
        }

        if !self.unexpected.is_empty() {
            let keys = list_keys(self.unexpected.iter().map(String::as_str));
            writeln!(f, "  unexpected keys ({}): {keys}", self.unexpected.len())?;
        }

        for mismatch in self.shape_mismatches.iter().take(LISTED_KEYS) {
            writeln!(
                f,
                "  shape mismatch for `{}`: the model expects {:?}, the file has {:?}",
                mismatch.key, mismatch.expected, mismatch.found
            )?;
        }
        if self.shape_mismatches.len() > LISTED_KEYS {
            let more = self.shape_mismatches.len() - LISTED_KEYS;
            writeln!(f, "  and {more} more shape mismatches")?;
        }

        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn message_lists_ten_keys_and_counts_rest() {
        let report = LoadReport {
            missing: (0..25)
                .map(|index| format!("layer.{index}.weight"))
                .collect(),
            ..LoadReport::default()
        };
        let message = report.to_string();
        assert!(message.contains("missing keys (25)"), "{message}");
        assert!(message.contains("layer.9.weight"), "{message}");
        assert!(!message.contains("layer.10.weight"), "{message}");
        assert!(message.contains("and 15 more"), "{message}");
        assert_eq!(report.missing.len(), 25);
    }

    #[test]
    fn extra_prefix_cases() {
        let cases: [(&[&str], Option<&str>); 3] = [
            (&["module.fc.bias", "module.conv1.weight"], Some("module.")),
            (&["module.fc.bias", "head.weight"], None),
            (&["module.fc.bias"], None),
        ];
        for (unexpected, expected) in cases {
            let report = LoadReport {
                missing: keys(&["conv1.weight", "fc.bias"]),
                unexpected: keys(unexpected),
                ..LoadReport::default()
            };
            assert_eq!(report.extra_prefix(), expected, "{unexpected:?}");
            let hinted = report.to_string().contains("extra prefix");
            assert_eq!(hinted, expected.is_some(), "{unexpected:?}");
        }
    }
}
