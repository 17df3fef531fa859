"""PyTorch/fastai side of the fastburn comparison: runs one workload once.

The last line on stdout is one JSON object with the measurement and the process's
peak resident set size. Everything else (thread counts, versions, fastai's own output)
goes to stderr, so run.py can parse stdout without filtering.

    python peer.py --workload train-frozen --impl torch-fp32 --batch 64 --size 224 --iters 3 --warmup 1

Exit status 2 means the arguments were rejected (for example an implementation
that does not apply to the workload).
"""

import argparse
import contextlib
import json
import math
import os
import sys
import time

WORKLOADS = ("inference", "train-frozen", "train-unfrozen", "pipeline", "fit-frozen", "fit-unfrozen")
IMPLS = ("torch-fp32", "torch-bf16", "fastai")
# Implementations that apply to each workload. The model-only workloads compare plain
# PyTorch, and the data and fit workloads need fastai's DataLoaders.
VALID_IMPLS = {
    "inference": ("torch-fp32", "torch-bf16"),
    "train-frozen": ("torch-fp32", "torch-bf16"),
    "train-unfrozen": ("torch-fp32", "torch-bf16"),
    "pipeline": ("fastai",),
    "fit-frozen": ("fastai",),
    "fit-unfrozen": ("fastai",),
}
NUM_CLASSES = 3


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", required=True, choices=WORKLOADS)
    parser.add_argument("--impl", required=True, choices=IMPLS)
    parser.add_argument("--batch", type=int, required=True, help="images per batch")
    parser.add_argument("--size", type=int, required=True, help="square image side in pixels")
    parser.add_argument("--iters", type=int, required=True, help="timed batches")
    parser.add_argument("--warmup", type=int, required=True, help="untimed batches before the timed ones")
    parser.add_argument("--data", help="rock-paper-scissors folder with train/ and valid/ (pipeline and fit-*)")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader worker processes (pipeline and fit-*)")
    parser.add_argument(
        "--device",
        default="cpu",
        choices=("cpu", "cuda"),
        help="torch device; cpu unless a GPU peer is wanted for a fastburn GPU backend",
    )
    args = parser.parse_args(argv)

    problems = []
    if args.impl not in VALID_IMPLS[args.workload]:
        problems.append(
            f"--impl {args.impl} does not apply to --workload {args.workload}; "
            f"use one of: {', '.join(VALID_IMPLS[args.workload])}"
        )
    if args.batch < 1 or args.size < 1 or args.iters < 1 or args.warmup < 0 or args.workers < 0:
        problems.append("--batch, --size and --iters must be at least 1; --warmup and --workers at least 0")
    if args.workload in ("pipeline", "fit-frozen", "fit-unfrozen"):
        if not args.data:
            problems.append(f"--workload {args.workload} reads the real images: pass --data DIR")
        # fastai reports a missing folder only as a TypeError deep inside its Datasets.
        elif not all(os.path.isdir(os.path.join(args.data, split)) for split in ("train", "valid")):
            problems.append(f"--data {args.data} must contain the folders train/ and valid/")
    # BatchNorm1d in the head rejects a training batch of one image.
    if args.workload != "inference" and args.batch < 2:
        problems.append(f"--workload {args.workload} needs --batch of at least 2 (BatchNorm in training mode)")
    if problems:
        for problem in problems:
            print(f"peer.py: error: {problem}", file=sys.stderr)
        sys.exit(2)
    return args


def report_environment(torch, device):
    log(f"torch {torch.__version__}, threads {torch.get_num_threads()}, interop threads {torch.get_num_interop_threads()}")
    log(f"cpu capability {torch.backends.cpu.get_cpu_capability()}, mkldnn {torch.backends.mkldnn.is_available()}")
    if device.type == "cuda":
        log(f"cuda device {torch.cuda.get_device_name(device)}")


