//! fastai v1's default optimizer: Adam with decoupled weight decay and per-group
//! hyper-parameters.
//!
//! Burn 0.22.1's `Adam`/`AdamW` fix beta1 when the optimizer is built, and changing it means
//! building a new optimizer, which resets the moment estimates. The one-cycle policy changes
//! beta1 (fastai's "momentum") and the learning rate of every layer group at every batch, so
//! this module keeps its own Adam state, keyed by `ParamId` like Burn's.

use std::collections::HashMap;

use burn::config::Config;
use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::tensor::Tensor;

use crate::ParamGrads;

/// Hyper-parameters of [`Adam`], with fastai v1's defaults.
#[derive(Config, Debug)]
pub struct AdamConfig {
    /// Initial beta1 ("momentum"), replaced by the schedule during one-cycle training.
    #[config(default = 0.9)]
    pub beta1: f64,
    /// Beta2, the decay of the squared-gradient average.
    #[config(default = 0.99)]
    pub beta2: f64,
    /// Term added to the denominator for numerical stability.
    #[config(default = 1e-8)]
    pub eps: f64,
    /// Decoupled weight decay, applied to every trained parameter, batch-norm ones included.
    #[config(default = 1e-2)]
    pub wd: f64,
}

/// The moment estimates of one parameter, flattened like its gradient.
#[derive(Debug, Clone)]
pub struct AdamParamState {
    /// Number of steps taken on this parameter.
    pub step: u64,
    /// Running average of the gradient.
    pub exp_avg: Tensor<1>,
    /// Running average of the squared gradient.
    pub exp_avg_sq: Tensor<1>,
}

/// Adam with decoupled ("true") weight decay and one learning rate and beta1 per layer group.
///
/// A step on parameter `p` with gradient `g` in a group with learning rate `lr` does
/// `p -= lr * wd * p`, then PyTorch's bias-corrected Adam update with `weight_decay = 0`.
#[derive(Debug, Clone)]
pub struct Adam {
    /// Learning rate of each layer group.
    pub lrs: Vec<f64>,
    /// Beta1 of each layer group.
    pub moms: Vec<f64>,
    /// Beta2, shared by all groups.
    pub beta2: f64,
    /// Denominator term, shared by all groups.
    pub eps: f64,
    /// Decoupled weight decay, shared by all groups.
    pub wd: f64,
    group_of: HashMap<ParamId, usize>,
    state: HashMap<ParamId, AdamParamState>,
}

impl Adam {
    /// Builds the optimizer for `n_groups` layer groups; `group_of` maps each parameter to its
    /// group (parameters missing from it use the last group).
    pub fn new(config: &AdamConfig, n_groups: usize, group_of: HashMap<ParamId, usize>) -> Self {
        Self {
            lrs: vec![crate::lr::DEFAULT_LR_VALUE; n_groups],
            moms: vec![config.beta1; n_groups],
            beta2: config.beta2,
            eps: config.eps,
            wd: config.wd,
            group_of,
            state: HashMap::new(),
        }
    }

    /// Number of layer groups.
    pub fn n_groups(&self) -> usize {
        self.lrs.len()
    }

    /// Returns the moment estimates of every parameter stepped so far.
    pub fn state(&self) -> &HashMap<ParamId, AdamParamState> {
        &self.state
    }

    /// Replaces the moment estimates, as loading a saved optimizer does.
    pub fn set_state(&mut self, state: HashMap<ParamId, AdamParamState>) {
        self.state = state;
    }

    /// Forgets every moment estimate.
    pub fn reset_state(&mut self) {
        self.state.clear();
    }

    /// Updates every parameter of `model` that has a gradient in `grads`.
    pub fn step<M: Module>(&mut self, model: M, mut grads: ParamGrads) -> M {
        let mut mapper = StepMapper {
            adam: self,
            grads: &mut grads,
        };
        model.map(&mut mapper)
    }

    fn update(&mut self, id: ParamId, param: Tensor<1>, grad: Tensor<1>) -> Tensor<1> {
        let last_group = self.lrs.len() - 1;
        let group = self
            .group_of
            .get(&id)
            .copied()
            .unwrap_or(last_group)
            .min(last_group);
        let lr = self.lrs[group];
        let beta1 = self.moms[group];
        let beta2 = self.beta2;

        // Decoupled weight decay acts on the weights before the Adam step (fastai's true_wd).
        let param = if self.wd != 0.0 {
            param.mul_scalar(1.0 - lr * self.wd)
        } else {
            param
        };

        let state = match self.state.remove(&id) {
            Some(mut state) => {
                state.step += 1;
                state.exp_avg = state
                    .exp_avg
                    .mul_scalar(beta1)
                    .add(grad.clone().mul_scalar(1.0 - beta1));
                state.exp_avg_sq = state
                    .exp_avg_sq
                    .mul_scalar(beta2)
                    .add(grad.square().mul_scalar(1.0 - beta2));
                state
            }
            None => AdamParamState {
                step: 1,
                exp_avg: grad.clone().mul_scalar(1.0 - beta1),
                exp_avg_sq: grad.square().mul_scalar(1.0 - beta2),
            },
        };

        // Bias correction uses the current beta1, as PyTorch's Adam does when a scheduler
        // changes it between steps.
        let bias_correction1 = 1.0 - beta1.powi(state.step as i32);
        let bias_correction2 = 1.0 - beta2.powi(state.step as i32);
        let denom = state
            .exp_avg_sq
            .clone()
            .sqrt()
            .div_scalar(bias_correction2.sqrt())
            .add_scalar(self.eps);
        let update = state
            .exp_avg
            .clone()
            .div(denom)
            .mul_scalar(lr / bias_correction1);

        self.state.insert(id, state);
        param.sub(update)
    }
}

struct StepMapper<'a> {
    adam: &'a mut Adam,
    grads: &'a mut ParamGrads,
}

impl ModuleMapper for StepMapper<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let Some(grad) = self.grads.remove(&id) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };

        let shape = tensor.shape();
        let require_grad = tensor.is_require_grad();
        let flat = tensor.inner().reshape([shape.num_elements()]);
        let grad = grad.inner();

        let updated: Tensor<D> = self.adam.update(id, flat, grad).reshape(shape);

        // The update runs outside autodiff; the new value becomes a fresh leaf.
        let mut updated = Tensor::from_inner(updated);
        if require_grad {
            updated = updated.require_grad();
        }
        Param::from_mapped_value(id, updated, mapper)
    }
}
