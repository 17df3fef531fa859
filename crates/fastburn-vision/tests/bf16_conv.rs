//! The convolution under a bfloat16 `autocast` against `f32`, beyond `autocast.rs`: awkward
//! shapes, non-finite values, concurrent callers and the folded inference path. On Flex with
//! AMX these run fastburn's AMX products; elsewhere Burn's bfloat16 convolution.
#![cfg(feature = "flex")]

use burn::nn::conv::Conv2dConfig;
use burn::nn::{BatchNormConfig, PaddingConfig2d};
use burn::tensor::module::conv2d as burn_conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Device, Tensor, TensorData};
use fastburn_vision::conv::{Activation, autocast, bf16_on_amx, conv_bn, conv2d};

/// Returns `len` values in [-1.5, 1.5) from a xorshift generator seeded with `seed`.
fn values(len: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 3.0
        })
        .collect()
}

/// Returns `values` rounded to bfloat16.
fn round_bf16(values: &[f32]) -> Vec<f32> {
    values
        .iter()
        .map(|&x| half::bf16::from_f32(x).to_f32())
        .collect()
}

fn to_vec<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap()
}

/// A convolution's output and the gradients of its input and weight.
#[derive(PartialEq)]
struct Results {
    output: Vec<f32>,
    grad_x: Vec<f32>,
    grad_weight: Vec<f32>,
}

/// Convolves `x` with `w` computing in `dtype`, and differentiates `sum(output · seed)`
/// (`seed` all ones when `None`).
fn convolve(
    x: (&[f32], [usize; 4]),
    w: (&[f32], [usize; 4]),
    seed: Option<&[f32]>,
    options: &ConvOptions<2>,
    dtype: Option<DType>,
) -> Results {
    let conv = |x, w| autocast(dtype, || conv2d(x, w, None, options.clone()));
    convolve_with(conv, x, w, seed)
}

/// Runs `conv` on `x` and `w` on Flex with autodiff, and differentiates `sum(output ·
/// seed)` (`seed` all ones when `None`).
fn convolve_with(
    conv: impl Fn(Tensor<4>, Tensor<4>) -> Tensor<4>,
    (x, input_shape): (&[f32], [usize; 4]),
    (w, weight_shape): (&[f32], [usize; 4]),
    seed: Option<&[f32]>,
) -> Results {
    let device = Device::flex().autodiff();
    let x =
        Tensor::<4>::from_data(TensorData::new(x.to_vec(), input_shape), &device).require_grad();
    let w =
        Tensor::<4>::from_data(TensorData::new(w.to_vec(), weight_shape), &device).require_grad();
    let out = conv(x.clone(), w.clone());
    let shape = out.dims();
    let seed = match seed {
        Some(seed) => Tensor::<4>::from_data(TensorData::new(seed.to_vec(), shape), &device),
        None => Tensor::<4>::ones(shape, &device),
    };
    let grads = (out.clone() * seed).sum().backward();
    Results {
        output: to_vec(out.inner()),
        grad_x: to_vec(Tensor::<4>::from_inner(x.grad(&grads).unwrap())),
        grad_weight: to_vec(Tensor::<4>::from_inner(w.grad(&grads).unwrap())),
    }
}

/// Returns the largest difference between `a` and `b`, relative to the largest magnitude in `b`.
fn relative_error(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-30);
    a.iter()
        .zip(b)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()))
        / scale
}

/// Returns the number of output values of a convolution.
fn output_len(
    input_shape: [usize; 4],
    weight_shape: [usize; 4],
    options: &ConvOptions<2>,
) -> usize {
    let dim = |a: usize| {
        let span = options.dilation[a] * (weight_shape[2 + a] - 1) + 1;
        (input_shape[2 + a] + options.padding[a].0 + options.padding[a].1 - span)
            / options.stride[a]
            + 1
    };
    input_shape[0] * weight_shape[0] * dim(0) * dim(1)
}

