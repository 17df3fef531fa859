//! Parameter groups for discriminative learning rates and freezing.

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::tensor::Tensor;

/// A set of trainable parameters that share a learning rate and are frozen together.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerGroup {
    /// Readable name (`body: conv1..layer2`).
    pub name: String,
    /// Every trainable parameter in the group. Batch-norm running statistics are buffers,
    /// not parameters, and are not listed.
    pub params: Vec<ParamId>,
    /// The batch-norm weights and biases among `params`, which fastai keeps trainable
    /// when the group is frozen (`train_bn`).
    pub batch_norm_params: Vec<ParamId>,
}

impl LayerGroup {
    /// Creates an empty group.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            params: Vec::new(),
            batch_norm_params: Vec::new(),
        }
    }

    /// Adds the trainable parameters of `module`.
    pub fn add<M: Module>(&mut self, module: &M) {
        let mut collector = Collector {
            group: self,
            containers: Vec::new(),
            fields: Vec::new(),
        };
        module.visit(&mut collector);
    }
}

struct Collector<'a> {
    group: &'a mut LayerGroup,
    containers: Vec<String>,
    fields: Vec<String>,
}

impl ModuleVisitor for Collector<'_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.containers.push(container_type.to_string());
        self.fields.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.containers.pop();
        self.fields.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let in_batch_norm = self
            .containers
            .last()
            .is_some_and(|c| c == "Struct:BatchNorm");
        let field = self.fields.last().map(String::as_str).unwrap_or("");

        // Running statistics are visited like parameters but are updated by the forward
        // pass, never by the optimizer.
        if in_batch_norm && field.starts_with("running_") {
            return;
        }

        self.group.params.push(param.id);
        if in_batch_norm {
            self.group.batch_norm_params.push(param.id);
        }
    }
}
