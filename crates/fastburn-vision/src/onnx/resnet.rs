//! Mapping an ONNX ResNet graph onto torchvision names by topology.
//!
//! Initializer names cannot be trusted: exporters that fold batch norm into the
//! convolutions name them `onnx::Conv_345`. The graph structure is fixed by the network,
//! though. It has a stem convolution, then one `Add` per residual block. Each input of an
//! `Add` traces back to the block's input through Conv, BatchNormalization and Relu nodes.
//! The branch with more convolutions is the main path, and the other is the downsample
//! path, which may be empty.
//! Blocks are assigned to `layer1..layer4` in graph order using the config's block counts.
//!
//! NOTE: convolution strides and pads are not compared with the model's; a graph with the
//! right kernels and block counts but different strides would load without an error.

use std::collections::HashMap;
use std::path::Path;

use super::model::{Graph, Node, parse_model};
use crate::resnet::{BlockKind, ResNetConfig};
use crate::weights::{TensorMap, WeightTensor, WeightsError};

/// Batch-norm epsilon of torchvision's ResNets; an identity batch norm stores
/// `running_var = 1 - EPSILON` so that `sqrt(running_var + epsilon)` is exactly 1.
const EPSILON: f32 = 1e-5;

/// An ONNX ResNet's weights under torchvision names.
#[derive(Debug)]
pub struct OnnxResNet {
    /// The tensors, named as in a torchvision `state_dict`.
    pub tensors: TensorMap,
    /// Whether the exporter folded batch norm into the convolutions. The batch norms are
    /// then identities carrying the folded bias, so the network computes the same
    /// function, but fine-tuning it is not equivalent to fine-tuning the original.
    pub batch_norm_folded: bool,
}

/// Reads an ONNX ResNet built as `config` describes and names its weights as torchvision.
pub fn read_onnx_resnet(
    path: &Path,
    bytes: &[u8],
    config: &ResNetConfig,
) -> Result<OnnxResNet, WeightsError> {
    let invalid = |message: String| WeightsError::InvalidOnnx {
        path: path.to_path_buf(),
        message,
    };
    let graph = parse_model(bytes).map_err(invalid)?;
    let mapper = Mapper::new(&graph);
    let mut out = Output::default();

    let (stem, block_input) = mapper.stem().map_err(invalid)?;
    out.conv(&mapper, stem, "conv1", "bn1").map_err(invalid)?;

    let blocks = mapper.blocks(block_input, config.block).map_err(invalid)?;
    let expected: usize = config.layers.iter().sum();
    if blocks.len() != expected {
        return Err(invalid(format!(
            "the graph has {} residual blocks but the model expects {expected} ({:?})",
            blocks.len(),
            config.layers
        )));
    }

    let mut blocks = blocks.into_iter();
    for (stage, &count) in config.layers.iter().enumerate() {
        for index in 0..count {
            let block = blocks.next().expect("block count checked above");
            let prefix = format!("layer{}.{index}", stage + 1);

            for (number, conv) in block.main.iter().enumerate() {
                let conv_name = format!("{prefix}.conv{}", number + 1);
                let bn_name = format!("{prefix}.bn{}", number + 1);
                out.conv(&mapper, *conv, &conv_name, &bn_name)
                    .map_err(invalid)?;
            }
            if let Some(conv) = block.shortcut {
                let conv_name = format!("{prefix}.downsample.0");
                let bn_name = format!("{prefix}.downsample.1");
                out.conv(&mapper, conv, &conv_name, &bn_name)
                    .map_err(invalid)?;
            }
        }
    }

    out.fc(&mapper).map_err(invalid)?;

    if out.folded {
        log::warn!(
            "{}: batch norm is folded into the convolutions; it loads as identity batch norms, \
             which compute the same function, but fine-tuning it is not equivalent to \
             fine-tuning the original network",
            path.display()
        );
    }

    Ok(OnnxResNet {
        tensors: out.tensors,
        batch_norm_folded: out.folded,
    })
}

/// One residual block: the main-path convolutions in order, and the shortcut's.
struct BlockNodes {
    main: Vec<usize>,
    shortcut: Option<usize>,
}

/// Graph lookups by tensor name.
struct Mapper<'a> {
    graph: &'a Graph,
    producer: HashMap<&'a str, usize>,
    consumers: HashMap<&'a str, Vec<usize>>,
}

