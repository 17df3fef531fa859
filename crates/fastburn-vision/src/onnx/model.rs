//! ONNX `ModelProto` → graph nodes, initializers and attributes.
//!
//! Field numbers are those of `onnx.proto` (ONNX 1.x): they are fixed by the format.

use std::collections::BTreeMap;

use super::wire::{Field, Fields, push_floats, push_int64s, string};
use crate::weights::WeightTensor;

/// An ONNX graph: its nodes in the file's (topological) order and its constant tensors.
#[derive(Debug, Default)]
pub struct Graph {
    /// The computation nodes.
    pub nodes: Vec<Node>,
    /// Initializers and `Constant` node values, by name.
    pub initializers: BTreeMap<String, WeightTensor>,
    /// Names of the graph inputs (initializers may be listed here too).
    pub inputs: Vec<String>,
}

/// One operator application.
#[derive(Debug, Default, Clone)]
pub struct Node {
    /// Operator name: `Conv`, `BatchNormalization`, `Gemm`, ...
    pub op_type: String,
    /// Node name (may be empty).
    pub name: String,
    /// Input tensor names.
    pub inputs: Vec<String>,
    /// Output tensor names.
    pub outputs: Vec<String>,
    /// Attributes by name.
    pub attributes: BTreeMap<String, Attribute>,
}

/// The value of a node attribute. Only the kinds the ResNet loader reads are kept.
#[derive(Debug, Clone, PartialEq)]
pub enum Attribute {
    /// `INT`.
    Int(i64),
    /// `FLOAT`.
    Float(f32),
    /// `INTS`.
    Ints(Vec<i64>),
    /// `FLOATS`.
    Floats(Vec<f32>),
    /// `TENSOR` (the `value` of a `Constant` node).
    Tensor(WeightTensor),
    /// Any other kind (strings, graphs, ...).
    Other,
}

impl Node {
    /// Returns the integer attribute `name`, or `default` when absent.
    pub fn int(&self, name: &str, default: i64) -> i64 {
        match self.attributes.get(name) {
            Some(Attribute::Int(value)) => *value,
            _ => default,
        }
    }

    /// Returns the float attribute `name`, or `default` when absent.
    pub fn float(&self, name: &str, default: f32) -> f32 {
        match self.attributes.get(name) {
            Some(Attribute::Float(value)) => *value,
            _ => default,
        }
    }
}

/// ONNX `TensorProto.DataType` values this reader converts to `f32`.
const FLOAT: i64 = 1;
const INT32: i64 = 6;
const INT64: i64 = 7;
const FLOAT16: i64 = 10;
const DOUBLE: i64 = 11;
const BFLOAT16: i64 = 16;

/// Parses a whole `ModelProto` and returns its main graph.
pub fn parse_model(bytes: &[u8]) -> Result<Graph, String> {
    let mut graph = None;

    for field in Fields::new(bytes) {
        // ModelProto.graph = 7.
        if let Field::Bytes(7, message) = field? {
            graph = Some(parse_graph(message)?);
        }
    }

    graph.ok_or_else(|| "the model has no graph".to_string())
}

fn parse_graph(bytes: &[u8]) -> Result<Graph, String> {
    let mut graph = Graph::default();

    for field in Fields::new(bytes) {
        match field? {
            Field::Bytes(1, message) => graph.nodes.push(parse_node(message)?),
            Field::Bytes(5, message) => {
                let (name, tensor) = parse_tensor(message)?;
                graph.initializers.insert(name, tensor);
            }
            Field::Bytes(11, message) => graph.inputs.push(value_info_name(message)?),
            _ => {}
        }
    }

    // A `Constant` node is an initializer written as an operator; some exporters store
    // weights that way.
    for node in &graph.nodes {
        if node.op_type == "Constant"
            && let (Some(Attribute::Tensor(tensor)), Some(output)) =
                (node.attributes.get("value"), node.outputs.first())
        {
            graph.initializers.insert(output.clone(), tensor.clone());
        }
    }

    Ok(graph)
}

fn value_info_name(bytes: &[u8]) -> Result<String, String> {
    for field in Fields::new(bytes) {
        let field = field?;
        if field.number() == 1 {
            return string(field);
        }
    }
    Ok(String::new())
}

fn parse_node(bytes: &[u8]) -> Result<Node, String> {
    let mut node = Node::default();

    for field in Fields::new(bytes) {
        let field = field?;
        match field.number() {
            1 => node.inputs.push(string(field)?),
            2 => node.outputs.push(string(field)?),
            3 => node.name = string(field)?,
            4 => node.op_type = string(field)?,
            5 => {
                if let Field::Bytes(_, message) = field {
                    let (name, value) = parse_attribute(message)?;
                    node.attributes.insert(name, value);
                }
            }
            _ => {}
        }
    }

    Ok(node)
}

