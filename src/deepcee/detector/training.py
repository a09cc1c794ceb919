"""Train the detector: device choice, bf16 option, clipping, checkpoints that resume.

A run writes, in its own folder of ``checkpoint_dir`` (never a Snakemake output, so a failed
job does not delete it), named by the hash of what it learns from (the train keys that change
the weights, the seed, the labels file; ``run_folder``): ``last.pt`` (model, optimiser, step, RNG state, config hash;
written atomically every ``checkpoint_every`` steps) and ``losses.csv`` (one row per
step, appended live). Run again after any interruption — even ``kill -9`` — it
reloads ``last.pt``, drops loss rows beyond its step and continues to the same
final step with the same batches (``StepBatchSampler``) and RNG state, so on CPU
the resumed run reproduces the uninterrupted one. A changed config starts fresh in a folder of
its own; a restored one resumes in its old folder; the ``KEEP_RUNS`` newest folders are kept.
At the end the model, the loss
table and a summary are copied to the declared outputs.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from deepcee.core.config import with_defaults
from deepcee.core.contracts import read_table, write_table
from deepcee.core.errors import DamagedFileError, DeepCeeError
from deepcee.core.files import atomic_path, config_hash, file_sha256
from deepcee.detector.dataset import (
    DetectionDataset,
    StepBatchSampler,
    check_samples,
    collate,
    labels_output_size,
    png_size,
    read_negatives,
    read_samples,
)
from deepcee.detector.model import CLASSES, build_detector, detector_config

LOSS_KEYS = {  # losses.csv column -> torchvision loss name
    "loss_rpn_objectness": "loss_objectness",
    "loss_rpn_box": "loss_rpn_box_reg",
    "loss_classifier": "loss_classifier",
    "loss_box_reg": "loss_box_reg",
}
LOSS_COLUMNS = ["step", "loss_total", *LOSS_KEYS, "lr", "seconds"]

# Keys that do not change what is learned: a checkpoint may be resumed across them.
RUNTIME_KEYS = ("device", "workers", "checkpoint_every", "threads", "runtime_min", "predict", "figures")


def train_config(cfg: dict | None) -> dict:
    """The ``train:`` section, complete: Snakemake's validate has filled schemas/train.schema.yaml's
    defaults in the workflow; callers outside it (tests, benchmarks) get them filled here, from the
    same schema. Bad keys or values are one line naming the key."""
    out = with_defaults("train", cfg)
    out["detector"] = detector_config(out["detector"])
    return out


# Detector keys torchvision uses only when it predicts (the box head's score cut, NMS and box
# count, the RPN's test-time proposal counts): changing one re-saves the model, it does not retrain.
INFERENCE_DETECTOR_KEYS = (
    "box_score_thresh",
    "box_nms_thresh",
    "box_detections_per_img",
    "rpn_pre_nms_top_n_test",
    "rpn_post_nms_top_n_test",
)


def learning_hash(cfg: dict, seed: int) -> str:
    """Hash of everything that changes the trained weights (not device, workers, inference-only keys...)."""
    learned = {k: v for k, v in cfg.items() if k not in RUNTIME_KEYS}
    if isinstance(learned.get("detector"), dict):
        learned["detector"] = {k: v for k, v in learned["detector"].items() if k not in INFERENCE_DETECTOR_KEYS}
    return config_hash({"seed": seed, **learned})


#: Checkpoint folders (one per config and labels file) kept in ``checkpoint_dir``; older ones go.
KEEP_RUNS = 3


def run_folder(checkpoint_dir: Path, chash: str, data_sha: str) -> Path:
    """The checkpoint folder of one training config on one labels file."""
    return Path(checkpoint_dir) / f"{chash[:12]}-{data_sha[:12]}"


def _prune_runs(checkpoint_dir: Path, current: Path, log) -> None:
    """Remove all but the ``KEEP_RUNS`` most recently used run folders (``current`` is always kept)."""
    others = [p for p in checkpoint_dir.iterdir() if p.is_dir() and p != current and (p / "losses.csv").exists()]
    others.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for old in others[KEEP_RUNS - 1 :]:
        log(f"removing the checkpoints of an older train config: {old}")
        shutil.rmtree(old, ignore_errors=True)


def resolve_device(requested: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cuda`` without CUDA → one line."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise DeepCeeError(
            f"config key 'train.device' is {requested!r} but this machine has no usable CUDA "
            f"(torch {torch.__version__}, built for CUDA {torch.version.cuda}); use 'auto' or 'cpu'"
        )
    if requested not in ("cpu",) and not requested.startswith("cuda"):
        raise DeepCeeError(f"config key 'train.device': {requested!r} is not auto, cuda or cpu")
    return torch.device(requested)


def make_optimiser(model: torch.nn.Module, opt: dict) -> torch.optim.Optimizer:
    """SGD (the paper's) or AdamW; AdamW runs fused (one kernel over all tensors, not a Python
    loop per tensor), which on two CPU threads took its update from 111 to ~80 ms a step."""
    params = [p for p in model.parameters() if p.requires_grad]
    if opt["name"] == "sgd":
        return torch.optim.SGD(params, lr=opt["lr"], momentum=opt["momentum"], weight_decay=opt["weight_decay"])
    return torch.optim.AdamW(params, lr=opt["lr"], weight_decay=opt["weight_decay"], fused=True)


def learning_rate(opt: dict, step: int, total: int) -> float:
    """lr at 1-based ``step``: linear warm-up, then constant (paper) or cosine decay."""
    lr = opt["lr"]
    if opt["warmup_steps"] and step <= opt["warmup_steps"]:
        return lr * step / opt["warmup_steps"]
    if opt["schedule"] == "cosine":
        start = opt["warmup_steps"]
        frac = (step - start) / max(1, total - start)
        lo = opt["min_lr_fraction"]
        return lr * (lo + (1 - lo) * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))
    return lr


def set_train_mode(model: torch.nn.Module, freeze_batchnorm: bool) -> None:
    """model.train(), with BatchNorm layers kept in eval mode if asked (batch-1 fine-tuning)."""
    model.train()
    if freeze_batchnorm:
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.eval()
                for p in module.parameters():
                    p.requires_grad_(False)


def to_device(images, targets, device: torch.device):
    """uint8 CHW images → float [0, 1] on ``device``; targets moved too."""
    nb = device.type == "cuda"
    out = [img.to(device, non_blocking=nb).float().div_(255.0) for img in images]
    tg = None
    if targets is not None:
        tg = [{k: v.to(device, non_blocking=nb) for k, v in t.items()} for t in targets]
    return out, tg


def autocast(device: torch.device, precision: str):
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def train_step(model, optimiser, images, targets, device, precision="fp32", clip=10.0) -> list[float]:
    """One optimiser step; returns [total, rpn_objectness, rpn_box, classifier, box_reg]."""
    images, targets = to_device(images, targets, device)
    with autocast(device, precision):
        losses = model(images, targets)
    parts = torch.stack([losses[LOSS_KEYS[k]].float() for k in LOSS_KEYS])
    total = parts.sum()
    optimiser.zero_grad(set_to_none=True)
    total.backward()
    if clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimiser.step()
    values = torch.cat([total.detach()[None], parts.detach()]).tolist()
    return values


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        with contextlib.suppress(Exception):
            torch.cuda.set_rng_state_all(state["cuda"])


def _truncate_losses(path: Path, step: int) -> None:
    """Keep the header and complete rows with step <= ``step`` (a kill -9 may cut a line)."""
    if not path.exists():
        return
    keep = [",".join(LOSS_COLUMNS)]
    with open(path, newline="") as handle:
        for i, line in enumerate(handle.read().splitlines()):
            if i == 0 or not line.endswith(tuple("0123456789")):
                continue
            fields = line.split(",")
            if len(fields) == len(LOSS_COLUMNS) and fields[0].isdigit() and int(fields[0]) <= step:
                keep.append(line)
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(keep) + "\n")


def _worker_init(worker_id: int) -> None:
    """One intra-op thread per worker (the main process keeps its own count)."""
    torch.set_num_threads(1)


def make_loader(dataset, batch_sampler, device: torch.device, workers: int, seed: int = 0):
    kwargs: dict[str, Any] = {}
    if workers > 0:
        kwargs = {"persistent_workers": True, "prefetch_factor": 4, "worker_init_fn": _worker_init}
    # Its own generator: creating the iterator must not draw from the global torch RNG (which
    # the RPN/RoI samplers use and checkpoints restore), or a resumed run would drift. It also
    # seeds each worker's torch RNG (base seed + worker id), so workers are reproducible too.
    from deepcee.core.seeds import int_seed

    generator = torch.Generator().manual_seed(int_seed(seed, "train", "loader") % (2**63 - 1))
    return torch.utils.data.DataLoader(
        dataset,
        batch_sampler=batch_sampler,
        num_workers=workers,
        collate_fn=collate,
        pin_memory=device.type == "cuda",
        generator=generator,
        **kwargs,
    )


def _progress(total: int, initial: int):
    try:
        from tqdm import tqdm

        return tqdm(
            total=total,
            initial=initial,
            desc="train",
            unit="step",
            file=sys.stderr,
            mininterval=5.0,
            dynamic_ncols=False,
            ncols=100,
        )
    except ImportError:  # benchmark boxes with torch only
        return None


def save_torch(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to memory, then write the bytes atomically.

    Saving straight into ``atomic_path``'s temporary file would name the zip archive's
    inner folder after that random name, so two identical runs would differ in bytes.
    """
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())


