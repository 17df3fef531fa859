//! The model interface of the learner.

use burn::module::{Module, ParamId};
use burn::tensor::Tensor;

/// A named set of parameters that share one learning rate and one momentum.
///
/// fastai splits a CNN into three: the early body, the late body and the head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerGroup {
    /// Display name, such as `body.0` or `head`.
    pub name: String,
    /// Every parameter of the group; may include the batch-norm ones.
    pub params: Vec<ParamId>,
    /// The batch-norm weights and biases of the group, which keep training when it is frozen.
    pub batch_norm_params: Vec<ParamId>,
}

impl LayerGroup {
    /// Returns the parameters that freezing turns off: `params` without `batch_norm_params`.
    pub fn frozen_params(&self) -> Vec<ParamId> {
        self.params
            .iter()
            .filter(|id| !self.batch_norm_params.contains(id))
            .copied()
            .collect()
    }

    /// Returns every parameter of the group, `params` and `batch_norm_params` without duplicates.
    pub fn all_params(&self) -> Vec<ParamId> {
        let mut all = self.params.clone();
        for id in &self.batch_norm_params {
            if !all.contains(id) {
                all.push(*id);
            }
        }
        all
    }
}

/// An image classifier a [`Learner`](crate::Learner) can train.
pub trait LearnerModel: Module + 'static {
    /// Maps a batch of images `[batch, channels, height, width]` to logits `[batch, classes]`.
    fn forward(&self, images: Tensor<4>) -> Tensor<2>;

    /// Returns the layer groups, from the input side to the output side.
    ///
    /// Parameter ids must be the ids of this model's parameters; a parameter in no group is
    /// trained with the last group's hyper-parameters.
    fn layer_groups(&self) -> Vec<LayerGroup>;
}
