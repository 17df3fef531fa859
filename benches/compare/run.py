#!/usr/bin/env python3
"""Compares fastburn with PyTorch and fastai on the same workloads, side by side.

Runs the fastburn `workload` example and `peer.py` alternately, several rounds each,
and prints markdown tables of images per second and of peak resident memory, with
fastburn / peer ratios.
Standard library only, so any python3 can run it; the PyTorch side runs in its own
virtual environment, created on the first run.

    python3 benches/compare/run.py --out compare.md
"""

import argparse
import glob
import json
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

SCRIPT_DIR = Path(__file__).resolve().parent
REPO_ROOT = SCRIPT_DIR.parents[1]
PEER_SCRIPT = SCRIPT_DIR / "peer.py"

# peer.py imports only the standard library at the top, so its tables are shared from there.
sys.path.insert(0, str(SCRIPT_DIR))
from peer import IMPLS as PEERS, VALID_IMPLS as VALID_PEERS, WORKLOADS  # noqa: E402

# The workloads that read the real images.
DATA_WORKLOADS = ("pipeline", "fit-frozen", "fit-unfrozen")
# Timed and untimed batches per workload when --iters / --warmup are not given. By an
# estimate they keep a default run (three rounds, batches 32 and 64) to 30-45 minutes on an
# idle 2-core CPU. The pipeline is cheap per batch, and its warmup also covers worker start-up.
DEFAULT_ITERS = {"pipeline": 20, "inference": 5, "train-frozen": 3, "train-unfrozen": 3, "fit-frozen": 3, "fit-unfrozen": 3}
DEFAULT_WARMUP = {"pipeline": 2, "inference": 1, "train-frozen": 1, "train-unfrozen": 1, "fit-frozen": 1, "fit-unfrozen": 1}
# Cargo feature that compiles each fastburn device in. None means the default features.
DEVICE_FEATURES = {"flex": None, "tch-cpu": "tch", "tch-cuda": "tch", "wgpu": "wgpu", "cuda": "cuda"}
# Half-precision suffixes a device may carry, as in `tch-cpu+bf16` (the learner's to_bf16()).
PRECISIONS = ("bf16", "fp16")
STDERR_TAIL_LINES = 15


def log(message):
    print(message, file=sys.stderr, flush=True)


def comma_list(text):
    return [item.strip() for item in text.split(",") if item.strip()]


def split_precision(entry):
    """Splits a device entry such as `tch-cpu+bf16` into the device and the precision (or None)."""
    device, _, precision = entry.partition("+")
    return device, precision or None