fn parse_attribute(bytes: &[u8]) -> Result<(String, Attribute), String> {
    let mut name = String::new();
    let mut kind = 0;
    let (mut int, mut float, mut tensor) = (0i64, 0f32, None);
    let (mut ints, mut floats) = (Vec::new(), Vec::new());

    for field in Fields::new(bytes) {
        let field = field?;
        match (field.number(), field) {
            (1, _) => name = string(field)?,
            (2, Field::Fixed32(_, b)) => float = f32::from_le_bytes(b),
            (3, Field::Varint(_, v)) => int = v as i64,
            (5, Field::Bytes(_, message)) => tensor = Some(parse_tensor(message)?.1),
            (7, _) => push_floats(field, &mut floats)?,
            (8, _) => push_int64s(field, &mut ints)?,
            (20, Field::Varint(_, v)) => kind = v,
            _ => {}
        }
    }

    // AttributeProto.AttributeType: FLOAT = 1, INT = 2, TENSOR = 4, FLOATS = 6, INTS = 7.
    let value = match kind {
        1 => Attribute::Float(float),
        2 => Attribute::Int(int),
        4 => tensor.map(Attribute::Tensor).unwrap_or(Attribute::Other),
        6 => Attribute::Floats(floats),
        7 => Attribute::Ints(ints),
        _ => Attribute::Other,
    };
    Ok((name, value))
}

/// Parses a `TensorProto` into its name and `f32` values.
fn parse_tensor(bytes: &[u8]) -> Result<(String, WeightTensor), String> {
    let mut name = String::new();
    let mut dims = Vec::new();
    let mut data_type = 0i64;
    let mut raw: Option<&[u8]> = None;
    let mut floats = Vec::new();
    let mut int64s = Vec::new();
    let mut doubles = Vec::new();
    let mut external = false;

    for field in Fields::new(bytes) {
        let field = field?;
        match (field.number(), field) {
            (1, _) => push_int64s(field, &mut dims)?,
            (2, Field::Varint(_, v)) => data_type = v as i64,
            (4, _) => push_floats(field, &mut floats)?,
            (5, _) | (7, _) => push_int64s(field, &mut int64s)?,
            (8, _) => name = string(field)?,
            (9, Field::Bytes(_, bytes)) => raw = Some(bytes),
            (10, Field::Bytes(_, packed)) => doubles.extend(
                packed
                    .chunks_exact(8)
                    .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32),
            ),
            (14, Field::Varint(_, 1)) => external = true,
            _ => {}
        }
    }

    if external {
        return Err(format!(
            "tensor `{name}` keeps its data in an external file, which is not supported"
        ));
    }

    let shape: Vec<usize> = dims
        .iter()
        .map(|d| usize::try_from(*d).map_err(|_| format!("tensor `{name}` has a negative dim")))
        .collect::<Result<_, _>>()?;
    let values = match raw {
        Some(raw) => raw_to_f32(data_type, raw)
            .ok_or_else(|| format!("tensor `{name}` has unsupported data type {data_type}"))?,
        None if !floats.is_empty() => floats,
        None if !doubles.is_empty() => doubles,
        None => int64s.iter().map(|v| *v as f32).collect(),
    };

    let tensor = WeightTensor::new(shape.clone(), values)
        .ok_or_else(|| format!("tensor `{name}` has the wrong number of elements for {shape:?}"))?;
    Ok((name, tensor))
}

/// Converts `raw_data` (little-endian, as ONNX specifies) to `f32`.
fn raw_to_f32(data_type: i64, raw: &[u8]) -> Option<Vec<f32>> {
    let values = match data_type {
        FLOAT => raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect(),
        DOUBLE => raw
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
            .collect(),
        FLOAT16 => raw
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes(b.try_into().expect("2 bytes")).to_f32())
            .collect(),
        BFLOAT16 => raw
            .chunks_exact(2)
            .map(|b| half::bf16::from_le_bytes(b.try_into().expect("2 bytes")).to_f32())
            .collect(),
        INT64 => raw
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")) as f32)
            .collect(),
        INT32 => raw
            .chunks_exact(4)
            .map(|b| i32::from_le_bytes(b.try_into().expect("4 bytes")) as f32)
            .collect(),
        _ => return None,
    };
    Some(values)
}
