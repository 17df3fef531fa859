//! Results of a notebook run: the figures the docs record.

use std::path::PathBuf;
use std::time::Duration;

use fastburn_learner::Prediction;

use super::StageResult;

/// Results of a whole notebook run.
#[derive(Debug, Clone)]
pub struct NotebookSummary {
    /// Class names, in target order.
    pub classes: Vec<String>,
    /// Training and validation items.
    pub train_len: usize,
    /// Validation items.
    pub valid_len: usize,
    /// The three `fit_one_cycle` stages, in order.
    pub stages: Vec<StageResult>,
    /// `lr_find`'s suggestion (steepest descent of the smoothed loss), when it found one.
    pub lr_suggestion: Option<f64>,
    /// `most_confused(2)` after the first stage.
    pub most_confused_frozen: Vec<(String, String, usize)>,
    /// `most_confused(2)` after the last stage.
    pub most_confused_final: Vec<(String, String, usize)>,
    /// Confusion matrix after the last stage, rows actual and columns predicted.
    pub confusion_matrix: Vec<Vec<usize>>,
    /// The validation image `predict` ran on and the exported model's prediction for it.
    pub prediction: (PathBuf, Prediction),
    /// Every file the run wrote.
    pub outputs: Vec<PathBuf>,
    /// Wall time of the whole run.
    pub wall_time: Duration,
}
