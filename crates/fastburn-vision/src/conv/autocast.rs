//! Mixed-precision scope for the convolutions, like PyTorch's `autocast`: inside it,
//! [`conv2d`](super::conv2d) computes in a half-precision dtype while parameters, batch
//! norm and everything else stay in `f32`.

use std::cell::Cell;

use burn::tensor::DType;

thread_local! {
    /// The dtype convolutions compute in on this thread, if not their input's.
    static COMPUTE_DTYPE: Cell<Option<DType>> = const { Cell::new(None) };
}

/// Runs `f` with convolutions computing in `dtype` on this thread (`None`: in their input's
/// dtype), then restores the previous setting, also when `f` panics.
///
/// Inside the scope, an `f32` convolution casts its input, weight and bias to `dtype`,
/// convolves, and casts the result back to `f32`. Under autodiff the casts are
/// differentiable, so the gradients reach the `f32` parameters in `f32`: these are the
/// master weights of mixed-precision training. Only convolutions that go through
/// [`conv2d`](super::conv2d), [`forward`](super::forward) or [`conv_bn`](super::conv_bn)
/// follow it, which covers every backbone in this crate but not the head's linear layers.
///
/// On Flex, where the processor has AMX and [`AMX_ENV`](super::AMX_ENV) is not `0`, a
/// bfloat16 scope casts nothing. fastburn's gemm convolution rounds its `f32` operands to
/// bfloat16 as it packs them for the AMX tiles and sums in `f32`, in both gradients too. Its inference path (batch norm folded into the convolution) follows the scope
/// too.
///
/// On LibTorch, [`conv_bn`](super::conv_bn) goes further, as PyTorch's autocast does: it
/// returns its activations in `dtype`, so the next layer reads them without a cast, and its
/// batch norm normalises them with `f32` statistics and parameters.
/// The backbones' feature functions cast their output back to the input's dtype.
pub fn autocast<R>(dtype: Option<DType>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<DType>);
    impl Drop for Restore {
        fn drop(&mut self) {
            COMPUTE_DTYPE.with(|cell| cell.set(self.0));
        }
    }

    let _restore = Restore(COMPUTE_DTYPE.with(|cell| cell.replace(dtype)));
    f()
}

/// Returns the dtype convolutions compute in on this thread, set by [`autocast`].
pub fn autocast_dtype() -> Option<DType> {
    COMPUTE_DTYPE.with(Cell::get)
}
