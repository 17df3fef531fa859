//! Settings of a notebook run: data, architecture, sizes and how long each stage trains.

use std::path::PathBuf;

use fastburn_learner::Precision;
use fastburn_vision::Arch;

use super::NotebookError;

/// Settings of a notebook run. The defaults are the notebook's.
#[derive(Debug, Clone)]
pub struct NotebookConfig {
    /// Folder with `train/` and `valid/`, one subfolder per class in each.
    pub data: PathBuf,
    /// Backbone architecture.
    pub arch: Arch,
    /// Pretrained weights for the body; `None` trains from random initialisation.
    pub weights: Option<PathBuf>,
    /// Side of the square images the model is trained on, in pixels.
    pub size: usize,
    /// Images per batch.
    pub batch_size: usize,
    /// Folder every output lands in; created if missing.
    pub out: PathBuf,
    /// Epochs of the first, frozen `fit_one_cycle` (the notebook's 4).
    pub frozen_epochs: usize,
    /// Epochs of the `fit_one_cycle` right after `unfreeze` (the notebook's 1).
    pub unfrozen_epochs: usize,
    /// Epochs of the last `fit_one_cycle` with discriminative rates (the notebook's 2).
    pub final_epochs: usize,
    /// `max_lr` of the last stage as `slice(start, stop)`.
    pub final_lr: (f64, f64),
    /// Batches `lr_find` runs at most (fastai's 100).
    pub lr_find_iters: usize,
    /// Cap on the items of each split, kept balanced over the classes; `None` uses all.
    pub max_items: Option<usize>,
    /// Fraction of the images in `data`'s class folders held out for validation (fastai's
    /// `valid_pct`), for a dataset without `train/` and `valid/` folders; `None` uses them.
    pub valid_pct: Option<f64>,
    /// Name of the validation folder beside `train/` (fastai's `valid` argument), when
    /// `valid_pct` is `None`.
    pub valid: String,
    /// Seed of the split, the shuffling, the augmentations, the head's initial weights and
    /// the dropout masks. NOTE: Burn's random generator is shared by the whole process, so
    /// two runs in parallel threads of one process disturb each other's draws.
    pub seed: u64,
    /// Leave out images that fail to decode, with a warning, instead of stopping.
    pub skip_corrupt: bool,
    /// Data loading threads; `None` uses one per core.
    pub num_workers: Option<usize>,
    /// Print the notebook's output and progress bars to the terminal.
    pub verbose: bool,
    /// The precision the convolutions train in: `Bf16` and `Fp16` call the learner's
    /// `to_bf16()` or `to_fp16()` right after `cnn_learner`.
    pub precision: Precision,
}

impl NotebookConfig {
    /// Creates the notebook's settings for the data folder `data`, writing into `out`.
    pub fn new(data: impl Into<PathBuf>, out: impl Into<PathBuf>) -> Self {
        Self {
            data: data.into(),
            arch: Arch::ResNet34,
            weights: None,
            size: 224,
            batch_size: 64,
            out: out.into(),
            frozen_epochs: 4,
            unfrozen_epochs: 1,
            final_epochs: 2,
            final_lr: (5e-4, 3e-3),
            lr_find_iters: 100,
            max_items: None,
            valid_pct: None,
            valid: "valid".to_string(),
            seed: 42,
            skip_corrupt: false,
            num_workers: None,
            verbose: true,
            precision: Precision::Fp32,
        }
    }
}

impl NotebookConfig {
    /// Checks the settings that would otherwise fail only after hours of training.
    pub fn check(&self) -> Result<(), NotebookError> {
        let invalid = |name, reason: &str| {
            Err(NotebookError::InvalidSetting {
                name,
                reason: reason.to_string(),
            })
        };
        if self.size == 0 {
            return invalid("size", "the image size must be at least 1 pixel");
        }
        if self.size > fastburn_data::MAX_IMAGE_SIZE {
            let reason = format!(
                "the image size must be at most {} pixels, got {}",
                fastburn_data::MAX_IMAGE_SIZE,
                self.size
            );
            return invalid("size", &reason);
        }
        if self.batch_size == 0 {
            return invalid("bs", "the batch size must be at least 1");
        }
        if self.lr_find_iters == 0 {
            return invalid("lr-find-iters", "lr_find needs at least one batch");
        }
        if let Some(pct) = self.valid_pct
            && !(pct > 0.0 && pct < 1.0)
        {
            return invalid(
                "valid-pct",
                "the validation fraction must lie between 0 and 1, exclusive",
            );
        }
        let (start, stop) = self.final_lr;
        if !(start > 0.0 && stop >= start && stop.is_finite()) {
            return invalid("final-lr", "slice(start, stop) needs 0 < start <= stop");
        }
        if let Some(weights) = &self.weights
            && !weights.is_file()
        {
            return Err(NotebookError::InvalidSetting {
                name: "weights",
                reason: format!("{} is not a file", weights.display()),
            });
        }
        Ok(())
    }
}

/// Parses an architecture by its name (`resnet34`, `efficientnet-lite0`, …), ignoring case.
pub fn parse_arch(name: &str) -> Option<Arch> {
    [
        Arch::ResNet18,
        Arch::ResNet34,
        Arch::ResNet50,
        Arch::EfficientNetLite0,
    ]
    .into_iter()
    .find(|arch| arch.name().eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_arch_name() {
        assert_eq!(parse_arch("resnet34"), Some(Arch::ResNet34));
        assert_eq!(parse_arch("ResNet50"), Some(Arch::ResNet50));
        assert_eq!(
            parse_arch("efficientnet-lite0"),
            Some(Arch::EfficientNetLite0)
        );
        assert_eq!(parse_arch("vgg16"), None);
    }

    #[test]
    fn check_rejects_settings_up_front() {
        let mut config = NotebookConfig::new("data", "out");
        assert!(config.check().is_ok());

        config.lr_find_iters = 0;
        let error = config.check().unwrap_err().to_string();
        assert!(error.contains("lr-find-iters"), "{error}");

        config.lr_find_iters = 100;
        config.weights = Some("/no/such/weights.pth".into());
        let error = config.check().unwrap_err().to_string();
        assert!(error.contains("/no/such/weights.pth"), "{error}");

        config.weights = None;
        config.size = fastburn_data::MAX_IMAGE_SIZE + 1;
        assert!(config.check().unwrap_err().to_string().contains("`size`"));

        config.size = 224;
        config.batch_size = 0;
        assert!(config.check().unwrap_err().to_string().contains("`bs`"));

        config.batch_size = 64;
        for pct in [0.0, 1.0, f64::NAN] {
            config.valid_pct = Some(pct);
            let error = config.check().unwrap_err().to_string();
            assert!(error.contains("`valid-pct`"), "{pct}: {error}");
        }
        config.valid_pct = Some(0.2);
        assert!(config.check().is_ok());
    }

    #[test]
    fn defaults_are_the_notebooks() {
        let config = NotebookConfig::new("data", "out");
        assert_eq!(config.size, 224);
        assert_eq!(config.batch_size, 64);
        assert_eq!(
            (
                config.frozen_epochs,
                config.unfrozen_epochs,
                config.final_epochs
            ),
            (4, 1, 2)
        );
        assert_eq!(config.final_lr, (5e-4, 3e-3));
    }
}
