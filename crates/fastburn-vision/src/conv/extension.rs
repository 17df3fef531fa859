//! The gemm convolution as a Burn backend extension: it runs on Flex tensors and, under
//! autodiff, has fastburn's own backward node.
//!
//! Burn 0.22.1's Flex backend computes a convolution with per-tile matrix products on an
//! NHWC copy of the input. Flex keeps Burn's default convolution backward, which computes
//! the input gradient as a transposed convolution and the weight gradient as a convolution
//! with swapped axes. Here all three are one matrix product per image.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::ModuleOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Flex, TensorMetadata, backend_extension};
use burn::tensor::TensorData;
use burn::tensor::ops::ConvOptions;

use super::geometry::{ConvGeometry, Products};
use super::kernel;

/// Backends that run fastburn's gemm convolution. The trait stays private to the crate:
/// [`conv2d`](super::conv2d) checks the shapes, dtypes and options the kernels rely on
/// before it calls them.
#[backend_extension(Flex, Autodiff)]
pub(crate) trait GemmConvBackend: Backend {
    /// Convolves `x` (`[batch, channels_in, H, W]`) with `weight` (`[channels_out,
    /// channels_in, kh, kw]`), without bias, with matrix products in `products`.
    /// `options.groups` must be 1. The gradients use the same products.
    fn gemm_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
        products: Products,
    ) -> FloatTensor<Self>;

    /// Returns the gradient of `x` given the gradient of the convolution's output.
    fn gemm_conv2d_x_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
        products: Products,
    ) -> FloatTensor<Self>;

    /// Returns the gradient of `weight` given the gradient of the convolution's output.
    fn gemm_conv2d_weight_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
        products: Products,
    ) -> FloatTensor<Self>;
}

/// Builds the geometry of a convolution from its operand shapes.
pub(super) fn geometry(x: &[usize], weight: &[usize], options: &ConvOptions<2>) -> ConvGeometry {
    ConvGeometry {
        batch: x[0],
        channels_in: x[1],
        input: [x[2], x[3]],
        channels_out: weight[0],
        kernel: [weight[2], weight[3]],
        stride: options.stride,
        padding_begin: [options.padding[0].0, options.padding[1].0],
        padding_end: [options.padding[0].1, options.padding[1].1],
        dilation: options.dilation,
        products: Products::F32,
    }
}

/// Calls `f` with the tensor's `f32` values in row-major order, copying only when the tensor
/// is a strided view.
pub(crate) fn with_values<R>(tensor: &FlexTensor, f: impl FnOnce(&[f32]) -> R) -> R {
    match tensor.as_slice::<f32>() {
        Some(values) => f(values),
        None => {
            let contiguous = tensor.to_contiguous();
            f(contiguous
                .as_slice::<f32>()
                .expect("a contiguous copy has a slice"))
        }
    }
}

/// Builds the geometry of a convolution of Flex tensors with products in `products`.
pub(super) fn flex_geometry(
    x: &FlexTensor,
    weight: &FlexTensor,
    options: &ConvOptions<2>,
    products: Products,
) -> ConvGeometry {
    ConvGeometry {
        products,
        ..geometry(&x.shape().dims::<4>(), &weight.shape().dims::<4>(), options)
    }
}

impl GemmConvBackend for Flex {
    fn gemm_conv2d(
        x: FlexTensor,
        weight: FlexTensor,
        options: ConvOptions<2>,
        products: Products,
    ) -> FlexTensor {
        let geometry = flex_geometry(&x, &weight, &options, products);
        let [out_h, out_w] = geometry
            .output()
            .expect("conv2d rejects convolutions without output before the kernels run");
        let mut output = vec![0.0f32; geometry.batch * geometry.channels_out * out_h * out_w];
        with_values(&x, |input| {
            with_values(&weight, |weight| {
                kernel::forward(&geometry, input, weight, &mut output)
            })
        });
        let shape = [geometry.batch, geometry.channels_out, out_h, out_w];
        FlexTensor::from_data(TensorData::new(output, shape))
    }

    fn gemm_conv2d_x_backward(
        x: FlexTensor,
        weight: FlexTensor,
        output_grad: FlexTensor,
        options: ConvOptions<2>,
        products: Products,
    ) -> FlexTensor {
        let geometry = flex_geometry(&x, &weight, &options, products);
        let mut grad = vec![0.0f32; geometry.batch * geometry.input_len()];
        with_values(&weight, |weight| {
            with_values(&output_grad, |output_grad| {
                kernel::backward_input(&geometry, weight, output_grad, &mut grad)
            })
        });
        FlexTensor::from_data(TensorData::new(grad, x.shape()))
    }

    fn gemm_conv2d_weight_backward(
        x: FlexTensor,
        weight: FlexTensor,
        output_grad: FlexTensor,
        options: ConvOptions<2>,
        products: Products,
    ) -> FlexTensor {
        let geometry = flex_geometry(&x, &weight, &options, products);
        let mut grad = vec![0.0f32; geometry.channels_out * geometry.column_rows()];
        with_values(&x, |input| {
            with_values(&output_grad, |output_grad| {
                kernel::backward_weight(&geometry, input, output_grad, &mut grad)
            })
        });
        FlexTensor::from_data(TensorData::new(grad, weight.shape()))
    }
}

/// The autodiff node of [`GemmConvBackend::gemm_conv2d`]: both gradients come from the inner
/// backend's gemm kernels.
#[derive(Debug)]
struct GemmConv2dBackward;

impl<B: Backend + GemmConvBackend> Backward<B, 2> for GemmConv2dBackward {
    type State = (NodeId, NodeId, ConvOptions<2>, Products);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight] = ops.parents;
        let output_grad = grads.consume::<B>(&ops.node);
        let (x_state, weight_state, options, products) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
        let weight = checkpointer.retrieve_node_output::<FloatTensor<B>>(weight_state);

        if let Some(node) = node_x {
            let grad = B::gemm_conv2d_x_backward(
                x.clone(),
                weight.clone(),
                output_grad.clone(),
                options.clone(),
                products,
            );
            grads.register::<B>(node.id, grad);
        }
        if let Some(node) = node_weight {
            let grad = B::gemm_conv2d_weight_backward(x, weight, output_grad, options, products);
            grads.register::<B>(node.id, grad);
        }
    }
}

impl<B: Backend + GemmConvBackend, C: CheckpointStrategy> GemmConvBackend for Autodiff<B, C> {
    fn gemm_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
        products: Products,
    ) -> FloatTensor<Self> {
        let prepared = GemmConv2dBackward
            .prepare::<C>([x.node(), weight.node()])
            .compute_bound()
            .stateful();
        match prepared {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let weight_state = prep.checkpoint(&weight);
                let (x, weight) = (x.into_primitive(), weight.into_primitive());
                let output = B::gemm_conv2d(x, weight, options.clone(), products);
                prep.finish((x_state, weight_state, options, products), output)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::gemm_conv2d(
                x.into_primitive(),
                weight.into_primitive(),
                options,
                products,
            )),
        }
    }

    // The gradients themselves are differentiated by Burn's own composed backward, so a
    // second derivative stays correct, at Burn's speed and in `f32`.
    fn gemm_conv2d_x_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
        _products: Products,
    ) -> FloatTensor<Self> {
        <Self as ModuleOps<Self>>::conv2d_x_backward(x, weight, output_grad, options)
    }

    fn gemm_conv2d_weight_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
        _products: Products,
    ) -> FloatTensor<Self> {
        <Self as ModuleOps<Self>>::conv2d_weight_backward(x, weight, output_grad, options)
    }
}