#[test]
fn awkward_shapes_match_f32() {
    // Input, weight, stride, padding ((top, bottom), (left, right)) and dilation. The cases
    // cover sizes of 1, depths of 9, 32 and 33, grouped images and pointwise kernels. Two have
    // several right-operand chunks (600 channels, 140 × 130 pixels), and in one the weight
    // gradient adds up 8 images.
    type Case = (
        [usize; 4],
        [usize; 4],
        [usize; 2],
        [(usize, usize); 2],
        [usize; 2],
    );
    // With f32 sums, as on the AMX tiles, rounding the operands first leaves only the sums'
    // rounding. Burn's bfloat16 conv2d also rounds each output to bfloat16 (2⁻⁹ relative).
    let rounded_tolerance = if bf16_on_amx() { 1e-4 } else { 1e-2 };
    let cases: Vec<Case> = vec![
        ([1, 1, 1, 1], [1, 1, 1, 1], [1, 1], [(0, 0); 2], [1, 1]),
        ([1, 1, 5, 7], [1, 1, 3, 3], [1, 1], [(1, 1); 2], [1, 1]),
        (
            [2, 3, 10, 9],
            [5, 3, 3, 2],
            [1, 1],
            [(2, 1), (1, 0)],
            [2, 1],
        ),
        ([3, 5, 9, 9], [7, 5, 3, 3], [2, 2], [(1, 1); 2], [1, 1]),
        ([7, 33, 4, 4], [33, 33, 1, 1], [1, 1], [(0, 0); 2], [1, 1]),
        ([1, 33, 23, 23], [17, 33, 1, 1], [1, 1], [(0, 0); 2], [1, 1]),
        ([2, 6, 7, 7], [5, 6, 1, 1], [2, 2], [(0, 0); 2], [1, 1]),
        ([1, 32, 6, 6], [32, 32, 1, 1], [1, 1], [(0, 0); 2], [1, 1]),
        ([1, 64, 40, 40], [8, 64, 3, 3], [1, 1], [(1, 1); 2], [1, 1]),
        ([1, 4, 32, 32], [600, 4, 3, 3], [1, 1], [(1, 1); 2], [1, 1]),
        ([2, 1, 140, 130], [3, 1, 3, 3], [1, 1], [(1, 1); 2], [1, 1]),
        (
            [5, 40, 11, 11],
            [36, 40, 3, 3],
            [2, 2],
            [(0, 2), (2, 0)],
            [1, 2],
        ),
        ([1, 7, 3, 2], [3, 7, 2, 2], [3, 3], [(1, 0), (0, 1)], [1, 1]),
        ([8, 8, 24, 24], [40, 8, 3, 3], [1, 1], [(1, 1); 2], [1, 1]),
        ([9, 70, 5, 5], [65, 70, 3, 3], [1, 1], [(1, 1); 2], [1, 1]),
    ];
    for (index, (input_shape, weight_shape, stride, padding, dilation)) in
        cases.into_iter().enumerate()
    {
        let options = ConvOptions::new_with_padding(stride, padding, dilation, 1);
        let x = round_bf16(&values(input_shape.iter().product(), index as u64 + 1));
        let w = round_bf16(&values(weight_shape.iter().product(), index as u64 + 100));
        let seed = round_bf16(&values(
            output_len(input_shape, weight_shape, &options),
            index as u64 + 200,
        ));
        let exact = convolve(
            (&x, input_shape),
            (&w, weight_shape),
            Some(&seed),
            &options,
            None,
        );
        let bf16 = convolve(
            (&x, input_shape),
            (&w, weight_shape),
            Some(&seed),
            &options,
            Some(DType::BF16),
        );
        // With operands already in bfloat16 only the order of the f32 sums differs. Raw
        // operands are compared with a bfloat16-sized tolerance.
        let raw_x = values(input_shape.iter().product(), index as u64 + 1);
        let raw_w = values(weight_shape.iter().product(), index as u64 + 100);
        let raw_seed = values(
            output_len(input_shape, weight_shape, &options),
            index as u64 + 200,
        );
        let exact_raw = convolve(
            (&raw_x, input_shape),
            (&raw_w, weight_shape),
            Some(&raw_seed),
            &options,
            None,
        );
        let bf16_raw = convolve(
            (&raw_x, input_shape),
            (&raw_w, weight_shape),
            Some(&raw_seed),
            &options,
            Some(DType::BF16),
        );
        let errors = [
            (
                "output",
                relative_error(&bf16.output, &exact.output),
                relative_error(&bf16_raw.output, &exact_raw.output),
            ),
            (
                "input gradient",
                relative_error(&bf16.grad_x, &exact.grad_x),
                relative_error(&bf16_raw.grad_x, &exact_raw.grad_x),
            ),
            (
                "weight gradient",
                relative_error(&bf16.grad_weight, &exact.grad_weight),
                relative_error(&bf16_raw.grad_weight, &exact_raw.grad_weight),
            ),
        ];
        for (name, rounded, raw) in errors {
            assert!(
                rounded < rounded_tolerance,
                "case {index} {name}: {rounded} on rounded operands"
            );
            assert!(raw < 2e-2, "case {index} {name}: {raw}");
        }
    }
}

/// Classifies each value: 0 finite, 1 infinite, 2 NaN.
fn non_finite_kinds(values: &[f32]) -> Vec<u8> {
    values
        .iter()
        .map(|x| match (x.is_nan(), x.is_infinite()) {
            (true, _) => 2,
            (_, true) => 1,
            _ => 0,
        })
        .collect()
}