def default_data_dir():
    shared = os.environ.get("FASTBURN_SHARED")
    if shared:
        return Path(shared) / "data" / "rps"
    return REPO_ROOT.parent / "shared" / "data" / "rps"


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Benchmark fastburn against PyTorch/fastai and print a markdown table.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--workloads", default="pipeline,inference,train-frozen,train-unfrozen",
                        help=f"comma list from: {', '.join(WORKLOADS)}")
    parser.add_argument("--batches", default="32,64", help="comma list of batch sizes")
    parser.add_argument("--size", type=int, default=224, help="square image side in pixels")
    parser.add_argument("--rounds", type=int, default=3, help="runs per implementation, interleaved")
    parser.add_argument("--iters", type=int, help="timed batches per run (default: per workload, "
                        + ", ".join(f"{w} {n}" for w, n in DEFAULT_ITERS.items()) + ")")
    parser.add_argument("--warmup", type=int, help="untimed batches per run (default: per workload, "
                        + ", ".join(f"{w} {n}" for w, n in DEFAULT_WARMUP.items()) + ")")
    parser.add_argument("--devices", default="flex",
                        help=f"comma list of fastburn devices: {', '.join(DEVICE_FEATURES)}, each optionally "
                        f"with +{' or +'.join(PRECISIONS)} for mixed precision; empty for none")
    parser.add_argument("--peers", default=",".join(PEERS),
                        help="comma list of PyTorch/fastai implementations; each runs only where it applies")
    parser.add_argument("--peer-device", default="cpu", choices=("cpu", "cuda"),
                        help="torch device for the peers; cuda for a GPU comparison")
    parser.add_argument("--data", type=Path, default=default_data_dir(),
                        help="rock-paper-scissors folder with train/ and valid/")
    parser.add_argument("--workers", type=int, default=2, help="data loader workers for pipeline and fit-*")
    parser.add_argument("--venv", type=Path, default=REPO_ROOT / "target" / "compare-venv",
                        help="virtual environment with torch, torchvision and fastai")
    parser.add_argument("--release", action="store_true",
                        help="build fastburn with --release instead of the dev profile the tests use")
    parser.add_argument("--fastburn-bin", type=Path,
                        help="use this workload binary for every device instead of building one")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds before one run counts as failed")
    parser.add_argument("--out", type=Path, help="also write the markdown report to this file")
    parser.add_argument("--dry-run", action="store_true", help="print the commands without running them")
    args = parser.parse_args(argv)

    args.workloads = comma_list(args.workloads)
    args.devices = comma_list(args.devices)
    args.peers = comma_list(args.peers)
    problems = []
    for workload in args.workloads:
        if workload not in WORKLOADS:
            problems.append(f"unknown workload {workload!r}; choose from {', '.join(WORKLOADS)}")
    for peer in args.peers:
        if peer not in PEERS:
            problems.append(f"unknown peer {peer!r}; choose from {', '.join(PEERS)}")
    # A stand-in binary decides itself which devices it accepts.
    if args.fastburn_bin is None:
        for entry in args.devices:
            device, precision = split_precision(entry)
            if device not in DEVICE_FEATURES:
                problems.append(f"unknown device {device!r}; choose from {', '.join(DEVICE_FEATURES)}")
            if precision is not None and precision not in PRECISIONS:
                problems.append(f"unknown precision {precision!r} in {entry!r}; choose from {', '.join(PRECISIONS)}")
    try:
        args.batches = [int(batch) for batch in comma_list(args.batches)]
    except ValueError:
        problems.append(f"--batches must be a comma list of integers, got {args.batches!r}")
        args.batches = []
    if any(batch < 1 for batch in args.batches) or (not args.batches and not problems):
        problems.append("--batches needs at least one batch size of 1 or more")
    if args.size < 1 or args.rounds < 1 or args.workers < 0:
        problems.append("--size and --rounds must be at least 1, --workers at least 0")
    if (args.iters is not None and args.iters < 1) or (args.warmup is not None and args.warmup < 0):
        problems.append("--iters must be at least 1 and --warmup at least 0")
    if not args.workloads or not (args.devices or args.peers):
        problems.append("nothing to run: give at least one workload and one device or peer")
    if problems:
        for problem in problems:
            print(f"run.py: error: {problem}", file=sys.stderr)
        sys.exit(2)
    # Builds and runs start in the repository root, so relative paths are fixed here first.
    args.venv = Path(args.venv).resolve()
    args.data = Path(args.data).resolve()
    if args.out is not None:
        args.out = Path(args.out).resolve()
    return args


def venv_python(venv):
    return venv / "bin" / "python"


def torch_lib_dirs(venv):
    found = sorted(glob.glob(str(venv / "lib" / "python3*" / "site-packages" / "torch" / "lib")))
    # Before the venv exists (a dry run) the path can only be shown as a pattern.
    return found or [str(venv / "lib" / "python3.X" / "site-packages" / "torch" / "lib")]


