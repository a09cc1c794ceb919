"""A short training of the paper's detector on a GPU: does the loss fall, does a killed run
resume, do predictions land on the right sky positions?

    python -m deepcee.bench.gpu_check --labels results/02_images/labels.ecsv --workdir /tmp/gpu-check

Runs the project's own ``train`` in a child process, kills it with SIGKILL once a
checkpoint past ``--kill-after`` steps exists, runs ``train`` again (it must resume, not
restart), then predicts on the test split and measures how far the highest-scoring box of
each test image lies from its catalogue cluster (kpc at the cluster's redshift). One JSON
line per phase. Meant for a GPU (``--device cuda``), but runs anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from deepcee.bench import device_name, existing_dir, existing_file, non_negative_int, positive_float, positive_int


def _train_config(args) -> dict:
    """The paper profile's detector (docs/design.md §5), shortened to a quick check."""
    return {
        "device": args.device,
        "steps": args.steps,
        "batch_size": args.batch,
        "workers": args.workers,
        "precision": args.precision,
        "checkpoint_every": args.checkpoint_every,
        "detector": {
            "backbone": args.backbone,
            "weights": "none",
            "image_size": None,
            "roi_crop_size": 14,
            "roi_maxpool": 2,
        },
        "optimiser": {
            "name": "adamw",
            "lr": args.lr,
            "weight_decay": 1e-4,
            "clip_grad_norm": 10.0,
            "warmup_steps": 20,
            "schedule": "cosine",
            "min_lr_fraction": 0.05,
        },
    }


def _live_steps(checkpoints: Path) -> int:
    """Steps logged so far by the run in ``checkpoints`` (its one config folder, once it has a checkpoint)."""
    for run in checkpoints.glob("*/last.pt") if checkpoints.is_dir() else []:
        live = run.parent / "losses.csv"
        if live.exists():
            return max(0, len(live.read_text().splitlines()) - 1)
    return 0


def kill_during_training(args, work: Path) -> dict:
    """Start training in a child process and SIGKILL it after ``--kill-after`` logged steps."""
    call = (
        f"from deepcee.detector.training import train\n"
        f"train({_train_config(args)!r}, {args.seed}, {args.labels!r}, {str(work / 'model.pt')!r}, "
        f"{str(work / 'losses.csv')!r}, {str(work / 'checkpoints')!r}, root={args.root!r}, log=lambda m: None)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", call], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t0 = time.perf_counter()
    while proc.poll() is None and _live_steps(work / "checkpoints") < args.kill_after:
        time.sleep(0.2)
    if proc.poll() is not None:
        raise SystemExit(
            f"training ended before the kill (rc {proc.returncode}): {proc.stderr.read().decode()[-2000:]}"
        )
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return {
        "phase": "killed",
        "after_logged_steps": _live_steps(work / "checkpoints"),
        "seconds": round(time.perf_counter() - t0, 1),
        "model_written": (work / "model.pt").exists(),
    }


