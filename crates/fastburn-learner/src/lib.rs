//! fastai v1's training loop on Burn: a [`Learner`] with [`fit`](Learner::fit) and
//! [`fit_one_cycle`](Learner::fit_one_cycle), discriminative learning rates ([`Lr::slice`]),
//! [`freeze`](Learner::freeze)/[`unfreeze`](Learner::unfreeze), the learning-rate finder and
//! callbacks.

mod allocator;
mod callback;
pub mod callbacks;
mod cnn;
mod data;
mod error;
mod export;
mod fit;
mod grads;
mod io;
mod learner;
mod loss;
mod lr;
mod lr_finder;
mod metrics;
mod model;
mod one_cycle;
mod optimizer;
mod plot;
mod precision;
mod preds;
mod progress;
mod recorder;
mod recorder_plots;
mod save;
pub mod schedule;
mod validate;

pub use allocator::{MALLOC_ENV, keep_freed_memory};
pub use callback::{Callback, CallbackResult, EpochMetrics, LearnerRequest, TrainState};
pub use cnn::{CnnLearner, cnn_learner};
pub use data::{BatchIter, DataBatch, DataSourceError, LearnerData};
pub use error::LearnerError;
pub use export::{InferenceLearner, Prediction, load_learner};
pub use grads::ParamGrads;
pub use learner::Learner;
pub use loss::{CrossEntropyLoss, Loss};
pub use lr::{DEFAULT_LR, Lr};
pub use lr_finder::{LRFinder, LrFindConfig, steepest_descent_lr};
pub use metrics::{Accuracy, ErrorRate, Metric, accuracy, error_rate};
pub use model::{LayerGroup, LearnerModel};
pub use one_cycle::{OneCycleConfig, OneCycleScheduler};
pub use optimizer::{Adam, AdamConfig, AdamParamState};
pub use precision::{LossScaler, Precision};
pub use preds::Preds;
pub use progress::{ProgressCallback, format_table_header, format_table_row};
pub use recorder::Recorder;