impl<'a> Mapper<'a> {
    fn new(graph: &'a Graph) -> Self {
        let mut producer = HashMap::new();
        let mut consumers: HashMap<&str, Vec<usize>> = HashMap::new();

        for (index, node) in graph.nodes.iter().enumerate() {
            for output in &node.outputs {
                producer.insert(output.as_str(), index);
            }
            for input in &node.inputs {
                consumers.entry(input.as_str()).or_default().push(index);
            }
        }

        Self {
            graph,
            producer,
            consumers,
        }
    }

    fn node(&self, index: usize) -> &'a Node {
        &self.graph.nodes[index]
    }

    /// Returns the first node of type `op` that reads `tensor`.
    fn consumer(&self, tensor: &str, op: &str) -> Option<usize> {
        self.consumers
            .get(tensor)?
            .iter()
            .copied()
            .find(|index| self.node(*index).op_type == op)
    }

    /// Returns the stem convolution and the output of the max pooling after it.
    fn stem(&self) -> Result<(usize, &'a str), String> {
        let conv = self
            .graph
            .nodes
            .iter()
            .position(|node| node.op_type == "Conv")
            .ok_or("the graph has no Conv node")?;
        let pool = self
            .graph
            .nodes
            .iter()
            .position(|node| node.op_type == "MaxPool")
            .ok_or("the graph has no MaxPool node after the stem")?;
        let output = self
            .node(pool)
            .outputs
            .first()
            .ok_or("MaxPool without output")?;
        Ok((conv, output.as_str()))
    }

    /// Finds every residual block in graph order, starting from the stem's output.
    fn blocks(&self, mut block_input: &'a str, kind: BlockKind) -> Result<Vec<BlockNodes>, String> {
        let main_convs = match kind {
            BlockKind::Basic => 2,
            BlockKind::Bottleneck => 3,
        };
        let mut blocks = Vec::new();

        for node in self.graph.nodes.iter().filter(|node| node.op_type == "Add") {
            let [left, right] = node.inputs.as_slice() else {
                continue;
            };
            // A bias added by a MatMul-based classifier is an Add with an initializer input.
            if self.graph.initializers.contains_key(left)
                || self.graph.initializers.contains_key(right)
            {
                continue;
            }

            let mut left = self.trace(left, block_input)?;
            let mut right = self.trace(right, block_input)?;
            if left.len() < right.len() {
                std::mem::swap(&mut left, &mut right);
            }
            if left.len() != main_convs || right.len() > 1 {
                return Err(format!(
                    "residual block {} has {} + {} convolutions; expected {main_convs} + 0 or 1 \
                     for {kind:?} blocks",
                    blocks.len(),
                    left.len(),
                    right.len()
                ));
            }

            blocks.push(BlockNodes {
                main: left,
                shortcut: right.first().copied(),
            });

            let output = node.outputs.first().ok_or("Add without output")?;
            let relu = self.consumer(output, "Relu").ok_or_else(|| {
                format!(
                    "residual block {} has no Relu after its Add",
                    blocks.len() - 1
                )
            })?;
            block_input = self
                .node(relu)
                .outputs
                .first()
                .ok_or("Relu without output")?;
        }

        Ok(blocks)
    }

    /// Returns the convolutions between `block_input` and `tensor`, in forward order.
    fn trace(&self, tensor: &str, block_input: &str) -> Result<Vec<usize>, String> {
        let mut convs = Vec::new();
        let mut current = tensor;

        while current != block_input {
            let index = *self.producer.get(current).ok_or_else(|| {
                format!("tensor `{current}` does not lead back to the block input")
            })?;
            let node = self.node(index);
            match node.op_type.as_str() {
                "Conv" => convs.push(index),
                "BatchNormalization" | "Relu" | "Identity" => {}
                other => return Err(format!("unexpected {other} node inside a residual block")),
            }
            current = node.inputs.first().ok_or("node without input")?;
        }

        convs.reverse();
        Ok(convs)
    }

    fn initializer(&self, node: &Node, input: usize) -> Result<&'a WeightTensor, String> {
        let name = node
            .inputs
            .get(input)
            .ok_or_else(|| format!("{} node `{}` lacks input {input}", node.op_type, node.name))?;
        self.graph
            .initializers
            .get(name)
            .ok_or_else(|| format!("`{name}` is not an initializer"))
    }
}

#[derive(Default)]
struct Output {
    tensors: TensorMap,
    folded: bool,
}