def load_torch(path: str | os.PathLike, what: str = "checkpoint") -> Any:
    """``torch.load(weights_only=True)``: tensors and plain types only, never arbitrary pickles.

    Anything else (an unreadable file, a pickled object) is a one-line DeepCeeError naming the file.
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        reason = str(err).strip().splitlines()[0][:120] if str(err).strip() else ""
        if "weights_only" in str(err) or "Unsupported global" in str(err):
            reason = "holds objects other than tensors and plain types; refusing to unpickle it"
        raise DamagedFileError(f"{path}: unreadable {what} ({type(err).__name__}: {reason})") from None


@contextlib.contextmanager
def deterministic(device: torch.device):
    """On CPU, deterministic kernels for the duration of a run (restored afterwards).

    oneDNN's depthwise-convolution weight gradient (MobileNetV3's backbone) otherwise sums
    per-thread partial results in the order the threads finish. That is not enough with
    several intra-op threads: 2-thread runs on a busy machine still differed in the last bits
    (first in the box classifier's loss: MKL's threaded products, most likely). The promise is therefore
    bit-identical losses and
    ``model.pt`` on CPU with one intra-op thread (``train.threads: 1``, recorded in the
    summary); with more, equal to rounding. CUDA runs are not made deterministic
    (``use_deterministic_algorithms`` would refuse torchvision's RoIAlign backward there).
    """
    if device.type != "cpu":
        yield
        return
    before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.mkldnn.deterministic,
    )
    torch.use_deterministic_algorithms(True)
    torch.backends.mkldnn.deterministic = True
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
        torch.backends.mkldnn.deterministic = before[2]


def _setup_device(cfg: dict, threads: int | None) -> torch.device:
    """The device, a fixed intra-op thread count, and TF32 on CUDA."""
    if threads:
        torch.set_num_threads(int(threads))
    device = resolve_device(str(cfg["device"]))
    if device.type == "cuda":  # as docs/design.md §5's baseline: fixed-size inputs, TF32 tensor cores
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return device


def _resume(ckpt_path: Path, model, optimiser, chash: str, data_sha: str, labels_path, log) -> tuple[int, float]:
    """Load ``last.pt`` into model and optimiser (after checking it fits); returns (step, seconds)."""
    ckpt = load_torch(ckpt_path, "checkpoint")
    checkpoint_dir = ckpt_path.parent
    if not isinstance(ckpt, dict):
        raise DeepCeeError(f"{ckpt_path}: not a Deep-CEE checkpoint; delete {checkpoint_dir} to start over")
    if ckpt.get("config_hash") != chash:
        raise DeepCeeError(
            f"{ckpt_path}: checkpoint was written for another train config (hash {ckpt.get('config_hash')} "
            f"!= {chash}); delete {checkpoint_dir} to start over or restore that config"
        )
    if ckpt.get("data_sha256") != data_sha:
        raise DeepCeeError(
            f"{ckpt_path}: checkpoint was trained on a different {labels_path}; delete {checkpoint_dir} to start over"
        )
    model.load_state_dict(ckpt["model"])
    optimiser.load_state_dict(ckpt["optimiser"])
    _set_rng_state(ckpt["rng"])
    step, seconds = int(ckpt["step"]), float(ckpt.get("seconds", 0.0))
    log(f"resuming from {ckpt_path} at step {step}")
    return step, seconds


def _tensorboard(tensorboard_dir, start_step: int, log):
    if tensorboard_dir is None:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(str(tensorboard_dir), purge_step=start_step + 1)
    except ImportError:
        log("tensorboard not installed: losses go to losses.csv only")
        return None


def _run_steps(
    model,
    optimiser,
    loader,
    cfg: dict,
    device,
    start_step: int,
    elapsed: float,
    live_losses: Path,
    save_checkpoint,
    writer,
    on_step,
) -> tuple[int, int]:
    """The training loop: one row of ``losses.csv`` per step, checkpoints every N steps.

    Returns (last step, images seen in this run).
    """
    total_steps = int(cfg["steps"])
    clip = float(cfg["optimiser"]["clip_grad_norm"])
    bar = _progress(total_steps, start_step)
    step, n_images = start_step, 0
    t_run = time.perf_counter()
    try:
        with open(live_losses, "a", newline="") as handle:
            for step, (images, targets) in enumerate(loader, start=start_step + 1):
                lr = learning_rate(cfg["optimiser"], step, total_steps)
                for group in optimiser.param_groups:
                    group["lr"] = lr
                values = train_step(model, optimiser, images, targets, device, cfg["precision"], clip)
                n_images += len(images)
                if not all(math.isfinite(v) for v in values):
                    raise DeepCeeError(
                        f"step {step}: the loss is not finite ({values[0]}); "
                        f"lower train.optimiser.lr (now {cfg['optimiser']['lr']})"
                    )
                seconds = elapsed + time.perf_counter() - t_run
                handle.write(
                    ",".join([str(step)] + [f"{v:.6g}" for v in values] + [f"{lr:.6g}", f"{seconds:.3f}"]) + "\n"
                )
                handle.flush()
                if writer is not None:
                    for name, value in zip(["loss_total", *LOSS_KEYS], values):
                        writer.add_scalar(f"loss/{name}", value, step)
                    writer.add_scalar("lr", lr, step)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{values[0]:.3f}", refresh=False)
                if step % int(cfg["checkpoint_every"]) == 0 or step == total_steps:
                    os.fsync(handle.fileno())
                    save_checkpoint(step, seconds)
                if on_step is not None:
                    on_step(step, values)
    finally:
        if bar is not None:
            bar.close()
        if writer is not None:
            writer.close()
    return step, n_images


def train(
    cfg: dict | None,
    seed: int,
    labels_path: str | os.PathLike,
    model_path: str | os.PathLike,
    losses_path: str | os.PathLike,
    checkpoint_dir: str | os.PathLike,
    tensorboard_dir: str | os.PathLike | None = None,
    summary_path: str | os.PathLike | None = None,
    threads: int | None = None,
    root: str | os.PathLike | None = None,
    on_step: Callable[[int, list[float]], None] | None = None,
    log: Callable[[str], None] = print,
    negatives_path: str | os.PathLike | None = None,
) -> dict:
    """Train (or resume training) the detector; returns the summary dict.

    ``negatives_path``: the image stage's hard negatives (training images with no box), trained
    on beside the labelled images where it lists any.

    ``on_step(step, losses)`` is called after each step (tests use it to interrupt).
    On CPU, the same config, seed, data and ``threads`` give bit-identical losses and a
    byte-identical ``model.pt`` (see ``deterministic``); the thread count is in the summary.
    """
    cfg = train_config(cfg)
    device = _setup_device(cfg, threads)
    with deterministic(device):
        return _train(
            cfg,
            seed,
            device,
            labels_path,
            model_path,
            losses_path,
            Path(checkpoint_dir),
            tensorboard_dir,
            summary_path,
            root,
            on_step,
            log,
            negatives_path,
        )


def _train(
    cfg,
    seed,
    device,
    labels_path,
    model_path,
    losses_path,
    checkpoint_dir: Path,
    tensorboard_dir,
    summary_path,
    root,
    on_step,
    log,
    negatives_path=None,
) -> dict:
    samples = read_samples(labels_path, split="train", root=root)
    negatives = read_negatives(negatives_path, root=root) if negatives_path is not None else []
    # the reference side (the pixel scale's): the labels' output_size, else the largest PNG side
    image_size = check_samples(samples, str(labels_path), labels_output_size(labels_path))
    if negatives:
        check_samples(negatives, str(negatives_path), image_size)
    samples = samples + negatives
    sides = [png_size(s.png)[0] for s in samples]  # PNG headers only
    chash = learning_hash(cfg, seed)
    data_sha = file_sha256(labels_path)
    if negatives:  # the negatives are training data too: a checkpoint of another set is not resumed
        data_sha = hashlib.sha256(f"{data_sha}:{file_sha256(negatives_path)}".encode()).hexdigest()
    run_dir = run_folder(checkpoint_dir, chash, data_sha)
    run_dir.mkdir(parents=True, exist_ok=True)
    os.utime(run_dir)  # the most recently used run is the last to be pruned
    _prune_runs(checkpoint_dir, run_dir, log)
    ckpt_path = run_dir / "last.pt"
    live_losses = run_dir / "losses.csv"

    from deepcee.core.seeds import int_seed

    torch.manual_seed(int_seed(seed, "train", "init") % (2**63 - 1))
    model = build_detector(cfg["detector"], image_size)
    model.to(device)
    if cfg["channels_last"]:
        model.to(memory_format=torch.channels_last)
    optimiser = make_optimiser(model, cfg["optimiser"])

    start_step, elapsed = 0, 0.0
    if ckpt_path.exists():
        start_step, elapsed = _resume(ckpt_path, model, optimiser, chash, data_sha, labels_path, log)
        _truncate_losses(live_losses, start_step)
    else:
        with atomic_path(live_losses) as tmp:
            tmp.write_text(",".join(LOSS_COLUMNS) + "\n")

    def save_checkpoint(step: int, seconds: float) -> None:
        save_torch(
            {
                "model": model.state_dict(),
                "optimiser": optimiser.state_dict(),
                "step": step,
                "seconds": seconds,
                "rng": _rng_state(),
                "config_hash": chash,
                "data_sha256": data_sha,
                "config": cfg,
                "seed": seed,
                "image_size": image_size,
            },
            ckpt_path,
        )

    total_steps = int(cfg["steps"])
    # one image side per batch (one group: the same batches as without groups)
    sampler = StepBatchSampler(len(samples), int(cfg["batch_size"]), seed, total_steps, start_step, groups=sides)
    set_train_mode(model, bool(cfg["detector"]["freeze_batchnorm"]))
    counts = {side: sides.count(side) for side in sorted(set(sides))}
    what = (
        f"of {image_size} px"
        if list(counts) == [image_size]
        else "(" + ", ".join(f"{c} of {side} px" for side, c in counts.items()) + f"; scale set by {image_size} px)"
    )
    log(
        f"training {cfg['detector']['backbone']} on {len(samples)} images {what}"
        + (f" ({len(negatives)} of them hard negatives, no box)" if negatives else "")
        + ", "
        f"steps {start_step + 1}..{total_steps}, batch {cfg['batch_size']}, {device}, {cfg['precision']}, "
        f"{torch.get_num_threads()} threads"
    )
    t_run = time.perf_counter()
    step, n_images = start_step, 0
    if len(sampler):
        loader = make_loader(DetectionDataset(samples), sampler, device, int(cfg["workers"]), seed)
        step, n_images = _run_steps(
            model,
            optimiser,
            loader,
            cfg,
            device,
            start_step,
            elapsed,
            live_losses,
            save_checkpoint,
            _tensorboard(tensorboard_dir, start_step, log),
            on_step,
        )
    run_seconds = time.perf_counter() - t_run
    if step != total_steps:
        raise DeepCeeError(f"training stopped at step {step} of {total_steps}")
    summary = _write_outputs(
        model,
        cfg,
        seed,
        device,
        len(samples),
        image_size,
        chash,
        data_sha,
        start_step,
        elapsed + run_seconds,
        n_images / run_seconds if n_images else None,
        live_losses,
        model_path,
        losses_path,
        summary_path,
    )
    log(f"trained {total_steps} steps in {elapsed + run_seconds:.0f} s; model → {model_path}")
    return summary


def _write_outputs(
    model,
    cfg,
    seed,
    device,
    n_train,
    image_size,
    chash,
    data_sha,
    start_step,
    total_seconds,
    images_per_second,
    live_losses,
    model_path,
    losses_path,
    summary_path,
) -> dict:
    """The declared outputs: ``model.pt`` (tensors and plain types only), the loss table, the summary."""
    total_steps = int(cfg["steps"])
    meta = {
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "detector": cfg["detector"],
        "image_size": image_size,
        "classes": list(CLASSES),
        "train_config": cfg,
        "seed": seed,
        "step": total_steps,
        "config_hash": chash,
        "data_sha256": data_sha,
    }
    save_torch(meta, model_path)
    write_table("losses", read_table("losses", live_losses), losses_path)
    rows = read_losses(losses_path)
    tail = rows[-min(len(rows), 50) :]
    summary = {
        "counts": {
            "train_images": n_train,
            "steps": total_steps,
            "batch_size": int(cfg["batch_size"]),
            "resumed_from_step": start_step,
        },
        "image_size": image_size,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "deterministic": device.type == "cpu",
        "seconds": round(total_seconds, 1),
        "images_per_second_this_run": round(images_per_second, 3) if images_per_second else None,
        "final_losses_mean_last_50": {k: sum(r[k] for r in tail) / len(tail) for k in ["loss_total", *LOSS_KEYS]},
        "parameters": sum(p.numel() for p in model.parameters()),
        "skipped_pretrained_tensors": getattr(model, "deepcee_skipped_weights", None),
    }
    if summary_path is not None:
        from deepcee.core.contracts import write_summary

        summary = write_summary(
            summary_path,
            summary.pop("counts"),
            config={"seed": seed, "train": cfg},
            learning_hash=chash,
            contract="train_summary",
            **summary,
        )
    return summary


def read_losses(path: str | os.PathLike) -> list[dict]:
    """losses.csv as a list of dicts of floats (step as int)."""
    table = read_table("losses", path)
    return [{c: (int(row[c]) if c == "step" else float(row[c])) for c in table.colnames} for row in table]
