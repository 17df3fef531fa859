//! Structure and forward-pass tests of EfficientNet-Lite0 that need no weight file.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};
use burn_store::ModuleSnapshot;
use fastburn_vision::efficientnet::{
    DropConnectConfig, EfficientNetError, EfficientNetLiteConfig, MbConvBlockConfig,
};

fn values(tensor: Tensor<4>) -> Vec<f32> {
    tensor.into_data().try_to_vec::<f32>().unwrap()
}

#[test]
fn block_table_matches_b0() {
    let blocks = EfficientNetLiteConfig::new().block_configs();
    assert_eq!(blocks.len(), 16);

    let strides: Vec<usize> = blocks.iter().map(|block| block.stride).collect();
    assert_eq!(strides, [1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1]);

    let kernels: Vec<usize> = blocks.iter().map(|block| block.kernel_size).collect();
    assert_eq!(kernels, [3, 3, 3, 5, 5, 3, 3, 3, 5, 5, 5, 5, 5, 5, 5, 3]);

    let outputs: Vec<usize> = blocks.iter().map(|block| block.output_channels).collect();
    let expected = [
        16, 24, 24, 40, 40, 80, 80, 80, 112, 112, 112, 192, 192, 192, 192, 320,
    ];
    assert_eq!(outputs, expected);

    assert_eq!(blocks[0].expand_ratio, 1);
    assert!(blocks[1..].iter().all(|block| block.expand_ratio == 6));

    // The rate grows linearly from 0 for the first block to 0.2 * 15 / 16 for the last.
    assert_eq!(blocks[0].drop_connect_rate, 0.0);
    assert!((blocks[15].drop_connect_rate - 0.2 * 15.0 / 16.0).abs() < 1e-12);
}

#[test]
fn residual_only_when_shape_kept() {
    let device = Device::default();
    let model = EfficientNetLiteConfig::new().init(&device).unwrap();

    let residual: Vec<bool> = model._blocks.iter().map(|block| block.residual).collect();
    let expected = [
        false, false, true, false, true, false, true, true, false, true, true, false, true, true,
        true, false,
    ];
    assert_eq!(residual, expected);

    assert!(model._blocks[0]._expand_conv.is_none());
    assert!(model._blocks[0]._bn0.is_none());
    assert!(model._blocks[1]._expand_conv.is_some());
}

#[test]
fn parameter_names_follow_pytorch_port() {
    let device = Device::default();
    let model = EfficientNetLiteConfig::new().init(&device).unwrap();
    let names: Vec<String> = model
        .collect(None, None, true)
        .into_iter()
        .map(|tensor| tensor.name)
        .collect();

    for name in [
        "_conv_stem.weight",
        "_bn0.gamma",
        "_bn0.running_var",
        "_blocks.0._depthwise_conv.weight",
        "_blocks.0._project_conv.weight",
        "_blocks.1._expand_conv.weight",
        "_blocks.1._bn0.beta",
        "_blocks.15._bn2.running_mean",
        "_conv_head.weight",
        "_bn1.gamma",
        "_fc.weight",
        "_fc.bias",
    ] {
        assert!(
            names.iter().any(|n| n == name),
            "missing {name} in {names:?}"
        );
    }

    // 5 tensors for the stem and its BN, 15 per block with expansion and 10 without, 5 for the
    // head conv and its BN, 2 for the classifier; no convolution has a bias.
    assert_eq!(names.len(), 5 + 10 + 15 * 15 + 5 + 2);
    assert!(!names.iter().any(|n| n.contains("conv.bias")));
}

#[test]
fn body_has_no_classifier() {
    let device = Device::default();
    let body = EfficientNetLiteConfig::new()
        .with_num_classes(None)
        .init(&device)
        .unwrap();
    assert!(body._fc.is_none());

    let input = Tensor::<4>::zeros([1, 3, 32, 32], &device);
    assert_eq!(body.forward(input).dims(), [1, 1280]);
}

