//! Fixed workloads that benchmarks time: the data pipeline, ResNet34 inference, training
//! steps on random batches and `fit` on real images.
//!
//! The criterion benches in `benches/` and the comparison harness in `benches/compare/`
//! both run these, so fastburn's figures and PyTorch's come from the same work.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};
use fastburn_data::{DataError, IMAGENET_STATS, ImageCheck, ImageDataBunch};
use fastburn_learner::{
    BatchIter, Callback, CallbackResult, DataBatch, Learner, LearnerData,
    LearnerError, LearnerModel, Lr, OneCycleConfig, Precision, TrainState, cnn_learner,
};
use fastburn_vision::conv::autocast;
use fastburn_vision::{Arch, HeadConfig, VisionError, create_cnn};

/// Number of classes of the random batches, as in the rock-paper-scissors data.
const N_CLASSES: usize = 3;

/// A workload the benchmarks time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Decoding and the full training transforms, batch by batch, on real images.
    Pipeline,
    /// Forward passes in eval mode on a random batch.
    Inference,
    /// `fit` steps on random batches with the body frozen: forward, loss, backward, Adam.
    TrainFrozen,
    /// `fit` steps on random batches with every layer group trainable.
    TrainUnfrozen,
    /// `fit` on real images with the body frozen: the notebook's first stage, data included.
    FitFrozen,
    /// `fit` on real images with every layer group trainable.
    FitUnfrozen,
}

impl Workload {
    /// Lists every workload.
    pub const ALL: [Workload; 6] = [
        Workload::Pipeline,
        Workload::Inference,
        Workload::TrainFrozen,
        Workload::TrainUnfrozen,
        Workload::FitFrozen,
        Workload::FitUnfrozen,
    ];

    /// Returns the command-line name, such as `train-frozen`.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Pipeline => "pipeline",
            Workload::Inference => "inference",
            Workload::TrainFrozen => "train-frozen",
            Workload::TrainUnfrozen => "train-unfrozen",
            Workload::FitFrozen => "fit-frozen",
            Workload::FitUnfrozen => "fit-unfrozen",
        }
    }

    /// Returns whether the workload reads the real images of [`WorkloadConfig::data`].
    pub fn needs_data(self) -> bool {
        matches!(self, Workload::Pipeline | Workload::FitFrozen | Workload::FitUnfrozen)
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Workload {
    type Err = WorkloadError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Workload::ALL
            .into_iter()
            .find(|workload| workload.name() == name)
            .ok_or_else(|| WorkloadError::UnknownWorkload(name.to_string()))
    }
}

/// Settings of one workload run.
#[derive(Clone, Debug)]
pub struct WorkloadConfig {
    /// The workload to run.
    pub workload: Workload,
    /// The backbone, under fastai's head for 3 classes.
    pub arch: Arch,
    /// Images per batch.
    pub batch_size: usize,
    /// Image side in pixels.
    pub size: usize,
    /// Batches timed.
    pub iters: usize,
    /// Batches run before timing starts, to warm caches, allocators and loader workers.
    pub warmup: usize,
    /// The device, without autodiff; training workloads add it.
    pub device: Device,
    /// Folder with `train/` and `valid/` of labelled images, for the workloads that need it.
    pub data: Option<PathBuf>,
    /// Loader worker threads for the workloads on real images.
    pub workers: usize,
    /// The dtype the convolutions compute in, as the learner's `to_bf16()` / `to_fp16()`
    /// set it.
    pub precision: Precision,
}

/// The timing of one workload run.
#[derive(Clone, Debug, PartialEq)]
pub struct Measurement {
    /// Images processed in the timed batches.
    pub images: usize,
    /// Wall time of the timed batches.
    pub seconds: f64,
    /// Part of `seconds` spent waiting for the next batch, for the `fit` workloads on real
    /// images.
    pub data_wait_seconds: Option<f64>,
}

impl Measurement {
    /// Returns the throughput in images per second.
    pub fn images_per_s(&self) -> f64 {
        self.images as f64 / self.seconds
    }
}

/// Reads the peak resident set size of this process in bytes, from `VmHWM` in
/// `/proc/self/status`.
///
/// The peak covers the whole process so far, not one workload run. It counts host memory
/// only, not the device memory of a GPU backend. Returns `None` where the file or the field
/// cannot be read, which is every system but Linux.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_hwm(&status)
}

