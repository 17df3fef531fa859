//! EfficientNet-Lite0 as a `create_cnn` backbone: its `Arch` facts, the pretrained body with
//! fastai's head, and the layer groups.

mod common;

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::tensor::{Device, Tensor, TensorData};
use fastburn_vision::efficientnet::{EfficientNetLiteConfig, LITE0_WEIGHTS_FILE};
use fastburn_vision::weights::read_tensors;
use fastburn_vision::{Arch, Body, HeadConfig, create_cnn};

/// Collects the ids of every trainable tensor: all float parameters except batch-norm running
/// statistics.
#[derive(Default)]
struct TrainableIds {
    fields: Vec<String>,
    ids: Vec<ParamId>,
}

impl ModuleVisitor for TrainableIds {
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

fn sorted_trainable_ids<M: Module>(module: &M) -> Vec<ParamId> {
    let mut visitor = TrainableIds::default();
    module.visit(&mut visitor);
    visitor.ids.sort_by_key(|id| id.val());
    visitor.ids
}

fn values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor.into_data().try_to_vec::<f32>().unwrap()
}

#[test]
fn arch_reports_lite0_facts() {
    let arch = Arch::EfficientNetLite0;

    assert_eq!(arch.name(), "efficientnet-lite0");
    assert_eq!(arch.body_channels(), 1280);
    assert_eq!(arch.weight_file_names(), [LITE0_WEIGHTS_FILE]);
    assert_eq!(LITE0_WEIGHTS_FILE, "efficientnet-lite0-57934424.pth");
    assert!(arch.resnet_config().is_none());

    // On the 0..1 scale, pixel values 0, 127 and 255 must map to (x - 127) / 128.
    let mut pixels: Vec<f32> = [0.0, 127.0, 255.0]
        .repeat(3)
        .iter()
        .map(|v| v / 255.0)
        .collect();
    arch.norm_stats().normalize(&mut pixels);
    let expected = [-127.0 / 128.0, 0.0, 1.0].repeat(3);
    for (got, want) in pixels.iter().zip(&expected) {
        assert!((got - want).abs() < 1e-6, "{pixels:?} vs {expected:?}");
    }

    // ResNets keep ImageNet statistics.
    assert_ne!(Arch::ResNet34.norm_stats(), arch.norm_stats());
}

#[test]
fn pretrained_body_gets_fastai_head() {
    let device = Device::default();
    let weights = common::shared_dir()
        .join("weights")
        .join(LITE0_WEIGHTS_FILE);
    let model = create_cnn(
        Arch::EfficientNetLite0,
        3,
        Some(&weights),
        &HeadConfig::new(0, 0),
        &device,
    )
    .unwrap();

    let Body::EfficientNetLite(body) = &model.body else {
        panic!("EfficientNetLite0 builds an EfficientNet-Lite body");
    };
    assert!(body._fc.is_none());

    // Concat pooling doubles the 1280 body channels, and fastai's hidden layer has 512.
    assert_eq!(model.head.blocks[0].linear.weight.dims(), [2560, 512]);
    assert_eq!(model.head.blocks[1].linear.weight.dims(), [512, 3]);

    // The body reproduces PyTorch's features, so the ImageNet weights came through.
    let expected =
        read_tensors(&common::fixture("efficientnet-lite0-expected.safetensors")).unwrap();
    let input = expected.get("input").unwrap();
    let input = Tensor::<4>::from_data(
        TensorData::new(input.values.clone(), [2, 3, 224, 224]),
        &device,
    );
    let features = values(model.body.forward(input.clone()));
    let want = &expected.get("features").unwrap().values;
    let scale = want.iter().fold(0.0_f32, |max, v| max.max(v.abs()));
    let diff = features
        .iter()
        .zip(want)
        .fold(0.0_f32, |max, (g, w)| max.max((g - w).abs()));
    assert!(
        diff / scale <= 1e-4,
        "features differ by {:e} relative",
        diff / scale
    );

    assert_eq!(model.forward(input).dims(), [2, 3]);
}

#[test]
fn cnn_layer_groups_cover_once() {
    let device = Device::default();
    let model = create_cnn(
        Arch::EfficientNetLite0,
        5,
        None,
        &HeadConfig::new(0, 0),
        &device,
    )
    .unwrap();
    let groups = model.layer_groups();
    assert_eq!(groups.len(), 3);

    // Stem and blocks 0..=7, then blocks 8..=15 and the head conv.
    assert_eq!(groups[0].params.len(), 72);
    assert_eq!(groups[1].params.len(), 75);
    assert_eq!(groups[2].name, "head");
    assert_eq!(
        groups[2].params.len(),
        sorted_trainable_ids(&model.head).len()
    );

    let mut grouped: Vec<ParamId> = groups.iter().flat_map(|g| g.params.clone()).collect();
    grouped.sort_by_key(|id| id.val());
    let count = grouped.len();
    grouped.dedup();
    assert_eq!(grouped.len(), count, "a parameter is in two groups");
    assert_eq!(grouped, sorted_trainable_ids(&model));

    // The network without classifier is the same body `create_cnn` builds.
    let body = EfficientNetLiteConfig::new()
        .with_num_classes(None)
        .init(&device)
        .unwrap();
    assert_eq!(
        sorted_trainable_ids(&body).len(),
        groups[0].params.len() + groups[1].params.len()
    );
}

#[test]
fn unpretrained_body_runs_small_images() {
    let device = Device::default();
    let model = create_cnn(
        Arch::EfficientNetLite0,
        2,
        None,
        &HeadConfig::new(0, 0),
        &device,
    )
    .unwrap();

    let images = Tensor::<4>::ones([2, 3, 64, 64], &device);
    assert_eq!(model.body.forward(images.clone()).dims(), [2, 1280, 2, 2]);
    assert_eq!(model.forward(images).dims(), [2, 2]);
}

#[test]
fn gradients_reach_stem_in_training() {
    let device = Device::default().autodiff();
    let model = create_cnn(
        Arch::EfficientNetLite0,
        2,
        None,
        &HeadConfig::new(0, 0),
        &device,
    )
    .unwrap();
    let Body::EfficientNetLite(body) = &model.body else {
        panic!("EfficientNetLite0 builds an EfficientNet-Lite body");
    };

    // Two images, because training-mode batch norm in the head needs more than one sample.
    let images = Tensor::<4>::random(
        [2, 3, 32, 32],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &device,
    );
    let gradients = model.forward(images).powi_scalar(2).sum().backward();

    let stem = body
        ._conv_stem
        .weight
        .grad(&gradients)
        .expect("stem weight has a gradient");
    let norm: f32 = values(stem).iter().map(|g| g * g).sum();
    assert!(norm.is_finite(), "stem gradient norm {norm}");
    assert!(norm > 0.0, "stem gradient is zero");

    let depthwise = body._blocks[15]._depthwise_conv.weight.grad(&gradients);
    assert!(depthwise.is_some(), "last depthwise conv has no gradient");
}