#[test]
fn forward_shapes_round_up() {
    let device = Device::default();
    let model = EfficientNetLiteConfig::new()
        .with_num_classes(Some(7))
        .init(&device)
        .unwrap();

    // "SAME" padding gives ceil(size / stride) at each stride-2 step:
    // 65 -> 33 -> 17 -> 9 -> 5 -> 3.
    let input = Tensor::<4>::ones([2, 3, 65, 64], &device);
    assert_eq!(
        model.forward_features(input.clone()).dims(),
        [2, 1280, 3, 2]
    );
    assert_eq!(model.forward(input).dims(), [2, 7]);
}

/// Builds a one-channel block whose depthwise kernel is all ones and whose projection is the
/// identity, so its output is the depthwise sum scaled by the two batch norms.
fn summing_block(
    kernel_size: usize,
    device: &Device,
) -> fastburn_vision::efficientnet::MbConvBlock {
    let mut block = MbConvBlockConfig::new(1, 1, kernel_size, 2, 1)
        .init(device)
        .unwrap();
    block._depthwise_conv.weight =
        Param::from_tensor(Tensor::ones([1, 1, kernel_size, kernel_size], device));
    block._project_conv.weight = Param::from_tensor(Tensor::ones([1, 1, 1, 1], device));
    block
}

/// Sums `input[rows, cols]` of a row-major square image of side `side`.
fn window_sum(
    input: &[f32],
    side: usize,
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
) -> f32 {
    rows.flat_map(|r| cols.clone().map(move |c| (r, c)))
        .map(|(r, c)| input[r * side + c])
        .sum()
}

#[test]
fn stride_two_pads_bottom_right() {
    let device = Device::default();
    // Two fresh batch norms in inference mode each divide by sqrt(1 + 1e-3).
    let scale = 1.0 / (1.0 + 1e-3_f32);

    // Kernel 3 on 4x4: TensorFlow pads 0 before and 1 after; symmetric padding would pad 1 and 1.
    let input: Vec<f32> = (0..16).map(|i| 0.01 * (i + 1) as f32).collect();
    let tensor = Tensor::<4>::from_data(TensorData::new(input.clone(), [1, 1, 4, 4]), &device);
    let output = values(summing_block(3, &device).forward(tensor));
    let expected = [
        window_sum(&input, 4, 0..3, 0..3),
        window_sum(&input, 4, 0..3, 2..4),
        window_sum(&input, 4, 2..4, 0..3),
        window_sum(&input, 4, 2..4, 2..4),
    ];
    for (got, want) in output.iter().zip(expected) {
        assert!(
            (got - want * scale).abs() < 1e-5,
            "kernel 3: {output:?} vs {expected:?}"
        );
    }

    // Kernel 5 on 6x6: 3 pixels of padding, 1 before and 2 after.
    let input: Vec<f32> = (0..36).map(|i| 0.002 * (i + 1) as f32).collect();
    let tensor = Tensor::<4>::from_data(TensorData::new(input.clone(), [1, 1, 6, 6]), &device);
    let output = values(summing_block(5, &device).forward(tensor));
    assert_eq!(output.len(), 9);
    let corners = [
        (0, window_sum(&input, 6, 0..4, 0..4)),
        (2, window_sum(&input, 6, 0..4, 3..6)),
        (8, window_sum(&input, 6, 3..6, 3..6)),
    ];
    for (index, want) in corners {
        let got = output[index];
        assert!(
            (got - want * scale).abs() < 1e-5,
            "kernel 5, output {index}: {got} vs {want}"
        );
    }
}

#[test]
fn relu6_clamps_block_activations() {
    let device = Device::default();
    let block = summing_block(3, &device);

    // Every window sum is 9 * 10 = 90 or more, so ReLU6 after the depthwise BN caps it at 6,
    // and the projection BN scales the 6 once more.
    let input = Tensor::<4>::full([1, 1, 4, 4], 10.0, &device);
    let expected = 6.0 / (1.0 + 1e-3_f32).sqrt();
    for got in values(block.forward(input)) {
        assert!((got - expected).abs() < 1e-5, "{got} vs {expected}");
    }
}

