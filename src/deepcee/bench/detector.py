"""Benchmark the project's own training step and inference, reading real PNG files.

    python -m deepcee.bench.detector --backbone mobilenet_v3_large_fpn --batch 4 \\
        --precision fp32 --steps 10 --size 500 [--mode train|infer|both] [--labels labels.ecsv]

Without ``--labels`` it first writes ``--images`` synthetic PNGs (a red overdensity
on noise, 3-band uint8) to a temporary folder, then reads them back through
``deepcee.detector.dataset`` (the training loader: workers, pinned memory) and times
``deepcee.detector.training.train_step`` (optimiser: the paper's SGD 2e-4, momentum 0.9,
clipping 10; with ``--config config.yaml [more.yaml]`` the detector, optimiser and batch the
workflow trains with) and ``deepcee.detector.inference.predict_batches``. One JSON line per
measurement: images per second and peak memory (CPU: max RSS of this process;
CUDA: ``torch.cuda.max_memory_allocated``), plus docs/design.md §5's H100 figure for the
same backbone/batch/precision where one exists.

With ``--bare`` each mode is also timed on the bare model in the same process: the same
detector and settings fed random images that already sit on the device, with no data
loader and no per-step bookkeeping (the loop of DESIGN's GPU table, docs/design.md §5).
``fraction_of_bare`` is then the share of the bare model's throughput that the project's
own loop reaches on the same card; the target is at least 0.9.

Needs only torch + torchvision + numpy (+ this repo's ``src`` on PYTHONPATH);
astropy is imported only with ``--labels``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time

import torch

from deepcee.bench import at_least, device_name, existing_file, non_negative_int, positive_int
from deepcee.core.errors import DeepCeeError

# docs/design.md §5: one H100, torch 2.11, 1000 px, random images.
# (backbone, mode, batch, precision) -> img/s
H100_BASELINE = {
    ("resnet50_fpn_v2", "train", 1, "fp32"): 17.39,
    ("resnet50_fpn_v2", "train", 1, "bf16"): 15.46,
    ("resnet50_fpn_v2", "train", 8, "bf16"): 43.54,
    ("resnet50_fpn_v2", "train", 16, "fp32"): 49.0,
    ("resnet50_fpn_v2", "train", 32, "fp32"): 52.8,
    ("resnet50_fpn_v2", "infer", 1, "fp32"): 46.58,
    ("resnet50_fpn_v2", "infer", 8, "bf16"): 146.92,
    ("resnet50_fpn_v2", "infer", 32, "bf16"): 137.63,
    ("resnet50_fpn_v2", "infer", 64, "fp32"): 173.8,
    ("mobilenet_v3_large_fpn", "train", 1, "fp32"): 21.8,
    ("mobilenet_v3_large_fpn", "train", 1, "bf16"): 16.63,
    ("mobilenet_v3_large_fpn", "train", 8, "bf16"): 57.64,
    ("mobilenet_v3_large_fpn", "train", 32, "fp32"): 76.9,
    ("mobilenet_v3_large_fpn", "infer", 1, "fp32"): 74.15,
    ("mobilenet_v3_large_fpn", "infer", 8, "bf16"): 204.37,
    ("mobilenet_v3_large_fpn", "infer", 32, "bf16"): 242.15,
}


def peak_memory_mib(device: torch.device) -> dict:
    out = {"peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if device.type == "cuda":
        out["cuda_max_allocated_mib"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
        out["cuda_max_reserved_mib"] = round(torch.cuda.max_memory_reserved(device) / 2**20, 1)
    return out


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(loader, step, args, device) -> dict:
    """Run ``step(images, targets)`` over the loader; time the batches after the warm-up.

    Also measures how long the loop waited for the loader (the data path must never
    limit the accelerator).
    """
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t0 = None
    wait = 0.0
    t_fetch = time.perf_counter()
    for i, (images, targets) in enumerate(loader):
        if i == args.warmup:
            _sync(device)
            t0 = time.perf_counter()
            wait = 0.0
        wait += time.perf_counter() - t_fetch
        step(images, targets)
        t_fetch = time.perf_counter()
    _sync(device)
    dt = time.perf_counter() - t0
    return {
        "img_per_s": round(args.steps * args.batch / dt, 3),
        "seconds": round(dt, 2),
        "loader_wait_fraction": round(wait / dt, 4),
    }


def bench_train(model, samples, args, device) -> dict:
    from deepcee.detector.dataset import DetectionDataset, StepBatchSampler
    from deepcee.detector.training import make_loader, make_optimiser, set_train_mode, train_step

    opt = make_optimiser(model, args.optimiser)
    set_train_mode(model, False)
    total = args.warmup + args.steps
    sampler = StepBatchSampler(len(samples), args.batch, args.seed, total)
    loader = make_loader(DetectionDataset(samples), sampler, device, args.workers)
    return _timed(
        loader,
        lambda images, targets: train_step(model, opt, images, targets, device, args.precision, 10.0),
        args,
        device,
    )


def bench_infer(model, samples, args, device) -> dict:
    from deepcee.detector.dataset import DetectionDataset, collate
    from deepcee.detector.inference import predict_batches

    model.eval()
    n = (args.warmup + args.steps) * args.batch
    idx = [i % len(samples) for i in range(n)]
    ds = torch.utils.data.Subset(DetectionDataset(samples), idx)
    kw = {"prefetch_factor": 4, "persistent_workers": True} if args.workers else {}
    loader = torch.utils.data.DataLoader(
        ds, batch_size=args.batch, num_workers=args.workers, collate_fn=collate, pin_memory=device.type == "cuda", **kw
    )
    # predict_batches returns CPU tensors, so each step is synced.
    return _timed(loader, lambda images, _: predict_batches(model, images, device, args.precision), args, device)


def _random_batch(args, size: int, device) -> tuple[list, list]:
    """Device-resident float images in [0, 1] and one box each: the bare model's input."""
    gen = torch.Generator(device="cpu").manual_seed(args.seed)
    images = [torch.rand(3, size, size, generator=gen).to(device) for _ in range(args.batch)]
    targets = []
    for _ in range(args.batch):
        centre = torch.rand(2, generator=gen) * (size - 200) + 100
        box = torch.cat([centre - 60, centre + 60]).unsqueeze(0).to(device)
        targets.append({"boxes": box, "labels": torch.ones(1, dtype=torch.int64, device=device)})
    return images, targets