def ensure_venv(args):
    """Creates the peers' virtual environment and installs torch and fastai into it when missing.

    Returns False when the environment is still unusable. The runs that need it then fail
    one by one and show up in the table instead of stopping the harness.
    """
    python = venv_python(args.venv)
    create = [sys.executable, "-m", "venv", str(args.venv)]
    install = [str(python), "-m", "pip", "install", "torch==2.9.0", "torchvision==0.24.0", "fastai==2.8.12"]
    check = [str(python), "-c", "import torch, fastai"]
    if args.dry_run:
        if not python.exists():
            print(shlex.join(create))
        print(f"{shlex.join(check)} || {shlex.join(install)}")
        return True
    if not python.exists():
        log(f"creating the virtual environment {args.venv}")
        if subprocess.run(create).returncode != 0:
            log(f"run.py: could not create {args.venv}")
            return False
    if subprocess.run(check, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
        return True
    log(f"installing torch 2.9.0, torchvision 0.24.0 and fastai 2.8.12 into {args.venv} (several GB)")
    if subprocess.run(install).returncode != 0:
        log("run.py: pip install failed")
        return False
    return subprocess.run(check).returncode == 0


class FastburnBuild:
    """One cargo build of the workload example for one feature set, in its own target folder."""

    def __init__(self, args, feature):
        self.feature = feature
        profile = "release" if args.release else "debug"
        if feature is None:
            target_dir = Path(os.environ.get("CARGO_TARGET_DIR", REPO_ROOT / "target"))
        else:
            # A separate folder per feature set, so switching features does not
            # invalidate the default build.
            target_dir = REPO_ROOT / "target" / feature
        self.binary = target_dir / profile / "examples" / "workload"
        self.command = ["cargo", "build", "--example", "workload"]
        if args.release:
            self.command.append("--release")
        if feature is not None:
            self.command += ["--features", feature]
        self.env = {}
        self.path_prefix = None
        if feature is not None:
            self.env["CARGO_TARGET_DIR"] = str(target_dir)
        if feature == "tch":
            # torch-sys links the LibTorch inside the venv's torch wheel and finds it
            # through the python on PATH.
            self.env["LIBTORCH_USE_PYTORCH"] = "1"
            self.path_prefix = str(args.venv / "bin")
            self.env["PATH"] = f"{self.path_prefix}{os.pathsep}{os.environ.get('PATH', '')}"
        self.error = None

    def shell_line(self):
        parts = [f"{key}={shlex.quote(value)}" for key, value in self.env.items() if key != "PATH"]
        if self.path_prefix is not None:
            parts.append(f'PATH={shlex.quote(self.path_prefix)}:"$PATH"')
        return " ".join(parts + [shlex.join(self.command)])

    def run(self, dry_run):
        if dry_run:
            print(self.shell_line())
            return
        log(f"building: {self.shell_line()}")
        process = subprocess.run(self.command, cwd=REPO_ROOT, env={**os.environ, **self.env},
                                 stderr=subprocess.PIPE, text=True)
        # Cargo's progress still reaches the terminal, just after the build ends.
        sys.stderr.write(process.stderr)
        if process.returncode != 0:
            self.error = f"cargo build failed (exit {process.returncode}): " + tail(process.stderr)
        elif not self.binary.exists():
            self.error = f"cargo build succeeded but {self.binary} is missing"


class Implementation:
    """One column of the comparison: a fastburn device or a PyTorch/fastai peer."""

    def __init__(self, label, base_command, env=None, is_fastburn=False, build=None):
        self.label = label
        self.base_command = base_command
        self.env = env or {}
        self.is_fastburn = is_fastburn
        self.build = build

    def command(self, workload, batch, size, iters, warmup, args):
        command = self.base_command + ["--workload", workload, "--batch", str(batch), "--size", str(size),
                                       "--iters", str(iters), "--warmup", str(warmup)]
        if workload in DATA_WORKLOADS:
            command += ["--data", str(args.data), "--workers", str(args.workers)]
        return command


def implementations_for(args):
    fastburn = []
    builds = {}
    for entry in args.devices:
        device, precision = split_precision(entry)
        feature = DEVICE_FEATURES.get(device)
        env = {}
        if args.fastburn_bin is not None:
            binary, build = args.fastburn_bin, None
        else:
            if feature not in builds:
                builds[feature] = FastburnBuild(args, feature)
            build = builds[feature]
            binary = build.binary
        if feature == "tch" or device.startswith("tch-"):
            # LibTorch's shared libraries live in the wheel, outside the loader's default path.
            dirs = torch_lib_dirs(args.venv)
            old = os.environ.get("LD_LIBRARY_PATH")
            env["LD_LIBRARY_PATH"] = os.pathsep.join(dirs + ([old] if old else []))
        command = [str(binary), "--device", device]
        label = f"fastburn-{device}"
        if precision is not None:
            command += ["--precision", precision]
            label += f"-{precision}"
        fastburn.append(Implementation(label, command, env=env, is_fastburn=True, build=build))
    suffix = "" if args.peer_device == "cpu" else f"-{args.peer_device}"
    peers = []
    for peer in args.peers:
        command = [str(venv_python(args.venv)), str(PEER_SCRIPT), "--impl", peer]
        if args.peer_device != "cpu":
            command += ["--device", args.peer_device]
        peers.append(Implementation(f"{peer}{suffix}", command))
    return fastburn, peers, list(builds.values())


def tail(text, lines=STDERR_TAIL_LINES):
    non_empty = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(non_empty[-lines:])


def kill_group(process):
    # The child runs in its own session, so this reaches its DataLoader workers too.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run_once(command, env, timeout):
    """Runs one measurement.

    Returns (images_per_s, None, seconds, data-wait share or None, peak RSS bytes or None)
    on success and (None, failure text, seconds, None, None) otherwise, where the failure
    text is a one-line reason followed by the stderr tail.
    """
    started = time.perf_counter()
    try:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, start_new_session=True)
    except OSError as error:
        return None, f"could not start: {error}", 0.0, None, None
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(process)
        stdout, stderr = process.communicate()
        return None, f"timed out after {timeout:g} s\n{tail(stderr)}", time.perf_counter() - started, None, None
    except KeyboardInterrupt:
        kill_group(process)
        process.communicate()
        raise
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        return None, f"exit code {process.returncode}\n{tail(stderr)}", elapsed, None, None
    lines = [line for line in stdout.strip().splitlines() if line.strip()]
    try:
        result = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        result = None
    rate = result.get("images_per_s") if isinstance(result, dict) else None
    if not isinstance(rate, (int, float)) or isinstance(rate, bool) or rate <= 0:
        last = lines[-1][:200] if lines else "(empty)"
        return (None, f"no JSON result with images_per_s on stdout; last line: {last}\n{tail(stderr)}",
                elapsed, None, None)
    # fit-* runs of fastburn also report the time spent waiting for batches.
    wait, seconds = result.get("data_wait_seconds"), result.get("seconds")
    wait_share = wait / seconds if isinstance(wait, (int, float)) and isinstance(seconds, (int, float)) and seconds > 0 else None
    # Older binaries and systems other than Linux leave peak_rss_bytes out or null.
    peak_rss = result.get("peak_rss_bytes")
    if not isinstance(peak_rss, int) or isinstance(peak_rss, bool) or peak_rss <= 0:
        peak_rss = None
    return float(rate), None, elapsed, wait_share, peak_rss