def resume_training(args, work: Path) -> dict:
    from deepcee.detector.training import read_losses, train

    t0 = time.perf_counter()
    summary = train(
        _train_config(args),
        args.seed,
        args.labels,
        work / "model.pt",
        work / "losses.csv",
        work / "checkpoints",
        root=args.root,
        log=lambda m: None,
    )
    rows = read_losses(work / "losses.csv")
    steps = [r["step"] for r in rows]
    first = [r["loss_total"] for r in rows[:20]]
    last = [r["loss_total"] for r in rows[-20:]]
    counts = summary["counts"]
    return {
        "phase": "resumed",
        "resumed_from_step": counts.get("resumed_from_step"),
        "steps_continuous": steps == list(range(1, args.steps + 1)),
        "loss_first20_mean": round(sum(first) / len(first), 4),
        "loss_last20_mean": round(sum(last) / len(last), 4),
        "train_img_per_s": summary.get("images_per_second_this_run"),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def predict_and_locate(args, work: Path) -> dict:
    """Top box of each test image against its cluster: the sky path end to end."""
    import numpy as np

    from deepcee.core.contracts import read_table
    from deepcee.core.cosmology import arcsec_to_kpc
    from deepcee.detector.inference import predict_labels
    from deepcee.images.labels import png_pixel_to_sky

    t0 = time.perf_counter()
    pred = predict_labels(
        work / "model.pt",
        args.labels,
        work / "predictions.ecsv",
        split="test",
        cfg={"device": args.device, "batch_size": 8, "precision": args.precision, "workers": args.workers},
        root=args.root,
        log=lambda m: None,
    )
    labels = read_table("labels", args.labels)
    labels = labels[labels["split"] == "test"]
    distances, truth_offsets = [], []
    for row in labels:
        fits = os.path.join(args.root, str(row["fits"]))
        # The truth box centre mapped back to the sky must sit on the catalogue cluster.
        ra_c, dec_c = png_pixel_to_sky(fits, row["x"], row["y"], _png_side(args, row))
        truth_offsets.append(_sep_arcsec(ra_c, dec_c, row["ra"], row["dec"]))
        mine = pred[pred["view"] == row["view"]]
        if len(mine):
            top = mine[int(np.argmax(mine["score"]))]
            sep = _sep_arcsec(top["ra"], top["dec"], row["ra"], row["dec"])
            distances.append(float(arcsec_to_kpc(sep, float(row["z"]))))
    d = np.asarray(distances)
    return {
        "phase": "predicted",
        "test_images": len(labels),
        "boxes": len(pred),
        "truth_box_centre_to_cluster_arcsec_max": round(float(max(truth_offsets)), 3),
        "top_box_kpc_median": round(float(np.median(d)), 1) if len(d) else None,
        "top_box_within_100kpc": int((d <= 100).sum()),
        "top_box_within_250kpc": int((d <= 250).sum()),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def _png_side(args, row) -> int:
    from deepcee.detector.dataset import png_size

    return png_size(os.path.join(args.root, str(row["png"])))[0]


def _sep_arcsec(ra1, dec1, ra2, dec2) -> float:
    import astropy.units as u
    from astropy.coordinates import angular_separation

    return float(angular_separation(ra1 * u.deg, dec1 * u.deg, ra2 * u.deg, dec2 * u.deg).to(u.arcsec).value)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--labels", required=True, type=existing_file, help="labels.ecsv of rendered views (train, test)")
    p.add_argument("--root", default=".", type=existing_dir, help="folder the labels' png/fits paths are relative to")
    p.add_argument("--workdir", required=True)
    p.add_argument("--backbone", default="resnet50_fpn_v2", choices=["resnet50_fpn_v2", "mobilenet_v3_large_fpn"])
    p.add_argument("--device", type=device_name, default="cuda")
    p.add_argument("--steps", type=positive_int, default=300)
    p.add_argument("--kill-after", type=positive_int, default=120, help="logged steps before the kill (< --steps)")
    p.add_argument("--checkpoint-every", type=positive_int, default=50, help="steps (< --steps)")
    p.add_argument("--batch", type=positive_int, default=8)
    p.add_argument("--precision", default="bf16", choices=["fp32", "bf16"])
    p.add_argument("--lr", type=positive_float, default=2e-4)
    p.add_argument("--workers", type=non_negative_int, default=4)
    p.add_argument("--seed", type=int, default=2019)
    args = p.parse_args(argv)
    # the run must be killed after a checkpoint and before its end, or there is nothing to resume
    for flag, value in (("--kill-after", args.kill_after), ("--checkpoint-every", args.checkpoint_every)):
        if value >= args.steps:
            p.error(f"argument {flag}: must be below --steps ({args.steps}), or the run ends before the kill")
    args.root = str(Path(args.root).resolve())
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    for phase in (kill_during_training, resume_training, predict_and_locate):
        print(json.dumps(phase(args, work)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