def bench_bare(model, mode: str, args, size: int, device) -> dict:
    """The same model and settings with nothing around it: the ceiling for ``_timed``."""
    from deepcee.detector.training import autocast, make_optimiser, set_train_mode

    images, targets = _random_batch(args, size, device)
    if mode == "train":
        opt = make_optimiser(model, args.optimiser)
        set_train_mode(model, False)

        def step():
            with autocast(device, args.precision):
                loss = sum(model(images, targets).values())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            opt.step()
    else:
        model.eval()

        def step():
            with torch.inference_mode(), autocast(device, args.precision):
                model(images)

    for _ in range(args.warmup):
        step()
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step()
    _sync(device)
    dt = time.perf_counter() - t0
    return {"bare_img_per_s": round(args.steps * args.batch / dt, 3)}


def bench_samples(args, workdir: str, device) -> tuple[list, int]:
    """The images to read: a labels.ecsv's training PNGs, or synthetic PNGs written to ``workdir``."""
    if args.labels:
        from deepcee.detector.dataset import check_samples, read_samples

        samples = read_samples(args.labels, split="train")
        return samples, check_samples(samples, args.labels)
    from deepcee.detector.dataset import write_synthetic_pngs

    size = args.size or (1000 if device.type == "cuda" else 500)
    t = time.perf_counter()
    samples = write_synthetic_pngs(workdir, args.images, size, args.seed)
    print(
        json.dumps(
            {
                "event": "wrote_pngs",
                "n": len(samples),
                "size": size,
                "dir": workdir,
                "seconds": round(time.perf_counter() - t, 1),
            }
        ),
        flush=True,
    )
    return samples, size


def run_info(args, size: int, device) -> dict:
    name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"
    )
    return {
        "event": "info",
        "device": name,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "torchvision": __import__("torchvision").__version__,
        "size": size,
        "workers": args.workers,
    }


def _fresh_model(args, size: int, device):
    from deepcee.detector.model import build_detector

    torch.manual_seed(args.seed)
    model = build_detector(args.detector, size).to(device)
    if args.channels_last:
        model.to(memory_format=torch.channels_last)
    return model


