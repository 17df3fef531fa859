//! Loss functions over logits and class indices.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor};

/// A classification loss.
pub trait Loss: Send {
    /// Returns the loss of every item, `[batch]`, from logits `[batch, classes]` and targets `[batch]`.
    fn per_item(&self, output: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1>;

    /// Returns the mean loss of the batch, a one-element tensor that backpropagates.
    fn mean(&self, output: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
        self.per_item(output, targets).mean()
    }
}

/// Cross-entropy on logits, fastai's `CrossEntropyFlat` for single-label classification.
#[derive(Debug, Clone, Copy, Default)]
pub struct CrossEntropyLoss;

impl Loss for CrossEntropyLoss {
    fn per_item(&self, output: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
        let log_probs = log_softmax(output, 1);
        let picked: Tensor<2> = log_probs.gather(1, targets.unsqueeze_dim(1));
        picked.squeeze_dim::<1>(1).neg()
    }
}
