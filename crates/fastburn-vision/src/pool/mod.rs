//! 2-D max pooling, the ResNet stem's: fastburn's kernel on Flex, Burn's `MaxPool2d`
//! everywhere else.
//!
//! Burn 0.22.1's Flex max pooling runs a scalar loop that took about 9% of a ResNet34
//! inference batch in a perf profile here. fastburn's kernel runs one plane per rayon task,
//! and under autodiff it finds the window maxima again in the backward pass instead of
//! keeping an index tensor.

#[cfg(feature = "flex")]
mod extension;
#[cfg(feature = "flex")]
mod kernel;

use burn::nn::PaddingConfig2d;
use burn::nn::pool::MaxPool2d;
use burn::tensor::Tensor;

/// A pooling window that fastburn's kernel handles: no dilation, no ceil mode, and the same
/// padding before and after, at most half the kernel, so that every window contains at least
/// one input value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Stride along height and width.
    pub stride: [usize; 2],
    /// Padding on each side along height and width.
    pub padding: [usize; 2],
}

impl Window {
    /// Returns the window of `pool`, or `None` when its settings are outside what the kernel
    /// handles or the input (`[height, width]`) is smaller than the padded kernel.
    pub fn of(pool: &MaxPool2d, input: [usize; 2]) -> Option<Self> {
        let PaddingConfig2d::Explicit(top, left, bottom, right) = pool.padding else {
            return None;
        };
        let window = Self {
            kernel: pool.kernel_size,
            stride: pool.stride,
            padding: [top, left],
        };
        let fits = (0..2).all(|axis| {
            window.kernel[axis] > 0
                && window.stride[axis] > 0
                && 2 * window.padding[axis] <= window.kernel[axis]
                && input[axis] > 0
                && input[axis] + 2 * window.padding[axis] >= window.kernel[axis]
        });
        (top == bottom && left == right && pool.dilation == [1, 1] && !pool.ceil_mode && fits)
            .then_some(window)
    }

    /// Returns the output height and width for an input of `[height, width]`.
    pub fn output(&self, input: [usize; 2]) -> [usize; 2] {
        let axis =
            |a: usize| (input[a] + 2 * self.padding[a] - self.kernel[a]) / self.stride[a] + 1;
        [axis(0), axis(1)]
    }
}

/// Applies `pool` to `input` as [`MaxPool2d::forward`] does, with fastburn's kernel on Flex
/// for `f32` input and a window it handles (see [`Window::of`]).
pub fn max_pool2d(pool: &MaxPool2d, input: Tensor<4>) -> Tensor<4> {
    #[cfg(feature = "flex")]
    {
        let [batch, channels, height, width] = input.dims();
        if let Some(window) = Window::of(pool, [height, width])
            && batch * channels > 0
            && extension::applies(&input)
        {
            return extension::max_pool2d(input, window);
        }
    }
    pool.forward(input)
}
