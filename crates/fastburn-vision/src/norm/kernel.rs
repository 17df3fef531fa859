//! Batch norm in training mode, fused with the residual addition and the activation, on
//! `f32` NCHW slices. Work is split into one task per (image, channel) plane, and per-channel
//! sums are gathered from per-plane partial sums in `f64`.
//!
//! Within a plane, sums run in `f32` over 16 lanes and blocks of 256 values, and each block's
//! sum is added in `f64`. A single `f64` accumulator cannot be vectorised, because its
//! additions must stay in order.

use rayon::prelude::*;

use crate::conv::Activation;

/// Sizes of a batch-norm input: `planes = batch × channels` planes of `pixels` values each.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// Channels, the normalised axis.
    pub channels: usize,
    /// Values per plane (height × width).
    pub pixels: usize,
}

impl Layout {
    /// Returns the number of values averaged per channel: batch × height × width.
    fn count(&self, len: usize) -> f64 {
        (len / self.channels) as f64
    }
}

/// Computes `term(plane)` for every plane in parallel and adds the results up per channel.
fn channel_sums<const K: usize>(
    layout: Layout,
    planes: usize,
    term: impl Fn(usize) -> [f64; K] + Sync + Send,
) -> Vec<[f64; K]> {
    let partial: Vec<[f64; K]> = (0..planes).into_par_iter().map(term).collect();
    let mut sums = vec![[0.0; K]; layout.channels];
    for (index, values) in partial.iter().enumerate() {
        let sum = &mut sums[index % layout.channels];
        for k in 0..K {
            sum[k] += values[k];
        }
    }
    sums
}

/// Lanes of the `f32` partial sums.
const LANES: usize = 16;
/// Values summed in `f32` before their sum is added in `f64`.
const SUM_BLOCK: usize = 256;

/// Returns the sum of `term(a[i], b[i])` over the two slices, in blocks (see the module
/// documentation). Relative to one `f64` sum, the error is that of 16 `f32` additions.
#[inline(always)]
fn blocked_sum(a: &[f32], b: &[f32], term: impl Fn(f32, f32) -> f32) -> f64 {
    let mut total = 0.0f64;
    for (a, b) in a.chunks(SUM_BLOCK).zip(b.chunks(SUM_BLOCK)) {
        let mut lanes = [0.0f32; LANES];
        let (a_lanes, b_lanes) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
        let (a_rest, b_rest) = (a_lanes.remainder(), b_lanes.remainder());
        for (a, b) in a_lanes.zip(b_lanes) {
            for lane in 0..LANES {
                lanes[lane] += term(a[lane], b[lane]);
            }
        }

        let mut block: f64 = lanes.iter().map(|&lane| lane as f64).sum();
        for (&a, &b) in a_rest.iter().zip(b_rest) {
            block += term(a, b) as f64;
        }
        total += block;
    }
    total
}

/// Returns each channel's mean and biased variance (dividing by the count), the statistics
/// that normalise a training batch: `[mean; channels]` followed by `[variance; channels]`.
///
/// Each plane's squares are summed about the plane's own mean. A channel's sum of squares is
/// then the planes' sums plus `pixels × (plane mean − channel mean)²` for each plane, so a
/// mean far larger than the spread does not cancel the variance away.
pub fn moments(layout: Layout, x: &[f32]) -> Vec<f32> {
    let pixels = layout.pixels;
    let planes = x.len() / pixels;
    let partial: Vec<[f64; 2]> = (0..planes)
        .into_par_iter()
        .map(|plane| {
            let values = &x[plane * pixels..(plane + 1) * pixels];
            let sum = blocked_sum(values, values, |value, _| value);
            let mean = (sum / pixels as f64) as f32;
            let squares = blocked_sum(values, values, |value, _| (value - mean) * (value - mean));
            // The squares are about the mean rounded to `f32`. Moving them to the exact mean
            // takes off `pixels × (exact − rounded)²`.
            let rounding = sum / pixels as f64 - mean as f64;
            [sum, squares - pixels as f64 * rounding * rounding]
        })
        .collect();

    let channels = layout.channels;
    let count = layout.count(x.len());
    let mut sums = vec![0.0f64; channels];
    partial
        .iter()
        .enumerate()
        .for_each(|(plane, [sum, _])| sums[plane % channels] += sum);
    let means: Vec<f64> = sums.iter().map(|sum| sum / count).collect();
    let mut squares = vec![0.0f64; channels];
    for (plane, [sum, plane_squares]) in partial.iter().enumerate() {
        let c = plane % channels;
        let offset = sum / pixels as f64 - means[c];
        squares[c] += plane_squares + pixels as f64 * offset * offset;
    }

    // Rounding could make a variance slightly negative, so it is clamped at 0. `max` would
    // also turn the NaN of a non-finite input into 0, where Burn's variance is NaN.
    let variance = squares.iter().map(|squares| {
        let variance = squares / count;
        if variance < 0.0 { 0.0 } else { variance }
    });
    means
        .iter()
        .copied()
        .chain(variance)
        .map(|value| value as f32)
        .collect()
}

/// Returns each channel's `1 / sqrt(variance + epsilon)` from [`moments`].
fn inverse_std(moments: &[f32], epsilon: f64) -> Vec<f64> {
    let channels = moments.len() / 2;
    moments[channels..]
        .iter()
        .map(|&variance| 1.0 / (variance as f64 + epsilon).sqrt())
        .collect()
}

