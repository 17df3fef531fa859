//! Running the notebook's steps in order, printing what the notebook prints and collecting
//! every picture and table into the report.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::tensor::{Device, Tensor};
use fastburn_data::{DataError, ImageDataBunch};
use fastburn_interpret::{ClassificationInterpretation, InterpretError};
use fastburn_learner::{
    CnnLearner, DEFAULT_LR, LearnerError, Lr, LrFindConfig, Precision, accuracy, cnn_learner,
    load_learner,
};
use fastburn_vision::HeadConfig;

use super::{NotebookConfig, NotebookSummary, StageResult};
use crate::report::{Report, ReportError};

/// Error of a notebook run, naming the step that failed.
#[derive(Debug, thiserror::Error)]
pub enum NotebookError {
    /// Building the DataBunch or writing `show_batch` failed.
    #[error("data step failed: {0}")]
    Data(#[from] DataError),
    /// Building, training, saving or loading the learner failed.
    #[error("learner step failed: {0}")]
    Learner(#[from] LearnerError),
    /// The interpretation failed.
    #[error("interpretation failed: {0}")]
    Interpret(#[from] InterpretError),
    /// The report could not be written.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// A setting is invalid; nothing was run.
    #[error("invalid setting `{name}`: {reason}")]
    InvalidSetting {
        /// The setting, as the example's flag names it.
        name: &'static str,
        /// Reason the value is invalid, and the value to use instead.
        reason: String,
    },
    /// The output folder or a table could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Output of one step: printed when verbose, always kept for the report.
struct Notebook<'a> {
    config: &'a NotebookConfig,
    report: Report,
    outputs: Vec<PathBuf>,
}

impl Notebook<'_> {
    fn code(&mut self, code: &str) {
        if self.config.verbose {
            println!("\n>>> {code}");
        }
        self.report.code(code);
    }

    fn output(&mut self, text: String) {
        if self.config.verbose {
            println!("{text}");
        }
        self.report.output(text);
    }

    fn path(&mut self, name: &str) -> PathBuf {
        let path = self.config.out.join(name);
        self.outputs.push(path.clone());
        path
    }

    fn picture(&mut self, caption: &str, path: &Path) -> Result<(), NotebookError> {
        self.output(format!("[picture written to {}]", path.display()));
        self.report.picture(caption, path)?;
        Ok(())
    }
}

/// Runs every step of the notebook on `device` and writes the outputs into `config.out`.
pub fn run_notebook(
    config: &NotebookConfig,
    device: &Device,
) -> Result<NotebookSummary, NotebookError> {
    let started = Instant::now();
    config.check()?;
    fs::create_dir_all(&config.out).map_err(|source| NotebookError::Write {
        path: config.out.clone(),
        source,
    })?;
    remove_previous_outputs(&config.out)?;
    let mut book = Notebook {
        config,
        report: Report::new("fastburn: rock-paper-scissors, the fastai v1 notebook"),
        outputs: Vec::new(),
    };

    // Data: from_folder, classes and show_batch.
    book.report.heading("Data");
    let split = match config.valid_pct {
        Some(pct) => format!("train='.', valid_pct={pct}, "),
        None if config.valid != "valid" => format!("valid='{}', ", config.valid),
        None => String::new(),
    };
    book.code(&format!(
        "data = ImageDataBunch.from_folder(path, {split}ds_tfms=get_transforms(), size={}, bs={}).normalize({})",
        config.size,
        config.batch_size,
        if config.arch.name().starts_with("resnet") { "imagenet_stats" } else { "arch_stats" }
    ));
    let data = build_data(config)?;
    if data.num_train_batches() == 0 {
        return Err(NotebookError::InvalidSetting {
            name: "bs",
            reason: format!(
                "the training set has {} image{}, fewer than one batch of {}; lower the batch size",
                data.train_len(),
                if data.train_len() == 1 { "" } else { "s" },
                config.batch_size
            ),
        });
    }
    book.output(format!(
        "classes: {:?}\ntrain: {} items, valid: {} items",
        data.classes(),
        data.train_len(),
        data.valid_len()
    ));
    let (classes, train_len, valid_len) =
        (data.classes().to_vec(), data.train_len(), data.valid_len());
    book.code("data.show_batch(rows=3)");
    let show_batch = book.path("show_batch.png");
    data.show_batch(3, &show_batch)?;
    book.picture("show_batch: augmented training images", &show_batch)?;

    // Model: cnn_learner with the pretrained body frozen.
    book.report.heading("Model");
    let model_name = config.arch.name().replace('-', "_");
    book.code(&format!(
        "learn = cnn_learner(data, models.{model_name}, metrics=accuracy)"
    ));
    if config.weights.is_none() {
        book.output(format!(
            "NOTE: no pretrained weights: {} trains from random initialisation with the body \
             unfrozen (as fastai does without pretrained weights), so the accuracies below are \
             from-scratch numbers",
            config.arch.name()
        ));
    }
    // The seed also fixes the head's initial weights and the dropout masks, so two runs with
    // the same seed train alike, up to the order of floating-point sums across threads.
    device.seed(config.seed);
    device.clone().autodiff().seed(config.seed);
    let head = HeadConfig::new(0, 0);
    let mut learn = cnn_learner(
        data,
        config.arch,
        config.weights.as_deref(),
        &head,
        vec![accuracy()],
        device,
    )?
    .with_path(&config.out);
    if config.precision != Precision::Fp32 {
        book.code(&format!("learn = learn.to_{}()", config.precision.name()));
        learn.set_precision(config.precision)?;
    }
    learn.show_progress = config.verbose;
    book.output(model_summary(&learn));
    let model_text = book.path("model.txt");
    write_text(&model_text, &format!("{}", learn.model()))?;

    // Stage 1: fit_one_cycle(4) on the frozen body, then interpretation.
    let mut stages = Vec::new();
    book.report.heading("Training the head");
    stages.push(fit_stage(
        &mut book,
        &mut learn,
        "stage-1",
        config.frozen_epochs,
        DEFAULT_LR,
    )?);
    let most_confused_frozen = interpret(&mut book, &learn, "1")?.most_confused(2);

    // Stage 2: unfreeze and fit_one_cycle(1).
    book.report.heading("Unfreezing");
    book.code("learn.unfreeze()");
    learn.unfreeze();
    stages.push(fit_stage(
        &mut book,
        &mut learn,
        "stage-2",
        config.unfrozen_epochs,
        DEFAULT_LR,
    )?);

    // lr_find and its plot.
    book.report.heading("Learning rate finder");
    book.code("learn.lr_find(); learn.recorder.plot()");
    let lr_find_config = LrFindConfig {
        num_it: config.lr_find_iters,
        ..LrFindConfig::default()
    };
    learn.lr_find_with(lr_find_config)?;
    let lr_plot = book.path("lr_find.png");
    // fastai skips the first 10 and last 5 points. A short search (a capped smoke run, or one
    // stopped early by divergence) keeps them all, so there is still a curve to draw.
    let recorded = learn.recorder.losses.len();
    let (skip_start, skip_end) = if recorded > 10 + 5 + 1 {
        (10, 5)
    } else {
        (0, 0)
    };
    let lr_suggestion = learn.recorder.plot(&lr_plot, skip_start, skip_end)?;
    book.output(match lr_suggestion {
        Some(lr) => format!("LR Finder is complete; min numerical gradient: {lr:.2e}"),
        None => "LR Finder is complete; too few points for a suggestion".to_string(),
    });
    book.picture("lr_find: smoothed loss against learning rate", &lr_plot)?;

    // Stage 3: discriminative learning rates, then interpretation again.
    book.report.heading("Discriminative learning rates");
    let (start, stop) = config.final_lr;
    stages.push(fit_stage(
        &mut book,
        &mut learn,
        "stage-3",
        config.final_epochs,
        Lr::slice(start, stop),
    )?);
    let final_interp = interpret(&mut book, &learn, "2")?;

    // Export, load_learner and predict on one validation image.
    book.report.heading("Inference");
    book.code("learn.export(); learn = load_learner(path); learn.predict(img)");
    let export_path = book.path("export.fastburn");
    learn.export(&export_path)?;
    let inference = load_learner(&export_path, device)?;
    let image = learn
        .data()
        .valid_items()
        .first()
        .map(|item| item.path.clone())
        .ok_or_else(|| LearnerError::invalid("data", "the validation set is empty"))?;
    let prediction = inference.predict(&image)?;
    book.output(format!(
        "{}: predicted {} (class {}), probabilities {:?}",
        image.display(),
        prediction.class,
        prediction.index,
        prediction.probs
    ));

    let report_path = book.path("report.html");
    let summary = NotebookSummary {
        classes,
        train_len,
        valid_len,
        stages,
        lr_suggestion,
        most_confused_frozen,
        most_confused_final: final_interp.most_confused(2),
        confusion_matrix: final_interp.confusion_matrix(),
        prediction: (image, prediction),
        outputs: book.outputs.clone(),
        wall_time: started.elapsed(),
    };
    book.report.heading("Timing");
    book.output(timing_text(&summary));
    book.report.write(&report_path)?;
    Ok(summary)
}

fn build_data(config: &NotebookConfig) -> Result<ImageDataBunch, DataError> {
    let mut builder = ImageDataBunch::from_folder(&config.data)
        .size(config.size)
        .batch_size(config.batch_size)
        .seed(config.seed)
        .normalize(config.arch.norm_stats());
    if let Some(max_items) = config.max_items {
        builder = builder.max_items(max_items);
    }
    if let Some(pct) = config.valid_pct {
        builder = builder.valid_pct(pct);
    }
    builder = builder.valid(&config.valid);
    if config.skip_corrupt {
        builder = builder.skip_corrupt(true);
    }
    if let Some(workers) = config.num_workers {
        builder = builder.num_workers(workers);
    }
    builder.build()
}

/// Runs one `fit_one_cycle` stage and writes its epoch table as CSV.
fn fit_stage(
    book: &mut Notebook<'_>,
    learn: &mut CnnLearner,
    name: &str,
    epochs: usize,
    max_lr: Lr,
) -> Result<StageResult, NotebookError> {
    let call = match &max_lr {
        Lr::Slice {
            start: Some(start),
            stop,
        } => format!("learn.fit_one_cycle({epochs}, max_lr=slice({start:e}, {stop:e}))"),
        _ => format!("learn.fit_one_cycle({epochs})"),
    };
    book.code(&call);
    let started = Instant::now();
    learn.fit_one_cycle(epochs, max_lr)?;
    let csv = book.path(&format!("{name}.csv"));
    let stage = StageResult::from_recorder(&call, &learn.recorder, started.elapsed(), &csv);
    write_text(&csv, &stage.to_csv())?;
    book.report.table(stage.header.clone(), stage.rows.clone());
    if !book.config.verbose {
        book.report.output(format!(
            "{} took {:.0} s",
            call,
            stage.wall_time.as_secs_f64()
        ));
    }
    Ok(stage)
}

/// Runs the notebook's interpretation cell: top losses, confusion matrix and `most_confused(2)`.
fn interpret(
    book: &mut Notebook<'_>,
    learn: &CnnLearner,
    suffix: &str,
) -> Result<ClassificationInterpretation, NotebookError> {
    book.code("interp = ClassificationInterpretation.from_learner(learn)");
    let interp = ClassificationInterpretation::from_learner(learn)?;

    book.code("interp.plot_top_losses(9)");
    let top_losses = book.path(&format!("top_losses-{suffix}.png"));
    interp.plot_top_losses(9.min(interp.len()), &top_losses)?;
    book.picture(
        "top losses: prediction / actual / loss / probability of actual",
        &top_losses,
    )?;

    book.code("interp.plot_confusion_matrix()");
    let confusion = book.path(&format!("confusion_matrix-{suffix}.png"));
    interp.plot_confusion_matrix(&confusion)?;
    book.picture("confusion matrix", &confusion)?;

    book.code("interp.most_confused(min_val=2)");
    book.output(format!("{:?}", interp.most_confused(2)));
    Ok(interp)
}

/// Parameter counts per layer group, trainable and total, as a short model summary.
fn model_summary(learn: &CnnLearner) -> String {
    let mut sizes = ParamSizes::default();
    learn.model().visit(&mut sizes);
    let mut text = format!("{:<22} {:>12} {:>12}\n", "group", "params", "trainable");
    let mut total = (0, 0);
    for group in learn.layer_groups() {
        let count = |ids: &[ParamId]| ids.iter().map(|id| sizes.get(id).0).sum::<usize>();
        let trainable: usize = group
            .params
            .iter()
            .map(|id| sizes.get(id))
            .filter(|s| s.1)
            .map(|s| s.0)
            .sum();
        let params = count(&group.params);
        total = (total.0 + params, total.1 + trainable);
        text.push_str(&format!(
            "{:<22} {:>12} {:>12}\n",
            group.name, params, trainable
        ));
    }
    text.push_str(&format!("{:<22} {:>12} {:>12}", "total", total.0, total.1));
    text
}

/// Number of values and whether gradients are on, per parameter.
#[derive(Default)]
struct ParamSizes(std::collections::HashMap<ParamId, (usize, bool)>);

impl ParamSizes {
    fn get(&self, id: &ParamId) -> (usize, bool) {
        self.0.get(id).copied().unwrap_or((0, false))
    }
}

impl ModuleVisitor for ParamSizes {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let tensor = param.val();
        self.0.insert(
            param.id,
            (tensor.shape().num_elements(), tensor.is_require_grad()),
        );
    }
}

fn timing_text(summary: &NotebookSummary) -> String {
    let mut text = String::new();
    for stage in &summary.stages {
        let accuracy = stage
            .accuracy
            .map_or("n/a".to_string(), |value| format!("{:.4}", value));
        text.push_str(&format!(
            "{:<55} {:>8.1} s   accuracy {accuracy}\n",
            stage.name,
            stage.wall_time.as_secs_f64()
        ));
    }
    text.push_str(&format!(
        "whole run: {:.1} s",
        summary.wall_time.as_secs_f64()
    ));
    text
}

/// File names a run writes into its output folder.
const OUTPUT_NAMES: [&str; 12] = [
    "show_batch.png",
    "model.txt",
    "stage-1.csv",
    "top_losses-1.png",
    "confusion_matrix-1.png",
    "stage-2.csv",
    "lr_find.png",
    "stage-3.csv",
    "top_losses-2.png",
    "confusion_matrix-2.png",
    "export.fastburn",
    "report.html",
];

/// Deletes what an earlier run left in `out`, so a run that fails half-way never sits beside
/// the report and model of an older, successful one.
fn remove_previous_outputs(out: &Path) -> Result<(), NotebookError> {
    for name in OUTPUT_NAMES {
        let path = out.join(name);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(NotebookError::Write { path, source }),
        }
    }
    Ok(())
}

fn write_text(path: &Path, text: &str) -> Result<(), NotebookError> {
    let write_error = |source| NotebookError::Write {
        path: path.to_path_buf(),
        source,
    };
    fastburn_data::write_atomic(path, text.as_bytes()).map_err(write_error)
}
