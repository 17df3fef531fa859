//! The rock-paper-scissors notebook of fastai v1, end to end:
//!
//! ```sh
//! cargo run --example rps -- --data ../shared/data/rps
//! ```
//!
//! Everything the run produces lands in `--out` (default `out/rps`): the pictures, the epoch
//! tables as CSV, the exported model and `report.html`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use fastburn::BackendKind;
use fastburn::data::DataError;
use fastburn::learner::Precision;
use fastburn::notebook::{NotebookConfig, NotebookError, parse_arch, run_notebook};
use fastburn::rps_data::locate_rps;
use fastburn::vision::{Arch, resolve_weights};

/// Reproduces fastai v1's rock-paper-scissors notebook with fastburn.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Folder with train/ and valid/ (one subfolder per class). Default: $FASTBURN_SHARED/data/rps
    /// or ../shared/data/rps, else a download with the `network` feature.
    #[arg(long)]
    data: Option<PathBuf>,

    /// Backbone: resnet18, resnet34, resnet50 or efficientnet-lite0.
    #[arg(long, default_value = "resnet34", value_parser = parse_arch_arg)]
    arch: Arch,

    /// Pretrained weights for the backbone (.pth, .safetensors or .onnx). Without it they are
    /// looked up in $FASTBURN_WEIGHTS and the PyTorch hub cache, and downloaded with the
    /// `network` feature. When none is found, the body trains from random initialisation.
    #[arg(long)]
    weights: Option<PathBuf>,

    /// Train from random initialisation even when pretrained weights could be found.
    #[arg(long, conflicts_with = "weights")]
    no_pretrained: bool,

    /// Side of the square training images, in pixels.
    #[arg(long, default_value_t = 224)]
    size: usize,

    /// Batch size.
    #[arg(long, default_value_t = 64)]
    bs: usize,

    /// Compute backend, among those compiled into this build.
    #[arg(
        long,
        default_value_t = BackendKind::available()[0].name().to_string(),
        value_parser = clap::builder::PossibleValuesParser::new(
            BackendKind::available().into_iter().map(BackendKind::name)
        )
    )]
    device: String,

    /// Output folder; created if missing.
    #[arg(long, default_value = "out/rps")]
    out: PathBuf,

    /// Epochs of the first fit_one_cycle, body frozen (the notebook's 4).
    #[arg(long, default_value_t = 4)]
    frozen_epochs: usize,

    /// Epochs of the fit_one_cycle after unfreeze (the notebook's 1).
    #[arg(long, default_value_t = 1)]
    unfrozen_epochs: usize,

    /// Epochs of the last fit_one_cycle with slice(5e-4, 3e-3) (the notebook's 2).
    #[arg(long, default_value_t = 2)]
    final_epochs: usize,

    /// Maximum number of batches lr_find runs.
    #[arg(long, default_value_t = 100)]
    lr_find_iters: usize,

    /// Use at most this many images per split, balanced over classes (for quick runs).
    #[arg(long)]
    max_items: Option<usize>,

    /// Hold out this fraction of the images for validation, for a folder of class folders
    /// without train/ and valid/ (fastai's valid_pct).
    #[arg(long)]
    valid_pct: Option<f64>,

    /// Name of the validation folder beside train/ (fastai's `valid`), such as `val`.
    #[arg(long, default_value = "valid", conflicts_with = "valid_pct")]
    valid: String,

    /// Leave out images that fail to decode (with a warning) instead of stopping.
    #[arg(long)]
    skip_corrupt: bool,

    /// Seed of the shuffling, the augmentations, the head initialisation and dropout.
    #[arg(long, default_value_t = 42)]
    seed: u64,

    /// Data loading threads (default: one per core).
    #[arg(long)]
    workers: Option<usize>,

    /// Precision of the convolutions: fp32, or bf16 / fp16 for fastai's mixed precision
    /// (`learn.to_bf16()`, `learn.to_fp16()`).
    #[arg(long, default_value = "fp32")]
    precision: Precision,
}

fn parse_arch_arg(name: &str) -> Result<Arch, String> {
    parse_arch(name).ok_or_else(|| {
        format!("unknown architecture `{name}`; expected resnet18, resnet34, resnet50 or efficientnet-lite0")
    })
}

/// Finds `arch`'s weight file in the `weights/` folder of the development checkout's shared
/// data (`$FASTBURN_SHARED` or `../shared`), where the EfficientNet-Lite0 file ships.
fn shared_weights(arch: Arch) -> Option<PathBuf> {
    let shared = std::env::var_os("FASTBURN_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared"));
    arch.weight_file_names()
        .iter()
        .map(|name| shared.join("weights").join(name))
        .find(|path| path.is_file())
}

fn main() -> ExitCode {
    // The library reports skipped images and early stops as `log` warnings. They are shown
    // unless RUST_LOG sets another level.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args = Args::parse();
    let data = match locate_rps(args.data.as_deref()) {
        Ok(data) => data,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let backend: BackendKind = match args.device.parse() {
        Ok(backend) => backend,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "data: {}  device: {backend}  out: {}",
        data.display(),
        args.out.display()
    );

    let weights = if args.no_pretrained {
        None
    } else if args.weights.is_some() {
        args.weights
    } else {
        match resolve_weights(args.arch, None) {
            Ok(path) => Some(path),
            Err(error) => shared_weights(args.arch).or_else(|| {
                eprintln!("note: {error}");
                None
            }),
        }
    };
    if let Some(path) = &weights {
        println!("pretrained weights: {}", path.display());
    }

    let mut config = NotebookConfig::new(data, &args.out);
    config.arch = args.arch;
    config.weights = weights;
    config.size = args.size;
    config.batch_size = args.bs;
    config.frozen_epochs = args.frozen_epochs;
    config.unfrozen_epochs = args.unfrozen_epochs;
    config.final_epochs = args.final_epochs;
    config.lr_find_iters = args.lr_find_iters;
    config.max_items = args.max_items;
    config.valid_pct = args.valid_pct;
    config.valid = args.valid;
    config.seed = args.seed;
    config.skip_corrupt = args.skip_corrupt;
    config.num_workers = args.workers;
    config.precision = args.precision;

    match run_notebook(&config, &backend.device()) {
        Ok(_) => {
            println!("\nreport: {}", args.out.join("report.html").display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            if matches!(error, NotebookError::Data(DataError::CorruptImages { .. })) {
                eprintln!(
                    "hint: pass --skip-corrupt to leave the corrupt images out, with a warning each"
                );
            }
            ExitCode::FAILURE
        }
    }
}