/// Returns per channel `(mean, scale, beta)` with `scale = gamma / sqrt(variance + epsilon)`.
/// The output is `(x − mean) · scale + beta`, not `x · scale + (beta − mean · scale)`: where
/// the variance is far below epsilon the second form cancels two large terms, and a channel
/// with one value would not give exactly `beta` as Burn's batch norm does.
fn affine(moments: &[f32], gamma: &[f32], beta: &[f32], epsilon: f64) -> Vec<(f32, f32, f32)> {
    let inv_std = inverse_std(moments, epsilon);
    (0..gamma.len())
        .map(|c| (moments[c], (gamma[c] as f64 * inv_std[c]) as f32, beta[c]))
        .collect()
}

/// The values [`forward`] reads besides its input.
pub struct Parameters<'a> {
    /// [`moments`] of the input.
    pub moments: &'a [f32],
    /// Scale per channel.
    pub gamma: &'a [f32],
    /// Shift per channel.
    pub beta: &'a [f32],
    /// Added to the variance before its square root.
    pub epsilon: f64,
}

/// Computes `output = activation(gamma · (x − mean) / sqrt(var + epsilon) + beta + residual)`.
pub fn forward(
    layout: Layout,
    x: &[f32],
    parameters: &Parameters,
    residual: Option<&[f32]>,
    activation: Activation,
    output: &mut [f32],
) {
    let affine = affine(
        parameters.moments,
        parameters.gamma,
        parameters.beta,
        parameters.epsilon,
    );
    let pixels = layout.pixels;

    output
        .par_chunks_mut(pixels)
        .enumerate()
        .for_each(|(plane, out)| {
            let (mean, scale, beta) = affine[plane % layout.channels];
            let values = &x[plane * pixels..(plane + 1) * pixels];
            match residual {
                Some(residual) => {
                    let added = &residual[plane * pixels..(plane + 1) * pixels];
                    for ((out, &value), &added) in out.iter_mut().zip(values).zip(added) {
                        *out = activation.apply_value((value - mean) * scale + beta + added);
                    }
                }
                None => {
                    for (out, &value) in out.iter_mut().zip(values) {
                        *out = activation.apply_value((value - mean) * scale + beta);
                    }
                }
            }
        });
}

/// The gradients of [`forward`]'s inputs.
pub struct Gradients {
    /// Gradient of `x`.
    pub x: Vec<f32>,
    /// Gradient of `gamma`.
    pub gamma: Vec<f32>,
    /// Gradient of `beta`.
    pub beta: Vec<f32>,
    /// Gradient of the sum before the activation, which is also the residual's gradient.
    pub pre_activation: Vec<f32>,
}

/// Computes the gradients of [`forward`] from the gradient of its output, given its input
/// `x` and its `output`. The batch statistics depend on `x`, and its gradient includes that
/// dependence:
/// `dx = gamma / std · (dy − mean(dy) − x̂ · mean(dy · x̂))` per channel.
pub fn backward(
    layout: Layout,
    x: &[f32],
    output: &[f32],
    grad_output: &[f32],
    parameters: &Parameters,
    activation: Activation,
) -> Gradients {
    let pixels = layout.pixels;
    let channels = layout.channels;
    let moments = parameters.moments;
    let inv_std: Vec<f32> = inverse_std(moments, parameters.epsilon)
        .into_iter()
        .map(|value| value as f32)
        .collect();

    let mut grad_y = vec![0.0f32; x.len()];
    grad_y
        .par_chunks_mut(pixels)
        .zip(output.par_chunks(pixels))
        .zip(grad_output.par_chunks(pixels))
        .for_each(|((grad_y, output), grad_output)| {
            activation.gradient_into(output, grad_output, grad_y);
        });

    let planes = x.len() / pixels;
    let sums = channel_sums(layout, planes, |plane| {
        let c = plane % channels;
        let (mean, inv_std) = (moments[c], inv_std[c]);
        let range = plane * pixels..(plane + 1) * pixels;
        let (grad, values) = (&grad_y[range.clone()], &x[range]);
        let sum = blocked_sum(grad, grad, |grad, _| grad);
        let weighted = blocked_sum(grad, values, |grad, value| grad * (value - mean) * inv_std);
        [sum, weighted]
    });

    let count = layout.count(x.len());
    let mut grad_x = vec![0.0f32; x.len()];
    grad_x
        .par_chunks_mut(pixels)
        .enumerate()
        .for_each(|(plane, grad_x)| {
            let c = plane % channels;
            let (mean, inv_std) = (moments[c], inv_std[c]);
            let mean_grad = (sums[c][0] / count) as f32;
            let mean_weighted = (sums[c][1] / count) as f32;
            let factor = parameters.gamma[c] * inv_std;
            let range = plane * pixels..(plane + 1) * pixels;
            for ((grad_x, &grad), &value) in
                grad_x.iter_mut().zip(&grad_y[range.clone()]).zip(&x[range])
            {
                let normalized = (value - mean) * inv_std;
                *grad_x = factor * (grad - mean_grad - normalized * mean_weighted);
            }
        });

    Gradients {
        x: grad_x,
        gamma: sums.iter().map(|[_, weighted]| *weighted as f32).collect(),
        beta: sums.iter().map(|[sum, _]| *sum as f32).collect(),
        pre_activation: grad_y,
    }
}