impl Output {
    /// Records a convolution's weight and its batch norm (real or identity) under
    /// torchvision names.
    fn conv(
        &mut self,
        mapper: &Mapper<'_>,
        conv: usize,
        conv_name: &str,
        bn_name: &str,
    ) -> Result<(), String> {
        let node = mapper.node(conv);
        let weight = mapper.initializer(node, 1)?;
        self.tensors
            .insert(format!("{conv_name}.weight"), weight.clone());

        let bias = match node.inputs.get(2) {
            Some(name) if !name.is_empty() => Some(mapper.initializer(node, 2)?),
            _ => None,
        };
        let output = node.outputs.first().ok_or("Conv without output")?;
        let batch_norm = mapper.consumer(output, "BatchNormalization");

        match (batch_norm, bias) {
            (Some(bn), bias) => {
                let bn = mapper.node(bn);
                let epsilon = bn.float("epsilon", EPSILON);
                if (epsilon - EPSILON).abs() > 1e-9 {
                    log::warn!(
                        "{bn_name}: ONNX epsilon {epsilon} differs from torchvision's {EPSILON}"
                    );
                }

                let mut mean = mapper.initializer(bn, 3)?.clone();
                // BN(x + b) normalises with mean - b: fold a convolution bias into the mean.
                if let Some(bias) = bias {
                    for (m, b) in mean.values.iter_mut().zip(&bias.values) {
                        *m -= b;
                    }
                }
                self.tensors.insert(
                    format!("{bn_name}.weight"),
                    mapper.initializer(bn, 1)?.clone(),
                );
                self.tensors.insert(
                    format!("{bn_name}.bias"),
                    mapper.initializer(bn, 2)?.clone(),
                );
                self.tensors.insert(format!("{bn_name}.running_mean"), mean);
                self.tensors.insert(
                    format!("{bn_name}.running_var"),
                    mapper.initializer(bn, 4)?.clone(),
                );
            }
            (None, Some(bias)) => {
                let channels = bias.values.len();
                let filled = |value: f32| WeightTensor {
                    shape: vec![channels],
                    values: vec![value; channels],
                };
                self.tensors
                    .insert(format!("{bn_name}.weight"), filled(1.0));
                self.tensors.insert(format!("{bn_name}.bias"), bias.clone());
                self.tensors
                    .insert(format!("{bn_name}.running_mean"), filled(0.0));
                self.tensors
                    .insert(format!("{bn_name}.running_var"), filled(1.0 - EPSILON));
                self.folded = true;
            }
            (None, None) => {
                return Err(format!(
                    "convolution `{}` ({conv_name}) has neither a batch norm nor a bias",
                    node.name
                ));
            }
        }

        Ok(())
    }

    /// Records the classifier, the last `Gemm` node, as `fc`.
    fn fc(&mut self, mapper: &Mapper<'_>) -> Result<(), String> {
        let gemm = mapper
            .graph
            .nodes
            .iter()
            .rev()
            .find(|node| node.op_type == "Gemm")
            .ok_or("the graph has no Gemm node for the classifier")?;

        if gemm.float("alpha", 1.0) != 1.0
            || gemm.float("beta", 1.0) != 1.0
            || gemm.int("transA", 0) != 0
        {
            return Err(
                "the classifier Gemm uses alpha, beta or transA, which fc cannot express"
                    .to_string(),
            );
        }

        let weight = mapper.initializer(gemm, 1)?;
        // PyTorch exports `x @ W^T` with transB = 1, so W is already `[out, in]`.
        let weight = if gemm.int("transB", 0) == 1 {
            weight.clone()
        } else {
            transpose(weight)?
        };
        self.tensors.insert("fc.weight", weight);
        self.tensors
            .insert("fc.bias", mapper.initializer(gemm, 2)?.clone());
        Ok(())
    }
}

fn transpose(tensor: &WeightTensor) -> Result<WeightTensor, String> {
    let [rows, cols] = tensor.shape[..] else {
        return Err(format!(
            "classifier weight has shape {:?}, expected 2-D",
            tensor.shape
        ));
    };
    let mut values = vec![0.0; tensor.values.len()];
    for row in 0..rows {
        for col in 0..cols {
            values[col * rows + row] = tensor.values[row * cols + col];
        }
    }
    Ok(WeightTensor {
        shape: vec![cols, rows],
        values,
    })
}
