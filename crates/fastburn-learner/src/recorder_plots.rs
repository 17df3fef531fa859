//! The recorder's PNG plots: `plot` (lr_find), `plot_losses` and `plot_lr`.

use std::path::Path;

use plotters::style::{BLUE, RGBColor};

use crate::plot::{LinePlot, Series};
use crate::{LearnerError, Recorder, steepest_descent_lr};

const ORANGE: RGBColor = RGBColor(230, 120, 20);

/// `values` without the first `skip_start` and the last `skip_end` items (fastai's
/// `_split_list`); empty when nothing is left.
fn split_list(values: &[f64], skip_start: usize, skip_end: usize) -> &[f64] {
    let end = values.len().saturating_sub(skip_end);
    if skip_start >= end {
        return &[];
    }
    &values[skip_start..end]
}

impl Recorder {
    /// Returns the suggested learning rate after `lr_find`: where the smoothed loss falls fastest,
    /// ignoring the first `skip_start` and last `skip_end` batches (fastai uses 10 and 5).
    /// `None` when fewer than two points remain.
    pub fn suggestion(&self, skip_start: usize, skip_end: usize) -> Option<f64> {
        let lrs = self.last_group_lrs();
        let lrs = split_list(&lrs, skip_start, skip_end);
        let losses = split_list(&self.losses, skip_start, skip_end);
        steepest_descent_lr(lrs, losses)
    }

    /// Plots the smoothed loss against the learning rate on a log axis, as after `lr_find`,
    /// marks the suggestion and returns it.
    pub fn plot(&self, path: &Path, skip_start: usize, skip_end: usize) -> Result<Option<f64>, LearnerError> {
        let lrs = self.last_group_lrs();
        let lrs = split_list(&lrs, skip_start, skip_end);
        let losses = split_list(&self.losses, skip_start, skip_end);
        if lrs.is_empty() {
            return Err(LearnerError::invalid(
                "skip_start/skip_end",
                format!(
                    "skipping {skip_start} + {skip_end} of {} recorded batches leaves nothing to plot",
                    self.losses.len()
                ),
            ));
        }

        let suggestion = steepest_descent_lr(lrs, losses);
        let marker = suggestion.and_then(|lr| {
            let index = lrs.iter().position(|&x| x == lr)?;
            Some((lr, losses[index]))
        });
        LinePlot {
            title: "Learning rate finder",
            x_label: "Learning Rate",
            y_label: "Loss",
            log_x: true,
            series: vec![Series {
                label: "loss",
                xs: lrs,
                ys: losses,
                color: BLUE,
            }],
            marker,
        }
        .save(path)?;
        Ok(suggestion)
    }

    /// Plots the smoothed training loss per batch and the validation loss per epoch.
    pub fn plot_losses(&self, path: &Path) -> Result<(), LearnerError> {
        let iterations: Vec<f64> = (0..self.losses.len()).map(|i| i as f64).collect();
        let val_positions: Vec<f64> = self.nb_batches.iter().map(|&n| n as f64).collect();
        let mut series = vec![Series {
            label: "Train",
            xs: &iterations,
            ys: &self.losses,
            color: BLUE,
        }];
        if !self.val_losses.is_empty() {
            series.push(Series {
                label: "Validation",
                xs: &val_positions,
                ys: &self.val_losses,
                color: ORANGE,
            });
        }
        LinePlot {
            title: "Losses",
            x_label: "Batches processed",
            y_label: "Loss",
            log_x: false,
            series,
            marker: None,
        }
        .save(path)
    }

    /// Plots the learning rate of the last layer group per batch.
    pub fn plot_lr(&self, path: &Path) -> Result<(), LearnerError> {
        let lrs = self.last_group_lrs();
        let iterations: Vec<f64> = (0..lrs.len()).map(|i| i as f64).collect();
        LinePlot {
            title: "Learning rate",
            x_label: "Iterations",
            y_label: "Learning Rate",
            log_x: false,
            series: vec![Series {
                label: "lr",
                xs: &iterations,
                ys: &lrs,
                color: BLUE,
            }],
            marker: None,
        }
        .save(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_list_skips_both_ends() {
        let values = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(split_list(&values, 1, 2), &[2.0, 3.0]);
        assert!(split_list(&values, 3, 2).is_empty());
    }

    #[test]
    fn steepest_descent_uses_central_differences() {
        let lrs = [1.0, 2.0, 3.0, 4.0, 5.0];
        let losses = [5.0, 4.9, 3.0, 2.5, 2.4];
        // Gradients: -0.1, -1.0, -1.2, -0.3, -0.1.
        assert_eq!(steepest_descent_lr(&lrs, &losses), Some(3.0));
        assert_eq!(steepest_descent_lr(&lrs[..1], &losses[..1]), None);
    }
}
