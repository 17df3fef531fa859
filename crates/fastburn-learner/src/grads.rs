//! Gradients of one backward pass, keyed by parameter and flattened to one dimension.

use std::collections::HashMap;

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::tensor::{Gradients, Tensor};

/// The gradient of every parameter that required one, flattened to `[num_elements]`.
///
/// Flattening lets the optimizer and callbacks such as gradient clipping treat every
/// parameter alike whatever its rank; the optimizer reshapes updates back.
#[derive(Debug, Default)]
pub struct ParamGrads {
    grads: HashMap<ParamId, Tensor<1>>,
}

impl ParamGrads {
    /// Moves the gradients of `model`'s parameters out of `grads`.
    ///
    /// Parameters that do not require a gradient (frozen ones, batch-norm running statistics)
    /// get none.
    pub fn from_backward<M: Module>(model: &M, mut grads: Gradients) -> Self {
        let mut collector = Collector {
            grads: &mut grads,
            out: HashMap::new(),
        };
        model.visit(&mut collector);
        Self {
            grads: collector.out,
        }
    }

    /// Number of parameters with a gradient.
    pub fn len(&self) -> usize {
        self.grads.len()
    }

    /// Returns whether no parameter has a gradient.
    pub fn is_empty(&self) -> bool {
        self.grads.is_empty()
    }

    /// Returns the flattened gradient of `id`.
    pub fn get(&self, id: &ParamId) -> Option<&Tensor<1>> {
        self.grads.get(id)
    }

    /// Removes and returns the flattened gradient of `id`.
    pub fn remove(&mut self, id: &ParamId) -> Option<Tensor<1>> {
        self.grads.remove(id)
    }

    /// Returns the L2 norm of all gradients taken together, as PyTorch's `clip_grad_norm_` computes it.
    pub fn global_norm(&self) -> f64 {
        let sum_of_squares: f64 = self
            .grads
            .values()
            .map(|grad| grad.clone().square().sum().into_scalar::<f32>() as f64)
            .sum();
        sum_of_squares.sqrt()
    }

    /// Returns whether every gradient is finite (no infinity and no NaN).
    pub fn all_finite(&self) -> bool {
        // One reduction per parameter, then a single read back to the host.
        let checks: Vec<_> = self.grads.values().map(|grad| grad.clone().is_finite().all()).collect();
        if checks.is_empty() {
            return true;
        }
        Tensor::cat(checks, 0).all().into_scalar::<bool>()
    }

    /// Multiplies every gradient by `factor`.
    pub fn scale(&mut self, factor: f64) {
        for grad in self.grads.values_mut() {
            *grad = grad.clone().mul_scalar(factor);
        }
    }
}

struct Collector<'a> {
    grads: &'a mut Gradients,
    out: HashMap<ParamId, Tensor<1>>,
}

impl ModuleVisitor for Collector<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if !param.is_require_grad() {
            return;
        }

        if let Some(grad) = param.val().grad_remove(self.grads) {
            let num_elements = grad.shape().num_elements();
            self.out.insert(param.id, grad.reshape([num_elements]));
        }
    }
}
