//! [`Learner`]: a model, its data, loss, metrics and optimizer, trained together.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::module::ParamGroup;
use burn::tensor::Device;

use crate::{
    AdamConfig, Adam, Callback, CrossEntropyLoss, LayerGroup, LearnerData, LearnerError,
    LearnerModel, Loss, Metric, Recorder,
};

/// A model trained on a data set, fastai v1's `Learner`.
///
/// The model lives on the autodiff version of its device while training; validation and
/// prediction run on a copy without autodiff.
pub struct Learner<M: LearnerModel, D: LearnerData> {
    pub(crate) data: Arc<D>,
    pub(crate) model: M,
    pub(crate) loss: Box<dyn Loss>,
    pub(crate) metrics: Vec<Box<dyn Metric>>,
    pub(crate) device: Device,
    pub(crate) opt: Adam,
    pub(crate) opt_config: AdamConfig,
    pub(crate) layer_groups: Vec<LayerGroup>,
    pub(crate) n_frozen: usize,
    pub(crate) path: PathBuf,
    pub(crate) cnn_info: Option<crate::cnn::CnnInfo>,
    /// Number of training epochs started so far, over every `fit` and `lr_find`. It seeds
    /// each epoch's shuffle and augmentations, so no two epochs see the same batches.
    pub(crate) epochs_started: usize,
    /// The dtype the convolutions compute in (see `to_bf16` / `to_fp16`).
    pub(crate) precision: crate::Precision,
    /// The dynamic loss scale of float16 training.
    pub(crate) loss_scaler: Option<crate::LossScaler>,
    /// History of the last `fit` (fastai's `learn.recorder`).
    pub recorder: Recorder,
    /// Callbacks that take part in every `fit`, after the recorder.
    pub callbacks: Vec<Box<dyn Callback>>,
    /// Whether `fit` shows a progress bar and prints the results table.
    pub show_progress: bool,
}

impl<M: LearnerModel, D: LearnerData> Learner<M, D> {
    /// Builds a learner with fastai v1's defaults: Adam (0.9, 0.99), eps 1e-8, wd 1e-2.
    ///
    /// The model is moved to the autodiff version of its device, and glibc's malloc is set to
    /// keep freed memory for the next step (see [`crate::keep_freed_memory`]). Fails when the
    /// model has no layer groups or no parameters.
    pub fn new(
        data: D,
        model: M,
        loss: impl Loss + 'static,
        metrics: Vec<Box<dyn Metric>>,
    ) -> Result<Self, LearnerError> {
        crate::keep_freed_memory();
        let device = model
            .devices()
            .first()
            .cloned()
            .ok_or_else(|| LearnerError::invalid("model", "the model has no parameters"))?
            .without_autodiff();
        let model = model.fork(&device.clone().autodiff()).train();

        let layer_groups = model.layer_groups();
        if layer_groups.is_empty() {
            return Err(LearnerError::invalid(
                "model",
                "layer_groups() returned no group; return at least one",
            ));
        }

        let opt_config = AdamConfig::new();
        let opt = Adam::new(&opt_config, layer_groups.len(), group_index(&layer_groups));
        Ok(Self {
            data: Arc::new(data),
            model,
            loss: Box::new(loss),
            metrics,
            device,
            opt,
            opt_config,
            layer_groups,
            n_frozen: 0,
            path: PathBuf::from("."),
            cnn_info: None,
            epochs_started: 0,
            precision: crate::Precision::Fp32,
            loss_scaler: None,
            recorder: Recorder::default(),
            callbacks: Vec::new(),
            show_progress: true,
        })
    }

    /// Builds a learner with cross-entropy loss, fastai's default for single-label classification.
    pub fn with_cross_entropy(
        data: D,
        model: M,
        metrics: Vec<Box<dyn Metric>>,
    ) -> Result<Self, LearnerError> {
        Self::new(data, model, CrossEntropyLoss, metrics)
    }

    /// Replaces the optimizer's hyper-parameters and resets its state.
    pub fn with_opt_config(mut self, config: AdamConfig) -> Self {
        self.opt = Adam::new(&config, self.layer_groups.len(), group_index(&self.layer_groups));
        self.opt_config = config;
        self
    }

    /// Sets the folder under which `save` writes `models/<name>`; the default is `.`.
    pub fn with_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.path = path.into();
        self
    }

    /// Returns the data set.
    pub fn data(&self) -> &D {
        &self.data
    }

    /// Returns the model, on the autodiff device, in training mode.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// Returns the device the model and batches live on, without autodiff.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The optimizer.
    pub fn opt(&self) -> &Adam {
        &self.opt
    }

    /// Returns the layer groups, as the model reported them.
    pub fn layer_groups(&self) -> &[LayerGroup] {
        &self.layer_groups
    }

    /// Returns the folder `save` and `load` work under.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of layer groups frozen, counted from the input side.
    pub fn n_frozen(&self) -> usize {
        self.n_frozen
    }

    /// Decoupled weight decay used by `fit` when none is given.
    pub fn wd(&self) -> f64 {
        self.opt_config.wd
    }

    /// Freezes every layer group before group `n` and unfreezes the rest (fastai's `freeze_to`).
    ///
    /// Frozen groups' parameters stop requiring gradients, so their weight gradients are not
    /// computed, and get no optimizer step; their batch-norm parameters keep training
    /// (fastai's `train_bn=True`). Like fastai, this starts a fresh optimizer.
    pub fn freeze_to(&mut self, n: usize) {
        let n = n.min(self.layer_groups.len());
        let mut frozen = Vec::new();
        let mut trainable = Vec::new();
        for (index, group) in self.layer_groups.iter().enumerate() {
            if index < n {
                frozen.extend(group.frozen_params());
                trainable.extend(group.batch_norm_params.iter().copied());
            } else {
                trainable.extend(group.all_params());
            }
        }

        let model = self.model.clone();
        let model = model.set_require_grad_group(ParamGroup::from_ids(trainable), true);
        self.model = model.set_require_grad_group(ParamGroup::from_ids(frozen), false);
        self.n_frozen = n;
        self.opt.reset_state();
    }

    /// Freezes every layer group but the last.
    pub fn freeze(&mut self) {
        self.freeze_to(self.layer_groups.len().saturating_sub(1));
    }

    /// Makes every layer group trainable.
    pub fn unfreeze(&mut self) {
        self.freeze_to(0);
    }
}

/// Maps every parameter id to the index of its layer group.
pub(crate) fn group_index(groups: &[LayerGroup]) -> HashMap<burn::module::ParamId, usize> {
    let mut index = HashMap::new();
    for (group_index, group) in groups.iter().enumerate() {
        for id in group.all_params() {
            index.insert(id, group_index);
        }
    }
    index
}