def synchronize(torch, device):
    # CUDA kernels run asynchronously; without a sync the clock would stop before the work ends.
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build_model():
    """Builds the ResNet34 that `vision_learner(dls, resnet34, pretrained=False)` builds for 3 classes."""
    from fastai.vision.learner import create_vision_model
    from torchvision.models import resnet34

    # The body is resnet34 without avgpool and fc. The head (concat pooling, then BatchNorm,
    # Dropout and a bias-free Linear twice) gets fastai's kaiming_normal_ init, as in the learner.
    return create_vision_model(resnet34, NUM_CLASSES, pretrained=False)


def freeze_body_except_batchnorm(torch, model):
    """Freezes the body as fastai's `Learner.freeze()` with `train_bn=True` does on this model.

    fastai splits a ResNet into body groups and the head, freezes every group but the
    last, and keeps BatchNorm weights and biases trainable everywhere.
    """
    body = model[0]
    for module in body.modules():
        trainable = isinstance(module, torch.nn.modules.batchnorm._BatchNorm)
        for parameter in module.parameters(recurse=False):
            parameter.requires_grad_(trainable)


def autocast_context(torch, args, device):
    if args.impl == "torch-bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def run_inference(torch, args, device):
    model = build_model().to(device).eval()
    inputs = torch.randn(args.batch, 3, args.size, args.size, device=device)
    with torch.inference_mode():
        for _ in range(args.warmup):
            with autocast_context(torch, args, device):
                model(inputs)
        synchronize(torch, device)
        start = time.perf_counter()
        for _ in range(args.iters):
            with autocast_context(torch, args, device):
                model(inputs)
        synchronize(torch, device)
        seconds = time.perf_counter() - start
    return args.iters * args.batch, seconds


def run_training(torch, args, device):
    model = build_model().to(device)
    if args.workload == "train-frozen":
        freeze_body_except_batchnorm(torch, model)
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    total = sum(p.numel() for p in model.parameters())
    log(f"trainable parameters {sum(p.numel() for p in trainable)} of {total}")
    optimizer = torch.optim.AdamW(trainable, lr=1e-3, betas=(0.9, 0.99), weight_decay=1e-2)
    loss_fn = torch.nn.CrossEntropyLoss()
    inputs = torch.randn(args.batch, 3, args.size, args.size, device=device)
    targets = torch.randint(0, NUM_CLASSES, (args.batch,), device=device)

    def step():
        with autocast_context(torch, args, device):
            loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    for _ in range(args.warmup):
        step()
    synchronize(torch, device)
    start = time.perf_counter()
    for _ in range(args.iters):
        step()
    synchronize(torch, device)
    return args.iters * args.batch, time.perf_counter() - start


def make_dataloaders(args, device):
    from fastai.vision.all import ImageDataLoaders, Normalize, Resize, aug_transforms, imagenet_stats

    return ImageDataLoaders.from_folder(
        args.data,
        train="train",
        valid="valid",
        item_tfms=Resize(args.size),
        batch_tfms=[*aug_transforms(size=args.size), Normalize.from_stats(*imagenet_stats)],
        bs=args.batch,
        num_workers=args.workers,
        # fastai picks a GPU on its own when one exists. The explicit device keeps a CPU
        # run on the CPU on a GPU machine.
        device=device,
    )


def endless_batches(loader):
    """Yields batches from `loader`, starting a new epoch (and new workers) when one ends."""
    while True:
        produced = False
        for batch in loader:
            produced = True
            yield batch
        if not produced:
            raise RuntimeError("the training DataLoader yielded no batches; check that --data has "
                               "at least --batch training images")
        log("training set exhausted; starting a new epoch")


def run_pipeline(torch, args, device):
    dls = make_dataloaders(args, device)
    log(f"training set {len(dls.train_ds)} images, {len(dls.train)} batches per epoch, workers {args.workers}")
    batches = endless_batches(dls.train)
    # The warmup batches include starting the worker processes, which is why the
    # iterator is created once and the clock starts only after them.
    for _ in range(args.warmup):
        next(batches)
    synchronize(torch, device)
    start = time.perf_counter()
    images = 0
    for _ in range(args.iters):
        inputs, _targets = next(batches)
        images += inputs.shape[0]
    synchronize(torch, device)
    return images, time.perf_counter() - start