#[test]
fn non_finite_values_propagate() {
    // A NaN or infinity in the input or the weight must not come out finite where f32 gives
    // NaN or infinity. (A finite value above bfloat16's range rounds to infinity, so the
    // reverse can happen.)
    let options = ConvOptions::new_with_padding([1, 1], [(1, 1); 2], [1, 1], 1);
    for (input_shape, weight_shape) in [
        ([1, 3, 6, 6], [4, 3, 3, 3]),
        ([2, 40, 5, 5], [34, 40, 3, 3]),
        ([1, 40, 30, 30], [34, 40, 3, 3]),
    ] {
        for (what, at_x, value) in [
            ("nan in x", true, f32::NAN),
            ("inf in x", true, f32::INFINITY),
            ("nan in w", false, f32::NAN),
            ("inf in w", false, f32::NEG_INFINITY),
            ("huge in x", true, 3.4e38),
        ] {
            let mut x = values(input_shape.iter().product(), 3);
            let mut w = values(weight_shape.iter().product(), 4);
            if at_x {
                x[7] = value;
            } else {
                w[5] = value;
            }
            // Burn's direct convolution as the reference: fastburn's f32 kernel for these
            // shapes (Winograd's) spreads a NaN over whole output tiles.
            let direct = |x, w| burn_conv2d(x, w, None, options.clone());
            let exact = convolve_with(direct, (&x, input_shape), (&w, weight_shape), None);
            let bf16 = convolve(
                (&x, input_shape),
                (&w, weight_shape),
                None,
                &options,
                Some(DType::BF16),
            );
            for (name, half, exact) in [
                ("output", &bf16.output, &exact.output),
                ("input gradient", &bf16.grad_x, &exact.grad_x),
                ("weight gradient", &bf16.grad_weight, &exact.grad_weight),
            ] {
                let (half, exact) = (non_finite_kinds(half), non_finite_kinds(exact));
                let hidden = half
                    .iter()
                    .zip(&exact)
                    .filter(|(h, e)| **h == 0 && **e != 0);
                assert_eq!(hidden.count(), 0, "{input_shape:?} {what} {name}");
            }
        }
    }
}

/// The operands of one convolution: input values and shape, weight values and shape.
type Operands = (Vec<f32>, [usize; 4], Vec<f32>, [usize; 4]);

/// Runs [`convolve`] on `operands` under a bfloat16 autocast.
fn convolve_bf16(
    (x, input_shape, w, weight_shape): &Operands,
    options: &ConvOptions<2>,
) -> Results {
    convolve(
        (x, *input_shape),
        (w, *weight_shape),
        None,
        options,
        Some(DType::BF16),
    )
}

#[test]
fn concurrent_products_are_deterministic() {
    // Products from several threads at once, and from inside rayon's pool, share the
    // per-thread buffers and tile registers: each must give the serial result bit for bit.
    use rayon::prelude::*;
    let options = ConvOptions::new_with_padding([1, 1], [(1, 1); 2], [1, 1], 1);
    let shapes = [
        ([1, 40, 20, 20], [70, 40, 3, 3]),
        ([1, 64, 40, 40], [8, 64, 3, 3]),
        ([3, 5, 9, 9], [7, 5, 3, 3]),
        ([4, 16, 24, 24], [40, 16, 3, 3]),
    ];
    let inputs: Vec<Operands> = shapes
        .iter()
        .enumerate()
        .map(|(index, &(input_shape, weight_shape))| {
            let x = values(input_shape.iter().product(), index as u64 + 10);
            let w = values(weight_shape.iter().product(), index as u64 + 20);
            (x, input_shape, w, weight_shape)
        })
        .collect();
    let serial: Vec<Results> = inputs
        .iter()
        .map(|operands| convolve_bf16(operands, &options))
        .collect();

    for round in 0..3 {
        // From plain threads, each product itself on rayon.
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|task| {
                    let (operands, options) = (&inputs[task % inputs.len()], &options);
                    scope.spawn(move || (task, convolve_bf16(operands, options)))
                })
                .collect();
            for handle in handles {
                let (task, results) = handle.join().unwrap();
                assert!(
                    results == serial[task % inputs.len()],
                    "round {round} thread {task}"
                );
            }
        });

        // From inside rayon's pool: nested parallel products and work stealing.
        let results: Vec<(usize, Results)> = (0..8usize)
            .into_par_iter()
            .map(|task| (task, convolve_bf16(&inputs[task % inputs.len()], &options)))
            .collect();
        for (task, results) in results {
            assert!(
                results == serial[task % inputs.len()],
                "rayon round {round} task {task}"
            );
        }
    }
}

#[test]
fn folded_inference_under_autocast() {
    // Without autodiff the batch norm folds into the convolution, which follows the autocast.
    let device = Device::flex();
    let conv = Conv2dConfig::new([24, 40], [3, 3])
        .with_padding(PaddingConfig2d::Explicit(1, 0, 2, 1))
        .with_stride([2, 1])
        .init(&device);
    let bn = BatchNormConfig::new(40).init(&device);
    for shape in [[1, 24, 13, 11], [5, 24, 6, 5]] {
        let x = Tensor::<4>::from_data(
            TensorData::new(values(shape.iter().product(), 9), shape),
            &device,
        );
        let exact = conv_bn(&conv, &bn, x.clone(), None, Activation::Identity);
        let half = autocast(Some(DType::BF16), || {
            conv_bn(&conv, &bn, x.clone(), None, Activation::Identity)
        });
        let error = relative_error(&to_vec(half), &to_vec(exact));
        assert!(error > 0.0, "{shape:?}: should carry bfloat16 rounding");
        assert!(error < 2e-2, "{shape:?}: differs by {error}");
    }
}
