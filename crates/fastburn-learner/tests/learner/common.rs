//! A tiny CNN and an in-memory two-colour data set for fast learner tests.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor, TensorData};
use fastburn_vision::conv;
use fastburn_learner::{BatchIter, DataBatch, LayerGroup, LearnerData, LearnerModel};

/// conv-bn-relu twice, global average pooling and a linear head: three layer groups.
#[derive(Module, Debug)]
pub struct TinyNet {
    pub conv1: Conv2d,
    pub bn1: BatchNorm,
    pub conv2: Conv2d,
    pub bn2: BatchNorm,
    pub pool: AdaptiveAvgPool2d,
    pub head: Linear,
}

impl TinyNet {
    pub fn new(n_classes: usize, device: &Device) -> Self {
        Self {
            conv1: Conv2dConfig::new([3, 4], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .init(device),
            bn1: BatchNormConfig::new(4).init(device),
            conv2: Conv2dConfig::new([4, 8], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .init(device),
            bn2: BatchNormConfig::new(8).init(device),
            pool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            head: LinearConfig::new(8, n_classes).init(device),
        }
    }
}

fn ids(params: &[&Param<Tensor<1>>]) -> Vec<burn::module::ParamId> {
    params.iter().map(|param| param.id).collect()
}

impl LearnerModel for TinyNet {
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        // fastburn's conv2d, as the real backbones use, so mixed precision reaches it.
        let x = relu(self.bn1.forward(conv::forward(&self.conv1, images)));
        let x = relu(self.bn2.forward(conv::forward(&self.conv2, x)));
        let x: Tensor<2> = self.pool.forward(x).flatten(1, 3);
        self.head.forward(x)
    }

    fn layer_groups(&self) -> Vec<LayerGroup> {
        let conv_params = |conv: &Conv2d| {
            let mut params = vec![conv.weight.id];
            params.extend(conv.bias.as_ref().map(|bias| bias.id));
            params
        };
        let mut body0 = conv_params(&self.conv1);
        body0.extend(ids(&[&self.bn1.gamma, &self.bn1.beta]));
        let mut body1 = conv_params(&self.conv2);
        body1.extend(ids(&[&self.bn2.gamma, &self.bn2.beta]));
        let mut head = vec![self.head.weight.id];
        head.extend(self.head.bias.as_ref().map(|bias| bias.id));

        vec![
            LayerGroup {
                name: "body.0".into(),
                params: body0,
                batch_norm_params: ids(&[&self.bn1.gamma, &self.bn1.beta]),
            },
            LayerGroup {
                name: "body.1".into(),
                params: body1,
                batch_norm_params: ids(&[&self.bn2.gamma, &self.bn2.beta]),
            },
            LayerGroup {
                name: "head".into(),
                params: head,
                batch_norm_params: Vec::new(),
            },
        ]
    }
}

/// Images of `size`×`size` pixels, class 0 reddish and class 1 bluish, with noise.
pub struct ColourData {
    pub size: usize,
    pub batch_size: usize,
    pub train: Vec<(Vec<f32>, i64)>,
    pub valid: Vec<(Vec<f32>, i64)>,
    /// The `epoch` argument of every `train_batches` call, in call order.
    pub epochs_requested: std::sync::Mutex<Vec<usize>>,
}

/// A small deterministic pseudo-random generator (64-bit LCG) so tests need no rand crate.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next_f32(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32) / ((1u64 << 24) as f32)
    }
}

fn colour_image(class: i64, size: usize, rng: &mut Lcg) -> Vec<f32> {
    let mut pixels = Vec::with_capacity(3 * size * size);
    for channel in 0..3 {
        let base = match (class, channel) {
            (0, 0) | (1, 2) => 0.6,
            _ => -0.3,
        };
        for _ in 0..size * size {
            pixels.push(base + (rng.next_f32() - 0.5) * 1.6);
        }
    }
    pixels
}

impl ColourData {
    pub fn new(n_train: usize, n_valid: usize, size: usize, batch_size: usize) -> Self {
        let mut rng = Lcg(7);
        let mut make = |n: usize| -> Vec<(Vec<f32>, i64)> {
            (0..n)
                .map(|i| {
                    let class = (i % 2) as i64;
                    (colour_image(class, size, &mut rng), class)
                })
                .collect()
        };
        let train = make(n_train);
        let valid = make(n_valid);
        Self {
            size,
            batch_size,
            train,
            valid,
            epochs_requested: Default::default(),
        }
    }

    fn batches<'a>(&'a self, items: Vec<&'a (Vec<f32>, i64)>, device: &Device) -> BatchIter<'a> {
        let device = device.clone();
        let size = self.size;
        let chunks: Vec<Vec<&(Vec<f32>, i64)>> =
            items.chunks(self.batch_size).map(|chunk| chunk.to_vec()).collect();
        Box::new(chunks.into_iter().map(move |chunk| {
            let n = chunk.len();
            let pixels: Vec<f32> = chunk.iter().flat_map(|(image, _)| image.iter().copied()).collect();
            let targets: Vec<i64> = chunk.iter().map(|(_, class)| *class).collect();
            Ok(DataBatch {
                images: Tensor::from_data(TensorData::new(pixels, [n, 3, size, size]), &device),
                targets: Tensor::<1, Int>::from_data(TensorData::new(targets, [n]), &device),
            })
        }))
    }
}

impl LearnerData for ColourData {
    fn classes(&self) -> Vec<String> {
        vec!["red".into(), "blue".into()]
    }

    fn num_train_batches(&self) -> usize {
        self.train.len().div_ceil(self.batch_size)
    }

    fn num_valid_batches(&self) -> usize {
        self.valid.len().div_ceil(self.batch_size)
    }

    fn train_batches(&self, epoch: usize, device: &Device) -> BatchIter<'_> {
        self.epochs_requested.lock().unwrap().push(epoch);
        // Rotating the order per epoch is enough shuffling for these tests.
        let mut items: Vec<&(Vec<f32>, i64)> = self.train.iter().collect();
        let len = items.len();
        items.rotate_left((epoch * 3) % len.max(1));
        self.batches(items, device)
    }

    fn valid_batches(&self, device: &Device) -> BatchIter<'_> {
        self.batches(self.valid.iter().collect(), device)
    }
}

/// Returns all float values of `tensor`.
pub fn values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

/// Builds a learner over a [`TinyNet`] on colour data, with progress output off.
pub fn tiny_learner(
    n_train: usize,
    batch_size: usize,
) -> fastburn_learner::Learner<TinyNet, ColourData> {
    let device = Device::default();
    let data = ColourData::new(n_train, 16, 8, batch_size);
    let model = TinyNet::new(2, &device);
    let mut learner = fastburn_learner::Learner::with_cross_entropy(
        data,
        model,
        vec![fastburn_learner::accuracy()],
    )
    .unwrap();
    learner.show_progress = false;
    learner
}
