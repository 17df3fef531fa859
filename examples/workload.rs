//! Runs one benchmark workload and prints its timing and the process's peak resident set
//! size as one JSON line, for the comparison harness in `benches/compare/`.
//!
//! ```text
//! cargo run --example workload -- --workload train-frozen --batch 64 --iters 3 --warmup 1
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use fastburn::BackendKind;
use fastburn::notebook::parse_arch;
use fastburn::vision::Arch;
use fastburn::learner::Precision;
use fastburn::workload::{Workload, WorkloadConfig, peak_rss_bytes, run_workload};

/// Times one fastburn workload: pipeline, inference, train-frozen, train-unfrozen,
/// fit-frozen or fit-unfrozen.
#[derive(Parser, Debug)]
struct Args {
    /// The workload to run.
    #[arg(long)]
    workload: String,

    /// Images per batch.
    #[arg(long, default_value_t = 64)]
    batch: usize,

    /// Image side in pixels.
    #[arg(long, default_value_t = 224)]
    size: usize,

    /// Batches timed.
    #[arg(long, default_value_t = 3)]
    iters: usize,

    /// Untimed batches run first.
    #[arg(long, default_value_t = 1)]
    warmup: usize,

    /// Backend: flex, tch-cpu, tch-cuda, wgpu or cuda, as compiled in.
    #[arg(long, default_value = "flex")]
    device: String,

    /// Folder with train/ and valid/, for pipeline and fit-*.
    #[arg(long)]
    data: Option<PathBuf>,

    /// Loader worker threads for pipeline and fit-*.
    #[arg(long, default_value_t = 2)]
    workers: usize,

    /// Backbone architecture.
    #[arg(long, default_value = "resnet34")]
    arch: String,

    /// The dtype the convolutions compute in: fp32, bf16 or fp16 (the learner's
    /// to_bf16() / to_fp16()).
    #[arg(long, default_value = "fp32")]
    precision: Precision,
}


fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> Result<String, String> {
    let workload: Workload = args.workload.parse().map_err(|error| format!("{error}"))?;
    let backend: BackendKind = args.device.parse().map_err(|error| format!("{error}"))?;
    let arch: Arch = parse_arch(&args.arch).ok_or_else(|| format!("unknown architecture `{}`", args.arch))?;
    let config = WorkloadConfig {
        workload,
        arch,
        batch_size: args.batch,
        size: args.size,
        iters: args.iters,
        warmup: args.warmup,
        device: backend.device(),
        data: args.data.clone(),
        workers: args.workers,
        precision: args.precision,
    };

    let measurement = run_workload(&config).map_err(|error| error.to_string())?;
    if measurement.seconds <= 0.0 {
        return Err("the timed batches took no measurable time; time more of them with --iters".to_string());
    }
    let data_wait = match measurement.data_wait_seconds {
        Some(seconds) => format!("{seconds:.6}"),
        None => "null".to_string(),
    };
    // Read after the run, so the peak includes building the model and the warmup, as the
    // peer's `ru_maxrss` does.
    let peak_rss = match peak_rss_bytes() {
        Some(bytes) => bytes.to_string(),
        None => "null".to_string(),
    };
    let precision = match args.precision {
        Precision::Fp32 => String::new(),
        other => format!("-{}", other.name()),
    };
    // Hand-written JSON: the fields are numbers and fixed names, so nothing needs escaping.
    Ok(format!(
        "{{\"workload\": \"{workload}\", \"impl\": \"fastburn-{backend}{precision}\", \"batch\": {}, \"size\": {}, \
         \"images\": {}, \"seconds\": {:.6}, \"images_per_s\": {:.4}, \"data_wait_seconds\": {data_wait}, \
         \"peak_rss_bytes\": {peak_rss}}}",
        args.batch,
        args.size,
        measurement.images,
        measurement.seconds,
        measurement.images_per_s(),
    ))
}
