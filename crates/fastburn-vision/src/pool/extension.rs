//! The max pooling kernel as a Burn backend extension on Flex, with fastburn's autodiff node.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::ModuleOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{
    Autodiff, Backend, Dispatch, DispatchDevice, Flex, TensorMetadata, backend_extension,
};
use burn::tensor::{DType, IntDType, Tensor, TensorData};

use super::{Window, kernel};
use crate::conv::with_values;

/// Backends that run fastburn's max pooling. Crate-private: [`super::max_pool2d`] checks the
/// window and the input first.
#[backend_extension(Flex, Autodiff)]
pub(crate) trait MaxPoolBackend: Backend {
    /// Max-pools `x` (`[batch, channels, H, W]`) over `window`.
    fn window_max_pool2d(x: FloatTensor<Self>, window: Window) -> FloatTensor<Self>;

    /// Returns the gradient of `x` given the gradient of the pooled output.
    fn window_max_pool2d_backward(
        x: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        window: Window,
    ) -> FloatTensor<Self>;
}

/// Returns whether `input` is `f32` on a Flex device, with or without autodiff.
pub(super) fn applies(input: &Tensor<4>) -> bool {
    crate::conv::gemm_enabled()
        && input.dtype() == DType::F32
        && matches!(
            input.device().inner().as_dispatch(),
            DispatchDevice::Flex(_)
        )
}

/// Runs the kernel through the extension.
pub(super) fn max_pool2d(input: Tensor<4>, window: Window) -> Tensor<4> {
    let output = <Dispatch as MaxPoolBackend>::window_max_pool2d(input.into_dispatch(), window);
    Tensor::from_dispatch(output)
}

impl MaxPoolBackend for Flex {
    fn window_max_pool2d(x: FlexTensor, window: Window) -> FlexTensor {
        let [batch, channels, height, width] = x.shape().dims::<4>();
        let [out_h, out_w] = window.output([height, width]);
        let mut output = vec![0.0f32; batch * channels * out_h * out_w];
        with_values(&x, |input| {
            kernel::forward(&window, input, [height, width], &mut output)
        });
        FlexTensor::from_data(TensorData::new(output, [batch, channels, out_h, out_w]))
    }

    fn window_max_pool2d_backward(
        x: FlexTensor,
        output_grad: FlexTensor,
        window: Window,
    ) -> FlexTensor {
        let [_, _, height, width] = x.shape().dims::<4>();
        let mut grad = vec![0.0f32; x.shape().num_elements()];
        with_values(&x, |input| {
            with_values(&output_grad, |output_grad| {
                kernel::backward(&window, input, [height, width], output_grad, &mut grad)
            })
        });
        FlexTensor::from_data(TensorData::new(grad, x.shape()))
    }
}

/// The autodiff node of [`MaxPoolBackend::window_max_pool2d`]. It keeps the input, not the
/// indices of the maxima, and finds them again in the backward pass.
#[derive(Debug)]
struct WindowMaxPool2dBackward;

impl<B: Backend + MaxPoolBackend> Backward<B, 1> for WindowMaxPool2dBackward {
    type State = (NodeId, Window);

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x] = ops.parents;
        let output_grad = grads.consume::<B>(&ops.node);
        let (x_state, window) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);

        if let Some(node) = node_x {
            let grad = B::window_max_pool2d_backward(x, output_grad, window);
            grads.register::<B>(node.id, grad);
        }
    }
}

impl<B: Backend + MaxPoolBackend, C: CheckpointStrategy> MaxPoolBackend for Autodiff<B, C> {
    fn window_max_pool2d(x: FloatTensor<Self>, window: Window) -> FloatTensor<Self> {
        let prepared = WindowMaxPool2dBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful();
        match prepared {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let output = B::window_max_pool2d(x.into_primitive(), window);
                prep.finish((x_state, window), output)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::window_max_pool2d(x.into_primitive(), window))
            }
        }
    }

    // Reached only by a second derivative, which then goes through Burn's own max pooling
    // backward, so that its autodiff behaviour is Burn's.
    fn window_max_pool2d_backward(
        x: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        window: Window,
    ) -> FloatTensor<Self> {
        let pooled = <Self as ModuleOps<Self>>::max_pool2d_with_indices(
            x.clone(),
            window.kernel,
            window.stride,
            window.padding,
            [1, 1],
            false,
            IntDType::I64,
        );
        <Self as ModuleOps<Self>>::max_pool2d_with_indices_backward(
            x,
            window.kernel,
            window.stride,
            window.padding,
            [1, 1],
            false,
            output_grad,
            pooled.indices,
        )
        .x_grad
    }
}