def command_line(command, env):
    prefix = " ".join(f"{key}={shlex.quote(value)}" for key, value in env.items())
    return f"{prefix} {shlex.join(command)}".strip()


def read_first(path, key):
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            for line in file:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def capture(command, env=None):
    try:
        process = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=REPO_ROOT,
                                 env={**os.environ, **(env or {})})
    except (OSError, subprocess.TimeoutExpired):
        return None
    return process.stdout.strip() if process.returncode == 0 else None


def machine_facts(args, need_peers):
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    facts = [
        ("date", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        ("host", f"{platform.system()} {platform.release()} {platform.machine()}"),
        ("cpu", read_first("/proc/cpuinfo", "model name") or platform.processor() or "unknown"),
        ("nproc", str(cores)),
        ("memory", read_first("/proc/meminfo", "MemTotal") or "unknown"),
    ]
    # Other processes skew CPU numbers, so the report shows how busy the machine was at the start.
    if hasattr(os, "getloadavg"):
        facts.append(("load average at start", " ".join(f"{value:.2f}" for value in os.getloadavg())))
    gpus = capture(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"])
    if gpus:
        facts.append(("gpu", "; ".join(gpus.splitlines())))
    facts.append(("rustc", capture(["rustc", "--version"]) or "unknown"))
    commit = capture(["git", "rev-parse", "--short", "HEAD"])
    if commit:
        facts.append(("fastburn commit", commit))
    facts.append(("fastburn profile", "release" if args.release else "dev (dependencies at opt-level 3, no debug assertions)"))
    if need_peers:
        versions = capture([str(venv_python(args.venv)), "-c",
                            "import torch, torchvision, fastai; "
                            "print(f'torch {torch.__version__}, torchvision {torchvision.__version__}, "
                            "fastai {fastai.__version__}, torch threads {torch.get_num_threads()}')"])
        facts.append(("python side", versions or f"unavailable in {args.venv}"))
    return facts


def format_rate(value):
    if value is None:
        return "—"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def format_mib(value):
    """Formats a byte count in MiB, or an empty string for a missing value."""
    if value is None:
        return ""
    return f"{value / 2**20:.0f}"


def markdown_cell(text):
    return text.replace("|", "\\|").replace("\n", " ⏎ ")


class Cell:
    """All rounds of one implementation on one workload and batch size."""

    def __init__(self):
        self.rates = []
        self.failures = []
        self.wait_shares = []
        self.peak_rss = []

    def median(self):
        return statistics.median(self.rates) if self.rates else None

    def median_peak_rss(self):
        return statistics.median(self.peak_rss) if self.peak_rss else None


def memory_table(plan, cells, fastburn_labels):
    """Renders the peak resident memory of the runs that succeeded, as markdown lines."""
    lines = ["Peak resident set size in MiB, median over the rounds (min and max beside it). "
             "fastburn reads VmHWM and the peers ru_maxrss, each for its whole process after the timed "
             "batches. That counts fastburn's loader threads but not the peers' DataLoader worker "
             "processes, and no GPU memory. A ratio column divides that fastburn device's median by "
             "the row's median: below 1 means fastburn needs less memory. Empty cells are runs that "
             "reported no peak."]
    lines.append("")
    header = ["workload", "batch", "impl", "median peak RSS MiB", "min", "max"]
    header += [f"{label} / impl" for label in fastburn_labels]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join("---" for _ in header) + "|")

    for workload, batch, impls in plan:
        for impl in impls:
            cell = cells.get((workload, batch, impl.label))
            if cell is None or not cell.rates:
                continue
            median = cell.median_peak_rss()
            row = [workload, str(batch), impl.label, format_mib(median),
                   format_mib(min(cell.peak_rss) if cell.peak_rss else None),
                   format_mib(max(cell.peak_rss) if cell.peak_rss else None)]
            for label in fastburn_labels:
                other = cells.get((workload, batch, label))
                other_median = other.median_peak_rss() if other else None
                if label == impl.label:
                    row.append("—")
                elif other_median is None or median is None:
                    row.append("")
                else:
                    row.append(f"{other_median / median:.2f}")
            lines.append("| " + " | ".join(row) + " |")
    return lines


def render_report(args, facts, invocation, plan, cells, fastburn_labels, finished):
    lines = ["# fastburn vs PyTorch/fastai", ""]

    lines.append("Command:")
    lines.append("")
    lines.append("```sh")
    lines.append(invocation)
    lines.append("```")
    lines.append("")
    for name, value in facts:
        lines.append(f"- {name}: {value}")
    iters = "per workload (" + ", ".join(f"{w} {DEFAULT_ITERS[w]}/{DEFAULT_WARMUP[w]}" for w in args.workloads) + ")"
    if args.iters is not None or args.warmup is not None:
        iters = f"iters {args.iters or 'default'}, warmup {args.warmup if args.warmup is not None else 'default'}"
    lines.append(f"- settings: size {args.size}, rounds {args.rounds}, timed/untimed batches {iters}, "
                 f"workers {args.workers}, data {args.data}")
    if not finished:
        lines.append("- **interrupted**: the table covers only the runs that finished")
    lines.append("")

    lines.append("Images per second, median over the rounds (min and max beside it). A ratio column "
                 "divides that fastburn device's median by the row's median: above 1 means fastburn is faster.")
    lines.append("")
    header = ["workload", "batch", "impl", "median images/s", "min", "max", "runs ok"]
    header += [f"{label} / impl" for label in fastburn_labels]
    header.append("notes")
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join("---" for _ in header) + "|")

    failures = []
    for workload, batch, impls in plan:
        for impl in impls:
            cell = cells.get((workload, batch, impl.label))
            if cell is None or not (cell.rates or cell.failures):
                continue
            median = cell.median()
            row = [workload, str(batch), impl.label, format_rate(median),
                   format_rate(min(cell.rates) if cell.rates else None),
                   format_rate(max(cell.rates) if cell.rates else None),
                   f"{len(cell.rates)}/{len(cell.rates) + len(cell.failures)}"]
            for label in fastburn_labels:
                other = cells.get((workload, batch, label))
                other_median = other.median() if other else None
                if label == impl.label or other_median is None or median is None:
                    row.append("—")
                else:
                    row.append(f"{other_median / median:.2f}")
            note = ""
            if cell.wait_shares:
                note = f"waiting for data: {100 * statistics.median(cell.wait_shares):.1f}% of the time"
            if cell.failures:
                # The reason and the last stderr line usually name the problem; the
                # full tail follows the table.
                failure_lines = cell.failures[-1].splitlines()
                summary = failure_lines[:1] + failure_lines[-1:] if len(failure_lines) > 1 else failure_lines
                note = ("failed: " + " — ".join(summary))[:240]
                failures.append((workload, batch, impl.label, cell.failures[-1]))
            row.append(markdown_cell(note))
            lines.append("| " + " | ".join(row) + " |")

    if any(cell.rates for cell in cells.values()):
        lines.append("")
        lines += memory_table(plan, cells, fastburn_labels)

    if failures:
        lines.append("")
        lines.append("## Failures")
        for workload, batch, label, text in failures:
            lines.append("")
            lines.append(f"{workload}, batch {batch}, {label} (last failure):")
            lines.append("")
            lines.append("```text")
            lines.append(text)
            lines.append("```")
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    invocation = shlex.join(["python3"] + sys.argv)

    need_peers = any(peer in VALID_PEERS[workload] for workload in args.workloads for peer in args.peers)
    need_venv = need_peers or any(entry.startswith("tch-") for entry in args.devices)
    if any(workload in DATA_WORKLOADS for workload in args.workloads) and not args.data.is_dir():
        log(f"run.py: warning: data folder {args.data} not found; pipeline and fit-* runs will fail "
            "(set --data or FASTBURN_SHARED)")
    # The venv comes first: the tch build links its LibTorch and the tch runs load it.
    venv_ready = ensure_venv(args) if need_venv else True
    if not venv_ready:
        log("run.py: warning: the PyTorch side is unavailable; its runs will be reported as failed")

    # Read before the builds and runs, so the load average shows how busy the machine was
    # to begin with.
    facts = [] if args.dry_run else machine_facts(args, need_peers and venv_ready)

    fastburn, peers, builds = implementations_for(args)
    for build in builds:
        build.run(args.dry_run)
    plan = []
    for workload in args.workloads:
        impls = fastburn + [peer for peer, name in zip(peers, args.peers) if name in VALID_PEERS[workload]]
        for batch in args.batches:
            if impls:
                plan.append((workload, batch, impls))

    total = sum(len(impls) for _, _, impls in plan) * args.rounds
    cells = {}
    done = 0
    finished = True
    try:
        for workload, batch, impls in plan:
            iters = args.iters if args.iters is not None else DEFAULT_ITERS[workload]
            warmup = args.warmup if args.warmup is not None else DEFAULT_WARMUP[workload]
            for round_index in range(1, args.rounds + 1):
                # Every implementation runs once per round, in the same order, so slow drifts in
                # machine load spread over all of them instead of hitting one.
                for impl in impls:
                    command = impl.command(workload, batch, args.size, iters, warmup, args)
                    if args.dry_run:
                        print(command_line(command, impl.env))
                        continue
                    done += 1
                    cell = cells.setdefault((workload, batch, impl.label), Cell())
                    if impl.build is not None and impl.build.error:
                        rate, failure, elapsed, wait_share, peak_rss = None, impl.build.error, 0.0, None, None
                    else:
                        rate, failure, elapsed, wait_share, peak_rss = run_once(command, impl.env, args.timeout)
                    if rate is None:
                        cell.failures.append(failure)
                        outcome = "FAILED: " + failure.splitlines()[0]
                    else:
                        cell.rates.append(rate)
                        if wait_share is not None:
                            cell.wait_shares.append(wait_share)
                        outcome = f"{rate:.2f} images/s"
                        if peak_rss is not None:
                            cell.peak_rss.append(peak_rss)
                            outcome += f", peak RSS {format_mib(peak_rss)} MiB"
                    log(f"[{done}/{total}] {workload} batch {batch} round {round_index} {impl.label}: "
                        f"{outcome} ({elapsed:.1f} s)")
    except KeyboardInterrupt:
        finished = False
        log("interrupted; reporting the runs that finished")
    if args.dry_run:
        return 0

    fastburn_labels = [impl.label for impl in fastburn]
    report = render_report(args, facts, invocation, plan, cells, fastburn_labels, finished)
    print(report, end="")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report, encoding="utf-8")
        log(f"wrote {args.out}")
    return 0 if finished else 130


if __name__ == "__main__":
    sys.exit(main())
