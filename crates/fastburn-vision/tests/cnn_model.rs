//! fastai's head, the body + head model and its layer groups.

mod common;

use std::collections::BTreeSet;

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::tensor::{Device, Distribution, Tensor};
use common::fixture;
use fastburn_vision::weights::read_tensors;
use fastburn_vision::{Arch, Body, HeadConfig, create_cnn};

/// Collects every float tensor's id with its field name.
#[derive(Default)]
struct AllParams {
    fields: Vec<String>,
    trainable: Vec<ParamId>,
    running: Vec<ParamId>,
}

impl ModuleVisitor for AllParams {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.fields.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.fields.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        match self.fields.last().map(String::as_str) {
            Some("running_mean" | "running_var") => self.running.push(param.id),
            _ => self.trainable.push(param.id),
        }
    }
}

#[test]
fn head_matches_fastai_for_three_classes() {
    let device = Device::default();
    let config = HeadConfig::new(1024, 3);
    let head = config.init(&device).unwrap();

    assert_eq!(config.layer_sizes(), vec![1024, 512, 3]);
    assert_eq!(config.dropouts().unwrap(), vec![0.25, 0.5]);
    assert_eq!(head.blocks.len(), 2);
    assert_eq!(head.blocks[0].dropout.as_ref().unwrap().prob, 0.25);
    assert_eq!(head.blocks[1].dropout.as_ref().unwrap().prob, 0.5);
    assert!(head.blocks[0].relu);
    assert!(!head.blocks[1].relu);

    // fastai's head for 1024 pooled features and 3 classes: BatchNorm1d(1024) 2048,
    // Linear(1024, 512) 524800, BatchNorm1d(512) 1024, Linear(512, 3) 1539.
    let mut params = AllParams::default();
    head.visit(&mut params);
    assert_eq!(params.trainable.len(), 8);
    let trainable: usize = [2048, 524_800, 1024, 1539].iter().sum();
    let running = 2 * 1024 + 2 * 512;
    assert_eq!(head.num_params(), trainable + running);
    assert_eq!(trainable, 529_411);
}

#[test]
fn head_bias_starts_at_zero() {
    let device = Device::default();
    let head = HeadConfig::new(16, 3).init(&device).unwrap();
    let bias = head.blocks[1].linear.bias.as_ref().unwrap().val();
    let values = bias.into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(values, vec![0.0; 3]);
}

#[test]
fn head_rejects_wrong_dropout_count() {
    let config = HeadConfig::new(1024, 3).with_ps(vec![0.1, 0.2, 0.3]);
    assert!(config.dropouts().is_err());
}

#[test]
fn cnn_forward_gives_class_logits() {
    let device = Device::default();
    let model = create_cnn(Arch::ResNet34, 3, None, &HeadConfig::new(0, 0), &device).unwrap();
    let images = Tensor::<4>::random([2, 3, 64, 64], Distribution::Normal(0.0, 1.0), &device);

    let logits = model.valid().forward(images);
    assert_eq!(logits.dims(), [2, 3]);
    assert_eq!(model.head.blocks[0].bn.gamma.dims(), [1024]);
}

#[test]
fn layer_groups_cover_params_once() {
    let device = Device::default();
    let model = create_cnn(Arch::ResNet34, 3, None, &HeadConfig::new(0, 0), &device).unwrap();
    let groups = model.layer_groups();
    assert_eq!(groups.len(), 3);

    let mut all = AllParams::default();
    model.visit(&mut all);
    let expected: BTreeSet<ParamId> = all.trainable.iter().copied().collect();

    let mut seen = BTreeSet::new();
    for group in &groups {
        for id in &group.params {
            assert!(seen.insert(*id), "{id} is in two groups");
        }
        for id in &group.batch_norm_params {
            assert!(
                group.params.contains(id),
                "{id} is a BN param outside its group"
            );
        }
    }
    assert_eq!(seen, expected);
    for id in &all.running {
        assert!(!seen.contains(id), "running statistic {id} is in a group");
    }

    // ResNet34: conv1 + bn1 + layer1 (3 blocks x 6) + layer2 (4 x 6 + 3 for downsample).
    assert_eq!(groups[0].params.len(), 1 + 2 + 18 + 27);
    assert_eq!(groups[0].batch_norm_params.len(), 2 + 12 + 18);
    // The head: 2 linears with bias, 2 batch norms.
    assert_eq!(groups[2].params.len(), 8);
    assert_eq!(groups[2].batch_norm_params.len(), 4);
}

#[test]
fn create_cnn_loads_body_weights() {
    let device = Device::default();
    let path = fixture("resnet34-random.pth");
    let model = create_cnn(
        Arch::ResNet34,
        3,
        Some(&path),
        &HeadConfig::new(0, 0),
        &device,
    )
    .unwrap();
    let file = read_tensors(&path).unwrap();

    let Body::ResNet(body) = &model.body else {
        panic!("ResNet34 builds a ResNet body");
    };
    let loaded = body.layer4[2].clone();
    let fastburn_vision::resnet::Block::Basic(block) = loaded else {
        panic!("ResNet34 has basic blocks");
    };
    let values = block
        .conv2
        .weight
        .val()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    assert_eq!(values, file.get("layer4.2.conv2.weight").unwrap().values);

    let gamma = block
        .bn2
        .gamma
        .val()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    assert_eq!(gamma, file.get("layer4.2.bn2.weight").unwrap().values);
}
