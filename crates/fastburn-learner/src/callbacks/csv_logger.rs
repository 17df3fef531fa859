//! [`CsvLogger`]: write the results table to a CSV file.

use std::io::Write;
use std::path::PathBuf;

use crate::{Callback, CallbackResult, LearnerError, TrainState};

/// Writes one line per epoch (`epoch,train_loss,valid_loss,<metrics>,time`) to a CSV file,
/// flushing after each line so the file is readable while training runs.
#[derive(Debug)]
pub struct CsvLogger {
    /// The CSV file.
    pub path: PathBuf,
    /// Append to an existing file instead of replacing it.
    pub append: bool,
    file: Option<std::fs::File>,
    epoch_start: std::time::Instant,
}

impl CsvLogger {
    /// Builds a logger writing to `path` (fastai's default name is `history.csv`).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            append: false,
            file: None,
            epoch_start: std::time::Instant::now(),
        }
    }

    fn write_line(&mut self, line: &str) -> CallbackResult {
        if let Some(file) = &mut self.file {
            writeln!(file, "{line}")
                .and_then(|()| file.flush())
                .map_err(|error| LearnerError::io(&self.path, error))?;
        }
        Ok(())
    }
}

impl Callback for CsvLogger {
    fn on_train_begin(&mut self, state: &mut TrainState) -> CallbackResult {
        let exists = self.path.exists();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(self.append)
            .truncate(!self.append)
            .open(&self.path)
            .map_err(|error| LearnerError::io(&self.path, error))?;
        self.file = Some(file);

        if !(self.append && exists) {
            let mut header = vec!["epoch".to_string(), "train_loss".into(), "valid_loss".into()];
            header.extend(state.metric_names.iter().cloned());
            header.push("time".into());
            self.write_line(&header.join(","))?;
        }
        Ok(())
    }

    fn on_epoch_begin(&mut self, _state: &mut TrainState) -> CallbackResult {
        self.epoch_start = std::time::Instant::now();
        Ok(())
    }

    fn on_epoch_end(&mut self, state: &mut TrainState) -> CallbackResult {
        let mut fields = vec![state.epoch.to_string(), format!("{:.6}", state.smooth_loss)];
        match &state.last_metrics {
            Some(results) => {
                fields.push(format!("{:.6}", results.valid_loss));
                fields.extend(results.metrics.iter().map(|value| format!("{value:.6}")));
            }
            None => fields.push(String::new()),
        }
        fields.push(format!("{:.3}", self.epoch_start.elapsed().as_secs_f64()));
        self.write_line(&fields.join(","))
    }

    fn on_train_end(&mut self, _state: &mut TrainState) -> CallbackResult {
        self.file = None;
        Ok(())
    }
}