def run_fit(torch, args, device):
    from fastai.vision.all import (
        Callback,
        CancelFitException,
        CancelValidException,
        accuracy,
        resnet34,
        vision_learner,
    )

    class StopAfterBatches(Callback):
        """Times the last `iters` of `warmup + iters` training batches, then ends the fit.

        The clock runs from before_batch of the first timed batch to after_batch of the
        last one, so it covers loading of every timed batch except the first.
        """

        # Run after the recorder and the schedulers so their per-batch work is timed too.
        order = 100

        def __init__(self, warmup, iters):
            self.warmup, self.iters = warmup, iters
            self.done, self.images = 0, 0
            self.start = self.end = None

        def before_batch(self):
            if self.training and self.done == self.warmup:
                synchronize(torch, device)
                self.start = time.perf_counter()

        def after_batch(self):
            if not self.training:
                return
            if self.done >= self.warmup:
                self.images += self.xb[0].shape[0]
            self.done += 1
            if self.done == self.warmup + self.iters:
                synchronize(torch, device)
                self.end = time.perf_counter()
                raise CancelFitException()

        def before_validate(self):
            raise CancelValidException()

    dls = make_dataloaders(args, device)
    learn = vision_learner(dls, resnet34, pretrained=False, metrics=accuracy)
    # With pretrained=False vision_learner leaves the model unfrozen, so the
    # notebook's frozen stage has to be set up explicitly here.
    if args.workload == "fit-frozen":
        learn.freeze()
    else:
        learn.unfreeze()
    trainable = sum(p.numel() for p in learn.model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in learn.model.parameters())
    log(f"trainable parameters {trainable} of {total}; {len(dls.train)} batches per epoch")

    timer = StopAfterBatches(args.warmup, args.iters)
    needed = args.warmup + args.iters
    epochs = math.ceil(needed / len(dls.train)) + 1
    # fastai writes its progress and metrics tables to stdout, which must carry only the JSON line.
    with contextlib.redirect_stdout(sys.stderr), learn.no_bar():
        learn.fit_one_cycle(epochs, cbs=[timer])
    if timer.start is None or timer.end is None:
        raise RuntimeError(f"fit ended after {timer.done} batches, before the {needed} requested")
    return timer.images, timer.end - timer.start


def peak_rss_bytes():
    """Returns the peak resident set size of this process in bytes, or None off Linux.

    The peak covers the whole process so far, the torch import and the warmup included.
    It leaves out DataLoader worker processes (pipeline and fit-* with --workers above 0)
    and the GPU's memory.
    """
    if not sys.platform.startswith("linux"):
        return None
    import resource

    # getrusage(2) on Linux gives ru_maxrss in kilobytes of 1024 bytes.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # Imported only now, so that rejected arguments fail fast without loading torch.
    import torch

    torch.manual_seed(0)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("peer.py: error: --device cuda requested but torch sees no CUDA device", file=sys.stderr)
        sys.exit(2)
    device = torch.device(args.device)
    report_environment(torch, device)

    if args.workload == "inference":
        images, seconds = run_inference(torch, args, device)
    elif args.workload in ("train-frozen", "train-unfrozen"):
        images, seconds = run_training(torch, args, device)
    elif args.workload == "pipeline":
        images, seconds = run_pipeline(torch, args, device)
    else:
        images, seconds = run_fit(torch, args, device)

    result = {
        "workload": args.workload,
        "impl": args.impl,
        "batch": args.batch,
        "size": args.size,
        "images": images,
        "seconds": round(seconds, 4),
        "images_per_s": round(images / seconds, 3) if seconds > 0 else None,
        "peak_rss_bytes": peak_rss_bytes(),
    }
    if args.device != "cpu":
        result["device"] = args.device
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