def bench_mode(mode: str, samples, size: int, args, device) -> dict:
    """One JSON line: the project's loop, the bare model (``--bare``) and the H100 figure of docs/design.md §5."""
    model = _fresh_model(args, size, device)
    result = (bench_train if mode == "train" else bench_infer)(model, samples, args, device)
    line = {
        "backbone": args.backbone,
        "mode": mode,
        "batch": args.batch,
        "precision": args.precision,
        "size": size,
        "device": device.type,
        "channels_last": args.channels_last,
        "config": args.config,
        **result,
        **peak_memory_mib(device),
    }
    del model
    if args.bare:
        line.update(bench_bare(_fresh_model(args, size, device), mode, args, size, device))
        line["fraction_of_bare"] = round(result["img_per_s"] / line["bare_img_per_s"], 3)
    base = H100_BASELINE.get((args.backbone, mode, args.batch, args.precision))
    if base and device.type == "cuda" and size == 1000 and not args.config:
        line["h100_baseline_img_per_s"] = base
        line["fraction_of_baseline"] = round(result["img_per_s"] / base, 3)
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return line


PAPER_SGD = {"name": "sgd", "lr": 2e-4, "momentum": 0.9, "weight_decay": 0.0}


def _detector_and_optimiser(args) -> None:
    """``args.detector`` and ``args.optimiser``: the workflow's (``--config``) or a bare detector of
    ``--backbone`` with the paper's SGD."""
    if not args.config:
        args.detector, args.optimiser = {"backbone": args.backbone, "weights": "none"}, PAPER_SGD
        return
    from deepcee.core.config import read_config_files
    from deepcee.detector.training import train_config

    train = train_config(read_config_files(args.config).get("train"))
    args.detector = {**train["detector"], "weights": "none"}
    args.optimiser, args.batch, args.backbone = train["optimiser"], train["batch_size"], train["detector"]["backbone"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--backbone", default="mobilenet_v3_large_fpn", choices=["mobilenet_v3_large_fpn", "resnet50_fpn_v2"]
    )
    p.add_argument("--batch", type=positive_int, default=4)
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    p.add_argument("--steps", type=positive_int, default=10, help="timed steps (batches) per mode")
    p.add_argument("--warmup", type=non_negative_int, default=3, help="untimed steps first")
    p.add_argument("--size", type=at_least(32), default=None, help="image side (default 1000 on CUDA, 500 on CPU)")
    p.add_argument("--mode", default="both", choices=["train", "infer", "both"])
    p.add_argument("--images", type=positive_int, default=16, help="synthetic PNGs to write (cycled)")
    p.add_argument("--labels", type=existing_file, default=None, help="read these labels.ecsv training images instead")
    p.add_argument("--workers", type=non_negative_int, default=None, help="DataLoader workers (default 4 CUDA, 1 CPU)")
    p.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads")
    p.add_argument("--device", type=device_name, default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument(
        "--bare",
        action="store_true",
        help="also time the bare model on device-resident random images (same run, same card)",
    )
    p.add_argument("--seed", type=int, default=2019)
    p.add_argument("--workdir", default=None, help="where to write the PNGs (default: a temp dir)")
    p.add_argument(
        "--config",
        nargs="+",
        type=existing_file,
        default=None,
        help="time the step these config files describe (train.detector, .optimiser, .batch_size), "
        "as the workflow trains; weights none",
    )
    args = p.parse_args(argv)

    from deepcee.detector.training import resolve_device

    try:  # a config file that is not YAML or names a bad train key; CUDA asked for without it
        _detector_and_optimiser(args)
        device = resolve_device(args.device)
    except DeepCeeError as err:
        p.error(str(err))
    if args.threads:
        torch.set_num_threads(args.threads)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if args.workers is None:
        args.workers = 4 if device.type == "cuda" else 1
    with tempfile.TemporaryDirectory(prefix="deepcee-bench-") as tmp:
        samples, size = bench_samples(args, args.workdir or tmp, device)
        print(json.dumps(run_info(args, size, device)), flush=True)
        for mode in ["train", "infer"] if args.mode == "both" else [args.mode]:
            print(json.dumps(bench_mode(mode, samples, size, args, device)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
