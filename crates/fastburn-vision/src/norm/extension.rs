//! The fused training batch norm as a Burn backend extension on Flex, with its autodiff node.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Flex, TensorMetadata, backend_extension};
use burn::tensor::TensorData;

use super::kernel::{self, Layout, Parameters};
use crate::conv::{Activation, with_values};

/// Backends that run fastburn's training batch norm. Crate-private, because
/// [`super::applies`] checks every shape first.
#[backend_extension(Flex, Autodiff)]
pub(crate) trait BatchNormBackend: Backend {
    /// Returns each channel's mean and biased variance of `x` (`[batch, channels, H, W]`)
    /// as a `[2, channels]` tensor. It has no gradient.
    fn channel_moments(x: FloatTensor<Self>) -> FloatTensor<Self>;

    /// Returns `activation(batch_norm(x) + residual)`, normalising with `moments` from
    /// [`BatchNormBackend::channel_moments`] of the same `x`.
    fn batch_norm_act_add(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        moments: FloatTensor<Self>,
        residual: FloatTensor<Self>,
        epsilon: f64,
        activation: Activation,
    ) -> FloatTensor<Self>;

    /// Returns `activation(batch_norm(x))`, as [`BatchNormBackend::batch_norm_act_add`]
    /// without the residual.
    fn batch_norm_act(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        moments: FloatTensor<Self>,
        epsilon: f64,
        activation: Activation,
    ) -> FloatTensor<Self>;
}

fn layout(x: &FlexTensor) -> Layout {
    let [_, channels, height, width] = x.shape().dims::<4>();
    Layout {
        channels,
        pixels: height * width,
    }
}