/// Parses the `VmHWM:   123456 kB` line of a `/proc/<pid>/status` text into bytes. The
/// kernel's `kB` there means KiB.
fn parse_vm_hwm(status: &str) -> Option<u64> {
    let value = status.lines().find_map(|line| line.strip_prefix("VmHWM:"))?;
    let kib: u64 = value.trim().strip_suffix("kB")?.trim().parse().ok()?;
    kib.checked_mul(1024)
}

/// Error of a workload run.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// The workload name is not one of [`Workload::ALL`].
    #[error("unknown workload `{0}`: expected one of pipeline, inference, train-frozen, train-unfrozen, fit-frozen, fit-unfrozen")]
    UnknownWorkload(String),
    /// A setting is out of range or missing.
    #[error("invalid workload setting `{name}`: {reason}")]
    Invalid {
        /// The setting.
        name: &'static str,
        /// The reason the setting is rejected.
        reason: String,
    },
    /// Building the data bunch or loading a batch failed.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Building the model failed.
    #[error(transparent)]
    Vision(#[from] VisionError),
    /// Training failed.
    #[error(transparent)]
    Learner(#[from] LearnerError),
}

/// Runs `config.workload` once and returns the timing of its timed batches.
pub fn run_workload(config: &WorkloadConfig) -> Result<Measurement, WorkloadError> {
    if config.iters == 0 {
        return Err(invalid("iters", "time at least one batch"));
    }
    if config.batch_size == 0 {
        return Err(invalid("batch", "a batch needs at least one image"));
    }
    if config.size == 0 {
        return Err(invalid("size", "the image side must be positive"));
    }
    if config.size > fastburn_data::MAX_IMAGE_SIZE {
        let max = fastburn_data::MAX_IMAGE_SIZE;
        return Err(invalid("size", format!("the image side must be at most {max} pixels")));
    }
    let trains = !matches!(config.workload, Workload::Pipeline | Workload::Inference);
    if trains && config.batch_size < 2 {
        // fastai's head has a BatchNorm1d, which PyTorch cannot train on one image.
        return Err(invalid("batch", "training needs at least 2 images per batch, as in PyTorch"));
    }

    match config.workload {
        Workload::Pipeline => pipeline(config),
        Workload::Inference => inference(config),
        Workload::TrainFrozen | Workload::TrainUnfrozen => {
            let data = RandomBatches::new(config.batch_size, config.size, config.warmup + config.iters);
            let model = create_cnn(config.arch, N_CLASSES, None, &head(), &config.device)?;
            let learner = Learner::with_cross_entropy(data, model, Vec::new())?;
            let measurement = fit_timed(learner, config, config.workload == Workload::TrainFrozen)?;
            // The batches are in memory already, so the gaps between them are loop overhead.
            Ok(Measurement {
                data_wait_seconds: None,
                ..measurement
            })
        }
        Workload::FitFrozen | Workload::FitUnfrozen => {
            let data = data_bunch(config)?;
            let learner = cnn_learner(data, config.arch, None, &head(), Vec::new(), &config.device)?;
            fit_timed(learner, config, config.workload == Workload::FitFrozen)
        }
    }
}

fn pipeline(config: &WorkloadConfig) -> Result<Measurement, WorkloadError> {
    let data = data_bunch(config)?;
    // Like a training loop, the loader runs on into the next epochs when one is not enough.
    let mut batches = (0..).flat_map(|epoch| data.train_batches(epoch, &config.device));
    for _ in 0..config.warmup {
        next_batch(&mut batches)?;
    }

    let start = Instant::now();
    let mut images = 0;
    for _ in 0..config.iters {
        images += next_batch(&mut batches)?.targets.dims()[0];
    }
    Ok(Measurement {
        images,
        seconds: start.elapsed().as_secs_f64(),
        data_wait_seconds: None,
    })
}

fn next_batch(
    batches: &mut impl Iterator<Item = Result<fastburn_data::Batch, DataError>>,
) -> Result<fastburn_data::Batch, WorkloadError> {
    match batches.next() {
        Some(batch) => Ok(batch?),
        None => Err(invalid("data", "the training set has no batches")),
    }
}

fn inference(config: &WorkloadConfig) -> Result<Measurement, WorkloadError> {
    let model = create_cnn(config.arch, N_CLASSES, None, &head(), &config.device)?.valid();
    let images = random_images(config.batch_size, config.size, &config.device);
    let dtype = config.precision.compute_dtype();
    for _ in 0..config.warmup {
        autocast(dtype, || model.forward(images.clone())).into_data();
    }

    let start = Instant::now();
    for _ in 0..config.iters {
        // Reading the logits back waits for the backend to finish the batch.
        autocast(dtype, || model.forward(images.clone())).into_data();
    }
    Ok(Measurement {
        images: config.batch_size * config.iters,
        seconds: start.elapsed().as_secs_f64(),
        data_wait_seconds: None,
    })
}

/// Trains `warmup + iters` batches with `fit_one_cycle` (peak 1e-3) over as many epochs as
/// that takes, and times the last `iters`.
fn fit_timed<M: LearnerModel, D: LearnerData>(
    mut learner: Learner<M, D>,
    config: &WorkloadConfig,
    frozen: bool,
) -> Result<Measurement, WorkloadError> {
    if frozen {
        learner.freeze();
    } else {
        learner.unfreeze();
    }
    learner.show_progress = false;
    learner.set_precision(config.precision)?;

    let timing = Arc::new(Mutex::new(Timing::default()));
    let timer = BatchTimer {
        warmup: config.warmup,
        total: config.warmup + config.iters,
        seen: 0,
        timing: Arc::clone(&timing),
        device: config.device.clone(),
    };
    let per_epoch = learner.data().num_train_batches();
    if per_epoch == 0 {
        return Err(invalid("data", "the training set has no batches"));
    }
    let epochs = (config.warmup + config.iters).div_ceil(per_epoch);
    learner.fit_one_cycle_with(epochs, Lr::Value(1e-3), OneCycleConfig::default(), vec![Box::new(timer)])?;

    let timing = timing.lock().map_err(|_| invalid("timing", "the timer panicked"))?;
    match (timing.start, timing.end) {
        (Some(start), Some(end)) => Ok(Measurement {
            images: config.batch_size * config.iters,
            seconds: (end - start).as_secs_f64(),
            data_wait_seconds: Some(timing.data_wait.as_secs_f64()),
        }),
        _ => Err(invalid("iters", "training stopped before the timed batches ended")),
    }
}

/// Times of the batches a [`BatchTimer`] measured.
#[derive(Debug, Default)]
struct Timing {
    start: Option<Instant>,
    end: Option<Instant>,
    last_batch_end: Option<Instant>,
    data_wait: Duration,
}

/// Starts the clock after `warmup` batches and stops training after `total`, summing the gaps
/// between one batch's end and the next one's start: the time spent waiting for data.
struct BatchTimer {
    warmup: usize,
    total: usize,
    seen: usize,
    timing: Arc<Mutex<Timing>>,
    device: Device,
}

/// Waits until `device` has finished its queued work.
fn sync(device: &Device) -> CallbackResult {
    device
        .sync()
        .map_err(|error| LearnerError::invalid("device", format!("waiting for the device failed: {error:?}")))
}

impl Callback for BatchTimer {
    fn on_train_begin(&mut self, state: &mut TrainState) -> CallbackResult {
        state.skip_validate = true;
        Ok(())
    }

    fn on_batch_begin(&mut self, _state: &mut TrainState) -> CallbackResult {
        if self.seen == self.warmup {
            // A GPU backend may still be running the warmup; the clock starts when it is done.
            sync(&self.device)?;
        }
        let now = Instant::now();
        let mut timing = self.timing.lock().expect("only this callback locks the timing");
        if self.seen == self.warmup {
            timing.start = Some(now);
        } else if self.seen > self.warmup {
            if let Some(last) = timing.last_batch_end {
                timing.data_wait += now - last;
            }
        }
        Ok(())
    }

    fn on_batch_end(&mut self, state: &mut TrainState) -> CallbackResult {
        if self.seen + 1 == self.total {
            sync(&self.device)?;
        }
        let now = Instant::now();
        self.seen += 1;
        let mut timing = self.timing.lock().expect("only this callback locks the timing");
        timing.last_batch_end = Some(now);
        if self.seen == self.total {
            timing.end = Some(now);
            state.stop_epoch = true;
            state.stop_training = true;
        }
        Ok(())
    }
}

/// The same random batch over and over, with a valid set of none, so `fit` skips validation.
struct RandomBatches {
    batch_size: usize,
    n_batches: usize,
    pixels: TensorData,
}

impl RandomBatches {
    fn new(batch_size: usize, size: usize, n_batches: usize) -> Self {
        let pixels = random_images(batch_size, size, &Device::default()).into_data();
        Self {
            batch_size,
            n_batches,
            pixels,
        }
    }
}

impl LearnerData for RandomBatches {
    fn classes(&self) -> Vec<String> {
        (0..N_CLASSES).map(|class| format!("class{class}")).collect()
    }

    fn num_train_batches(&self) -> usize {
        self.n_batches
    }

    fn num_valid_batches(&self) -> usize {
        0
    }

    fn train_batches(&self, _epoch: usize, device: &Device) -> BatchIter<'_> {
        let targets: Vec<i64> = (0..self.batch_size).map(|i| (i % N_CLASSES) as i64).collect();
        let device = device.clone();
        Box::new((0..self.n_batches).map(move |_| {
            let images = Tensor::<4>::from_data(self.pixels.clone(), &device);
            let targets = Tensor::<1, Int>::from_data(TensorData::from(targets.as_slice()), &device);
            Ok(DataBatch { images, targets })
        }))
    }

    fn valid_batches(&self, _device: &Device) -> BatchIter<'_> {
        Box::new(std::iter::empty())
    }
}

