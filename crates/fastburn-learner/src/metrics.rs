//! Validation metrics: the [`Metric`] trait, [`accuracy`] and [`error_rate`].

use burn::tensor::{Int, Tensor};

/// A metric computed per validation batch and averaged over the valid set, weighted by batch
/// size (fastai's `AverageMetric`).
pub trait Metric: Send {
    /// Column name in the results table, such as `accuracy`.
    fn name(&self) -> String;

    /// Returns the metric's mean over one batch of logits `[batch, classes]` and targets `[batch]`.
    fn batch_value(&self, output: Tensor<2>, targets: Tensor<1, Int>) -> f64;
}

/// Fraction of items whose highest logit is the target class.
#[derive(Debug, Clone, Copy, Default)]
pub struct Accuracy;

/// Fraction of items whose highest logit is not the target class: `1 - accuracy`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ErrorRate;

/// fastai's `accuracy` metric.
pub fn accuracy() -> Box<dyn Metric> {
    Box::new(Accuracy)
}

/// fastai's `error_rate` metric.
pub fn error_rate() -> Box<dyn Metric> {
    Box::new(ErrorRate)
}

fn batch_accuracy(output: Tensor<2>, targets: Tensor<1, Int>) -> f64 {
    let n = targets.dims()[0];
    if n == 0 {
        return 0.0;
    }

    let predicted: Tensor<1, Int> = output.argmax(1).squeeze_dim(1);
    let correct: i64 = predicted
        .equal(targets)
        .int()
        .sum()
        .into_scalar::<i64>();
    correct as f64 / n as f64
}

impl Metric for Accuracy {
    fn name(&self) -> String {
        "accuracy".to_string()
    }

    fn batch_value(&self, output: Tensor<2>, targets: Tensor<1, Int>) -> f64 {
        batch_accuracy(output, targets)
    }
}

impl Metric for ErrorRate {
    fn name(&self) -> String {
        "error_rate".to_string()
    }

    fn batch_value(&self, output: Tensor<2>, targets: Tensor<1, Int>) -> f64 {
        1.0 - batch_accuracy(output, targets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn accuracy_counts_argmax_hits() {
        let device = Device::default();
        let output = Tensor::<2>::from_floats([[2.0, 1.0], [0.0, 3.0], [5.0, 1.0], [0.0, 1.0]], &device);
        let targets = Tensor::<1, Int>::from_ints([0, 1, 1, 0], &device);
        assert_eq!(Accuracy.batch_value(output.clone(), targets.clone()), 0.5);
        assert_eq!(ErrorRate.batch_value(output, targets), 0.5);
    }
}