#[test]
fn drop_connect_drops_whole_samples() {
    let layer = DropConnectConfig::new(0.5).init().unwrap();

    // Outside autodiff it is the identity.
    let inference = Device::default();
    let input = Tensor::<4>::ones([64, 2, 3, 3], &inference);
    assert_eq!(values(layer.forward(input)), vec![1.0; 64 * 18]);

    // In training each sample is all zeros or all 1 / (1 - 0.5) = 2.
    let training = Device::default().autodiff();
    let output = values(layer.forward(Tensor::<4>::ones([64, 2, 3, 3], &training)));
    let mut dropped = 0;
    for sample in output.chunks(18) {
        assert!(
            sample.iter().all(|&v| v == sample[0]),
            "mixed sample {sample:?}"
        );
        assert!(
            sample[0] == 0.0 || sample[0] == 2.0,
            "unexpected value {}",
            sample[0]
        );
        dropped += usize::from(sample[0] == 0.0);
    }

    // With p = 0.5 over 64 samples, 0 or 64 drops has probability 2^-63.
    assert!(dropped > 0 && dropped < 64, "dropped {dropped} of 64");

    // Frozen layers stay the identity even on an autodiff device.
    let frozen = layer.freeze();
    let output = values(frozen.forward(Tensor::<4>::ones([8, 1, 1, 1], &training)));
    assert_eq!(output, vec![1.0; 8]);
}

#[test]
fn invalid_rates_rejected() {
    let device = Device::default();

    let error = EfficientNetLiteConfig::new()
        .with_dropout(1.0)
        .init(&device)
        .unwrap_err();
    assert!(matches!(
        error,
        EfficientNetError::InvalidProbability {
            name: "dropout",
            ..
        }
    ));

    let error = EfficientNetLiteConfig::new()
        .with_drop_connect_rate(-0.1)
        .init(&device)
        .unwrap_err();
    assert!(matches!(
        error,
        EfficientNetError::InvalidProbability {
            name: "drop connect rate",
            ..
        }
    ));

    assert!(DropConnectConfig::new(f64::NAN).init().is_err());
}

/// Collects the ids of every trainable tensor: all float parameters but batch-norm running
/// statistics, which the forward pass updates instead of the optimizer.
#[derive(Default)]
struct TrainableIds {
    fields: Vec<String>,
    ids: Vec<burn::module::ParamId>,
}

impl burn::module::ModuleVisitor for TrainableIds {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.fields.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.fields.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let field = self.fields.last().map(String::as_str).unwrap_or("");
        if !field.starts_with("running_") {
            self.ids.push(param.id);
        }
    }
}

fn trainable_ids<M: Module>(module: &M) -> Vec<burn::module::ParamId> {
    let mut visitor = TrainableIds::default();
    module.visit(&mut visitor);
    visitor.ids
}

#[test]
fn layer_groups_split_blocks_in_half() {
    let device = Device::default();

    for num_classes in [Some(1000), None] {
        let model = EfficientNetLiteConfig::new()
            .with_num_classes(num_classes)
            .init(&device)
            .unwrap();
        let [early, late] = model.layer_groups();

        // Stem conv and BN (3), block 0 (2 convs, 2 BNs: 6), blocks 1..=7 (3 convs, 3 BNs: 9 each).
        assert_eq!(early.params.len(), 3 + 6 + 7 * 9);
        assert_eq!(early.batch_norm_params.len(), 2 + 4 + 7 * 6);
        assert!(early.name.contains("stem"), "{}", early.name);

        // Blocks 8..=15 (9 each), head conv and BN (3), classifier weight and bias (2).
        let classifier = if num_classes.is_some() { 2 } else { 0 };
        assert_eq!(late.params.len(), 8 * 9 + 3 + classifier);
        assert_eq!(late.batch_norm_params.len(), 8 * 6 + 2);
        assert!(late.name.contains("head conv"), "{}", late.name);

        // Together the groups are every trainable tensor, each once.
        let mut grouped: Vec<_> = early.params.iter().chain(&late.params).copied().collect();
        let mut all = trainable_ids(&model);
        grouped.sort_by_key(|id| id.val());
        all.sort_by_key(|id| id.val());
        let before_dedup = grouped.len();
        grouped.dedup();
        assert_eq!(grouped.len(), before_dedup, "a parameter is in both groups");
        assert_eq!(grouped, all);
    }
}
