//! A LibTorch autograd graph recorded during a forward pass and kept in a Burn autodiff node,
//! which requests the gradients from it in the backward pass.

use burn::backend::Autodiff;
use burn::backend::LibTorch;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::libtorch::TchTensor;
use burn::backend::tensor::FloatTensor;

/// The state a recorded forward pass keeps for its backward pass.
#[derive(Debug)]
pub(super) struct Recorded {
    /// Burn's handles on the inputs. Holding them keeps Burn from overwriting the inputs in
    /// place (burn-tch 0.22.1 does that only to tensors whose storage has a single handle),
    /// which LibTorch's autograd would then reject.
    inputs: Vec<TchTensor>,
    /// The inputs as LibTorch receives them: detached aliases that require a gradient.
    leaves: Vec<tch::Tensor>,
    /// The output, attached to the recorded graph.
    output: tch::Tensor,
    /// Burn's handle on the output, kept for the same reason as `inputs`: an activation's
    /// backward reads the output.
    result: TchTensor,
}

// `tch::Tensor` is not `Clone`; a shallow clone shares the tensor and its autograd history.
impl Clone for Recorded {
    fn clone(&self) -> Self {
        Self {
            inputs: self.inputs.clone(),
            leaves: self.leaves.iter().map(tch::Tensor::shallow_clone).collect(),
            output: self.output.shallow_clone(),
            result: self.result.clone(),
        }
    }
}

/// The autodiff node of an operation recorded by [`record`], with `N` parents.
#[derive(Debug)]
pub(super) struct RecordedBackward<const N: usize>;

impl<const N: usize> Backward<LibTorch, N> for RecordedBackward<N> {
    type State = Recorded;

    fn backward(self, ops: Ops<Self::State, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let output_grad = grads.consume::<LibTorch>(&ops.node);
        let recorded = ops.state;
        let (nodes, leaves): (Vec<_>, Vec<_>) = ops
            .parents
            .into_iter()
            .zip(&recorded.leaves)
            .filter_map(|(parent, leaf)| parent.map(|node| (node, leaf)))
            .unzip();
        if nodes.is_empty() {
            return;
        }

        // LibTorch computes only the gradients of the inputs listed here.
        let gradients = super::vjp::vector_jacobian(&recorded.output, &output_grad.tensor, &leaves)
            .unwrap_or_else(|error| {
                panic!("LibTorch's autograd failed in a backward pass: {error}")
            });
        // An undefined gradient means the output does not depend on that input: zero, which
        // Burn expresses by registering nothing.
        for (node, gradient) in nodes.into_iter().zip(gradients) {
            if gradient.defined() {
                grads.register::<LibTorch>(node.id, TchTensor::new(gradient));
            }
        }
    }
}

/// Runs `forward` on the inputs' LibTorch tensors. When an input is tracked, LibTorch's
/// autograd records the call and the returned tensor's node differentiates through it.
pub(super) fn record<const N: usize, C: CheckpointStrategy>(
    inputs: [FloatTensor<Autodiff<LibTorch, C>>; N],
    forward: impl Fn([&tch::Tensor; N]) -> tch::Tensor,
) -> FloatTensor<Autodiff<LibTorch, C>> {
    let (inputs, guards): (Vec<_>, Vec<_>) = inputs.into_iter().map(|x| x.into_parts()).unzip();
    let guards: [_; N] = guards.try_into().expect("one guard per input");
    let prepared = RecordedBackward::<N>
        .prepare::<C>(guards)
        .compute_bound()
        .stateful();

    match prepared {
        OpsKind::Tracked(prep) => {
            let leaves: Vec<tch::Tensor> = inputs
                .iter()
                .map(|input| input.tensor.detach().set_requires_grad(true))
                .collect();
            let output = tch::with_grad(|| forward(as_array(&leaves)));
            let result = TchTensor::new(output.detach());
            let recorded = Recorded {
                inputs,
                leaves,
                output,
                result: result.clone(),
            };
            prep.finish(recorded, result)
        }
        OpsKind::UnTracked(prep) => {
            let tensors: Vec<tch::Tensor> = inputs
                .iter()
                .map(|input| input.tensor.shallow_clone())
                .collect();
            let output = tch::no_grad(|| forward(as_array(&tensors)));
            prep.finish(TchTensor::new(output))
        }
    }
}

fn as_array<const N: usize>(tensors: &[tch::Tensor]) -> [&tch::Tensor; N] {
    std::array::from_fn(|index| &tensors[index])
}
