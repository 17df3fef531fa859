//! fastai v1's classifier head (`create_head`): pooling, then batch norm / dropout /
//! linear blocks.

use burn::config::Config;
use burn::module::{Initializer, Module};
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::module::adaptive_avg_pool2d;
use burn::tensor::{Device, Tensor};

/// Hyper-parameters of fastai's `create_head`.
#[derive(Config, Debug)]
pub struct HeadConfig {
    /// Features entering the head after pooling: twice the body's channels with
    /// `concat_pool` (1024 for ResNet34), else the body's channels.
    pub nf: usize,
    /// Number of classes.
    pub n_classes: usize,
    /// Hidden layer sizes; `None` is fastai's default, one hidden layer of 512.
    #[config(default = "None")]
    pub lin_ftrs: Option<Vec<usize>>,
    /// Dropout per linear layer. One value `p` means fastai's default spread:
    /// `p / 2` before every hidden layer and `p` before the last.
    #[config(default = "vec![0.5]")]
    pub ps: Vec<f64>,
    /// Pool with both max and average (fastai's `AdaptiveConcatPool2d`) rather than
    /// average only.
    #[config(default = true)]
    pub concat_pool: bool,
    /// Add a batch norm (momentum 0.01) after the last linear layer.
    #[config(default = false)]
    pub bn_final: bool,
}

/// One `bn_drop_lin` block: batch norm, dropout, linear, then ReLU except after the last.
#[derive(Module, Debug)]
pub struct HeadBlock {
    /// Batch norm over the block's input features.
    pub bn: BatchNorm,
    /// Dropout, absent when its probability is 0.
    pub dropout: Option<Dropout>,
    /// The linear layer, Kaiming-normal initialised with a zero bias as fastai does.
    pub linear: Linear,
    /// Whether a ReLU follows (every block but the last).
    pub relu: bool,
}

/// fastai's head: pooling, flatten, then [`HeadBlock`]s and an optional final batch norm.
#[derive(Module, Debug)]
pub struct Head {
    /// Whether pooling concatenates max and average (max first, as fastai does).
    pub concat_pool: bool,
    /// The `bn_drop_lin` blocks.
    pub blocks: Vec<HeadBlock>,
    /// The optional final batch norm.
    pub bn_final: Option<BatchNorm>,
}

/// Error for a head configuration fastai would reject.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid head configuration: {0}")]
pub struct HeadConfigError(pub String);

impl HeadConfig {
    /// Layer sizes from the pooled features to the classes, as fastai computes them.
    pub fn layer_sizes(&self) -> Vec<usize> {
        let hidden = self.lin_ftrs.clone().unwrap_or_else(|| vec![512]);
        let mut sizes = vec![self.nf];
        sizes.extend(hidden);
        sizes.push(self.n_classes);
        sizes
    }

    /// Dropout probability before each linear layer.
    pub fn dropouts(&self) -> Result<Vec<f64>, HeadConfigError> {
        let layers = self.layer_sizes().len() - 1;
        let ps = match self.ps.as_slice() {
            [p] => {
                let mut ps = vec![p / 2.0; layers - 1];
                ps.push(*p);
                ps
            }
            ps if ps.len() == layers => ps.to_vec(),
            ps => {
                return Err(HeadConfigError(format!(
                    "ps has {} values but the head has {layers} linear layers",
                    ps.len()
                )));
            }
        };

        if let Some(p) = ps.iter().find(|p| !(0.0..1.0).contains(*p)) {
            return Err(HeadConfigError(format!("dropout {p} is outside [0, 1)")));
        }
        Ok(ps)
    }

    /// Creates the head.
    pub fn init(&self, device: &Device) -> Result<Head, HeadConfigError> {
        let sizes = self.layer_sizes();
        if sizes.contains(&0) {
            return Err(HeadConfigError(format!("layer sizes {sizes:?} contain 0")));
        }
        let ps = self.dropouts()?;
        let last = sizes.len() - 2;

        let blocks = sizes
            .windows(2)
            .zip(ps)
            .enumerate()
            .map(|(index, (pair, p))| HeadBlock {
                bn: BatchNormConfig::new(pair[0]).init(device),
                dropout: (p > 0.0).then(|| DropoutConfig::new(p).init()),
                linear: kaiming_linear(pair[0], pair[1], device),
                relu: index != last,
            })
            .collect();
        let bn_final = self.bn_final.then(|| {
            BatchNormConfig::new(self.n_classes)
                .with_momentum(0.01)
                .init(device)
        });

        Ok(Head {
            concat_pool: self.concat_pool,
            blocks,
            bn_final,
        })
    }
}

/// fastai initialises head linears with `kaiming_normal_` (fan-in, gain √2) and zero bias.
fn kaiming_linear(inputs: usize, outputs: usize, device: &Device) -> Linear {
    let mut linear = LinearConfig::new(inputs, outputs)
        .with_initializer(Initializer::KaimingNormal {
            gain: std::f64::consts::SQRT_2,
            fan_out_only: false,
        })
        .init(device);
    linear.bias = linear
        .bias
        .map(|bias| bias.map(|tensor| tensor.zeros_like()));
    linear
}

impl Head {
    /// Maps body features `[batch, channels, h, w]` to logits `[batch, n_classes]`.
    pub fn forward(&self, features: Tensor<4>) -> Tensor<2> {
        let pooled = if self.concat_pool {
            let max = adaptive_max_pool(features.clone());
            let avg = adaptive_avg_pool2d(features, [1, 1]);
            Tensor::cat(vec![max, avg], 1)
        } else {
            adaptive_avg_pool2d(features, [1, 1])
        };
        let mut x = pooled.flatten::<2>(1, 3);

        for block in &self.blocks {
            x = block.bn.forward(x);
            if let Some(dropout) = &block.dropout {
                x = dropout.forward(x);
            }
            x = block.linear.forward(x);
            if block.relu {
                x = relu(x);
            }
        }

        match &self.bn_final {
            Some(bn) => bn.forward(x),
            None => x,
        }
    }
}

/// Global max pooling to `[batch, channels, 1, 1]`.
fn adaptive_max_pool(features: Tensor<4>) -> Tensor<4> {
    let [batch, channels, height, width] = features.dims();
    features
        .reshape([batch, channels, height * width])
        .max_dim(2)
        .reshape([batch, channels, 1, 1])
}