fn random_images(batch_size: usize, size: usize, device: &Device) -> Tensor<4> {
    let distribution = burn::tensor::Distribution::Normal(0.0, 1.0);
    Tensor::random([batch_size, 3, size, size], distribution, device)
}

fn data_bunch(config: &WorkloadConfig) -> Result<ImageDataBunch, WorkloadError> {
    let path = config
        .data
        .as_ref()
        .ok_or_else(|| invalid("data", format!("{} reads real images: give their folder", config.workload)))?;
    let data = ImageDataBunch::from_folder(path)
        .size(config.size)
        .batch_size(config.batch_size)
        .num_workers(config.workers)
        .normalize(IMAGENET_STATS)
        // fastai checks no image up front either; a bad one fails when its batch loads.
        .image_check(ImageCheck::Skip)
        .build()?;
    Ok(data)
}

fn head() -> HeadConfig {
    // `create_cnn` sets the input features from the body and the classes from its argument.
    HeadConfig::new(0, N_CLASSES)
}

fn invalid(name: &'static str, reason: impl Into<String>) -> WorkloadError {
    WorkloadError::Invalid {
        name,
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny(workload: Workload, precision: Precision) -> WorkloadConfig {
        WorkloadConfig {
            workload,
            arch: Arch::ResNet18,
            batch_size: 2,
            size: 32,
            iters: 1,
            warmup: 0,
            device: Device::default(),
            data: None,
            workers: 1,
            precision,
        }
    }

    #[test]
    fn mixed_precision_workloads_run() {
        for precision in [Precision::Bf16, Precision::Fp16] {
            for workload in [Workload::Inference, Workload::TrainFrozen] {
                let measurement = run_workload(&tiny(workload, precision)).unwrap();
                assert_eq!(measurement.images, 2, "{workload:?} in {precision:?}");
                assert!(measurement.seconds > 0.0, "{workload:?} in {precision:?}");
            }
        }
    }

    #[test]
    fn parse_vm_hwm_converts_kib_to_bytes() {
        let status = "Name:\tworkload\nVmPeak:\t  900000 kB\nVmHWM:\t  123456 kB\nVmRSS:\t  100000 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(123_456 * 1024));
    }

    #[test]
    fn parse_vm_hwm_rejects_missing_or_malformed_field() {
        assert_eq!(parse_vm_hwm("Name:\tworkload\nVmRSS:\t  100000 kB\n"), None);
        assert_eq!(parse_vm_hwm("VmHWM:\t  lots kB\n"), None);
        assert_eq!(parse_vm_hwm("VmHWM:\t  123456 pages\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn peak_rss_bytes_covers_touched_buffer() {
        // Writing every byte makes each page resident, so the peak is at least the buffer size.
        let buffer_bytes = 64 << 20;
        let buffer = std::hint::black_box(vec![1u8; buffer_bytes]);
        let peak = peak_rss_bytes().expect("Linux has VmHWM in /proc/self/status");
        drop(buffer);
        assert!(peak >= buffer_bytes as u64, "peak RSS {peak} B is below the {buffer_bytes} B buffer just written");

        // The resident set cannot exceed physical memory, which catches a wrong unit.
        let meminfo = std::fs::read_to_string("/proc/meminfo").expect("Linux has /proc/meminfo");
        let total_kib: u64 = meminfo
            .lines()
            .find_map(|line| line.strip_prefix("MemTotal:"))
            .and_then(|value| value.trim().strip_suffix("kB"))
            .and_then(|value| value.trim().parse().ok())
            .expect("/proc/meminfo has MemTotal in kB");
        assert!(peak <= total_kib * 1024, "peak RSS {peak} B exceeds MemTotal {total_kib} KiB");
    }
}