fn to_flex(values: Vec<f32>, shape: impl Into<burn::tensor::Shape>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// Runs the forward kernel on Flex tensors.
fn forward(
    x: &FlexTensor,
    [gamma, beta, moments]: [&FlexTensor; 3],
    residual: Option<&FlexTensor>,
    epsilon: f64,
    activation: Activation,
) -> FlexTensor {
    let mut output = vec![0.0f32; x.shape().num_elements()];
    with_values(x, |x_values| {
        with_values(gamma, |gamma| {
            with_values(beta, |beta| {
                with_values(moments, |moments| {
                    let parameters = Parameters {
                        moments,
                        gamma,
                        beta,
                        epsilon,
                    };
                    let mut run = |residual: Option<&[f32]>| {
                        let layout = layout(x);
                        kernel::forward(
                            layout,
                            x_values,
                            &parameters,
                            residual,
                            activation,
                            &mut output,
                        )
                    };
                    match residual {
                        Some(residual) => with_values(residual, |residual| run(Some(residual))),
                        None => run(None),
                    }
                })
            })
        })
    });
    to_flex(output, x.shape())
}

impl BatchNormBackend for Flex {
    fn channel_moments(x: FlexTensor) -> FlexTensor {
        let layout = layout(&x);
        let moments = with_values(&x, |values| kernel::moments(layout, values));
        to_flex(moments, [2, layout.channels])
    }

    fn batch_norm_act_add(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        moments: FlexTensor,
        residual: FlexTensor,
        epsilon: f64,
        activation: Activation,
    ) -> FlexTensor {
        forward(
            &x,
            [&gamma, &beta, &moments],
            Some(&residual),
            epsilon,
            activation,
        )
    }

    fn batch_norm_act(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        moments: FlexTensor,
        epsilon: f64,
        activation: Activation,
    ) -> FlexTensor {
        forward(&x, [&gamma, &beta, &moments], None, epsilon, activation)
    }
}

/// The tensors the backward pass reads: the forward's input and output and the values it
/// normalised with. Flex tensors share their buffers, so keeping them copies nothing.
#[derive(Debug, Clone)]
struct Saved {
    x: FlexTensor,
    output: FlexTensor,
    gamma: FlexTensor,
    moments: FlexTensor,
    epsilon: f64,
    activation: Activation,
}

impl Saved {
    /// Runs the backward kernel.
    fn gradients(&self, grad_output: &FlexTensor) -> kernel::Gradients {
        let layout = layout(&self.x);
        with_values(&self.x, |x| {
            with_values(&self.output, |output| {
                with_values(grad_output, |grad_output| {
                    with_values(&self.gamma, |gamma| {
                        with_values(&self.moments, |moments| {
                            let parameters = Parameters {
                                moments,
                                gamma,
                                beta: &[],
                                epsilon: self.epsilon,
                            };
                            kernel::backward(
                                layout,
                                x,
                                output,
                                grad_output,
                                &parameters,
                                self.activation,
                            )
                        })
                    })
                })
            })
        })
    }
}

/// The autodiff node of the fused batch norm, with `N` parents: `x`, `gamma`, `beta` and,
/// when `N` is 4, the residual.
#[derive(Debug)]
struct BatchNormActBackward<const N: usize>;

impl<const N: usize> Backward<Flex, N> for BatchNormActBackward<N> {
    type State = Saved;

    fn backward(self, ops: Ops<Self::State, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad_output = grads.consume::<Flex>(&ops.node);
        let saved = ops.state;
        let channels = saved.gamma.shape().num_elements();
        let gradients = saved.gradients(&grad_output);

        let pre_activation = to_flex(gradients.pre_activation, saved.x.shape());
        let results = [
            to_flex(gradients.x, saved.x.shape()),
            to_flex(gradients.gamma, [channels]),
            to_flex(gradients.beta, [channels]),
            pre_activation,
        ];
        for (parent, grad) in ops.parents.into_iter().zip(results) {
            if let Some(node) = parent {
                grads.register::<Flex>(node.id, grad);
            }
        }
    }
}

/// Runs the forward pass under autodiff, recording the node when any input is tracked.
fn tracked<const N: usize, C: CheckpointStrategy>(
    parents: [&FloatTensor<Autodiff<Flex, C>>; N],
    saved: impl FnOnce(FlexTensor) -> Saved,
    output: FlexTensor,
) -> FloatTensor<Autodiff<Flex, C>> {
    let prepared = BatchNormActBackward::<N>
        .prepare::<C>(parents.map(|parent| parent.node()))
        .compute_bound()
        .stateful();
    match prepared {
        OpsKind::Tracked(prep) => {
            let state = saved(output.clone());
            prep.finish(state, output)
        }
        OpsKind::UnTracked(prep) => prep.finish(output),
    }
}

impl<C: CheckpointStrategy> BatchNormBackend for Autodiff<Flex, C> {
    fn channel_moments(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let moments = Flex::channel_moments(x.into_primitive());
        <Self as burn::backend::AutodiffBackend>::from_inner(moments)
    }

    fn batch_norm_act_add(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        moments: FloatTensor<Self>,
        residual: FloatTensor<Self>,
        epsilon: f64,
        activation: Activation,
    ) -> FloatTensor<Self> {
        let [xp, gp, bp, mp, rp] =
            [&x, &gamma, &beta, &moments, &residual].map(|t| t.clone().into_primitive());
        let output = forward(&xp, [&gp, &bp, &mp], Some(&rp), epsilon, activation);
        let saved = |output| Saved {
            x: xp,
            output,
            gamma: gp,
            moments: mp,
            epsilon,
            activation,
        };
        tracked::<4, C>([&x, &gamma, &beta, &residual], saved, output)
    }

    fn batch_norm_act(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        moments: FloatTensor<Self>,
        epsilon: f64,
        activation: Activation,
    ) -> FloatTensor<Self> {
        let [xp, gp, bp, mp] = [&x, &gamma, &beta, &moments].map(|t| t.clone().into_primitive());
        let output = forward(&xp, [&gp, &bp, &mp], None, epsilon, activation);
        let saved = |output| Saved {
            x: xp,
            output,
            gamma: gp,
            moments: mp,
            epsilon,
            activation,
        };
        tracked::<3, C>([&x, &gamma, &beta], saved, output)
    }
}
