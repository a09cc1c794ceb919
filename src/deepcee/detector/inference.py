"""Batched prediction: every box with its score, in image pixels and on the sky.

``predict_images`` works for any list of PNGs (the test set, the redMaPPer region):
the detector is built with ``box_score_thresh=0`` and 300 detections per image, so
the threshold sweep downstream sees every box. The PNGs may be square images of several
sizes at one sky pixel scale (the model resizes them all by one factor). Box coordinates are
pixels of each box's own PNG (0-based, x right, y down, PNG row 0 at the top); RA/Dec come from the view's
FITS WCS through ``deepcee.images.labels.png_pixel_to_sky`` (the image stage's function,
the inverse of the one that placed the labels' boxes).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from deepcee.core.config import with_defaults
from deepcee.core.errors import DamagedFileError, DeepCeeError
from deepcee.detector.dataset import DetectionDataset, Sample, collate, png_size, read_samples
from deepcee.detector.model import build_detector
from deepcee.detector.training import autocast, load_torch, resolve_device, to_device
from deepcee.images.labels import png_pixel_to_sky

PREDICTION_COLUMNS = ["view", "x", "y", "x0", "y0", "x1", "y1", "score", "ra", "dec"]


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu"):
    """The trained detector from ``model.pt`` (eval mode) and its metadata."""
    path = Path(path)
    if not path.is_file():
        raise DeepCeeError(f"{path}: model file not found")
    meta = load_torch(path, "model file")  # weights_only: a pickled object is refused, never run
    if not isinstance(meta, dict) or "model" not in meta or "detector" not in meta:
        raise DamagedFileError(f"{path}: not a Deep-CEE model file (no 'model'/'detector' entries)")
    cfg = dict(meta["detector"], weights="none")
    model = build_detector(cfg, int(meta["image_size"]), load_weights=False)
    try:
        model.load_state_dict(meta["model"])
    except RuntimeError as err:
        raise DamagedFileError(
            f"{path}: weights do not fit the detector it names ({str(err).splitlines()[0][:80]})"
        ) from None
    model.to(torch.device(device) if not isinstance(device, torch.device) else device).eval()
    return model, meta


@torch.inference_mode()
def predict_batches(model, images: list[torch.Tensor], device: torch.device, precision: str = "fp32"):
    """Model outputs (boxes, scores on CPU, float32) for one list of uint8 images."""
    images, _ = to_device(images, None, device)
    with autocast(device, precision):
        out = model(images)
    return [{"boxes": o["boxes"].float().cpu(), "scores": o["scores"].float().cpu()} for o in out]


def predict_images(
    model,
    png_paths: Sequence[str],
    fits_paths: Sequence[str] | None = None,
    views: Sequence[str] | None = None,
    batch_size: int = 8,
    device: str | torch.device = "auto",
    precision: str = "fp32",
    workers: int = 0,
    progress: bool = True,
):
    """Every box the detector gives for each PNG → astropy Table (PREDICTION_COLUMNS).

    ``fits_paths`` (same order) give RA/Dec through each view's WCS; without them
    ra/dec are NaN. ``views`` default to the PNG file stems. PNGs may be square images of
    several sizes: the model resizes each by its one factor (``FixedScaleTransform``), each
    batch holds images of one size (``size_batches``), and the rows keep the input order.
    """
    if not isinstance(device, torch.device):
        device = resolve_device(str(device))
    model.to(device).eval()
    samples = _samples(png_paths, fits_paths, views)
    batches = size_batches([png_size(s.png) for s in samples], batch_size)  # PNG headers only
    loader = torch.utils.data.DataLoader(
        DetectionDataset(samples),
        batch_sampler=batches,
        num_workers=workers,
        collate_fn=collate,
        pin_memory=device.type == "cuda",
        **({"prefetch_factor": 4} if workers > 0 else {}),
    )
    bar = _progress(len(samples)) if progress else None
    rows: dict[str, list] = {c: [] for c in PREDICTION_COLUMNS}
    done: dict[int, tuple[dict, int]] = {}  # input index -> (outputs, image side), until its turn
    index = 0
    try:
        for batch, (images, _) in zip(batches, loader):
            outputs = predict_batches(model, images, device, precision)
            for i, img, out in zip(batch, images, outputs):
                done[i] = (out, img.shape[-1])
            while index in done:  # rows in the input order
                out, side = done.pop(index)
                _add_rows(rows, samples[index], out, side)
                index += 1
            if bar is not None:
                bar.update(len(images))
    finally:
        if bar is not None:
            bar.close()
    return _prediction_table(rows, len(samples))


def size_batches(sizes: Sequence[tuple[int, int]], batch_size: int) -> list[list[int]]:
    """Indices of images with these (width, height) in batches of one size each.

    Sizes in the order they first appear, each size's images in the input order, cut into
    batches of ``batch_size``; images of one size give the plain consecutive batches.
    """
    groups: dict[tuple[int, int], list[int]] = {}
    for i, size in enumerate(sizes):
        groups.setdefault(tuple(size), []).append(i)
    return [
        members[start : start + batch_size]
        for members in groups.values()
        for start in range(0, len(members), batch_size)
    ]


def _samples(png_paths, fits_paths, views) -> list[Sample]:
    """One Sample per PNG, with its FITS (or "") and view name (default: the file stem)."""
    png_paths = [str(p) for p in png_paths]
    if not png_paths:
        raise DeepCeeError("no images to predict on")
    views = list(views) if views is not None else [Path(p).stem for p in png_paths]
    fits_paths = list(fits_paths) if fits_paths is not None else [""] * len(png_paths)
    return [Sample(png=p, view=v, fits=f) for p, v, f in zip(png_paths, views, fits_paths)]


def _progress(total: int):
    try:
        import sys

        from tqdm import tqdm

        return tqdm(total=total, desc="predict", unit="img", file=sys.stderr, mininterval=5.0, ncols=100)
    except ImportError:
        return None


def _add_rows(rows: dict[str, list], sample: Sample, out: dict, side: int) -> None:
    """Append one image's boxes: centre, corners, score and (through its FITS WCS) RA/Dec."""
    boxes = out["boxes"].numpy().astype(float)
    scores = out["scores"].numpy().astype(float)
    x = (boxes[:, 0] + boxes[:, 2]) / 2
    y = (boxes[:, 1] + boxes[:, 3]) / 2
    if sample.fits and len(boxes):
        if not os.path.exists(sample.fits):
            raise DeepCeeError(f"{sample.fits}: FITS file of view {sample.view} not found")
        ra, dec = png_pixel_to_sky(sample.fits, x, y, side, flipped=sample.view.endswith("_flip"))
    else:
        ra = dec = np.full(len(boxes), np.nan)
    rows["view"] += [sample.view] * len(boxes)
    for name, values in (
        ("x", x),
        ("y", y),
        ("x0", boxes[:, 0]),
        ("y0", boxes[:, 1]),
        ("x1", boxes[:, 2]),
        ("y1", boxes[:, 3]),
        ("score", scores),
        ("ra", ra),
        ("dec", dec),
    ):
        rows[name] += list(values)


def _prediction_table(rows: dict[str, list], n_images: int):
    """The collected rows as the predictions Table, with units and a description."""
    from astropy.table import Table

    table = Table(
        {
            c: (
                np.array(rows[c], dtype=str if c == "view" else float)
                if rows[c]
                else np.array([], dtype=str if c == "view" else float)
            )
            for c in PREDICTION_COLUMNS
        }
    )
    for c in ("x", "y", "x0", "y0", "x1", "y1"):
        table[c].unit = "pix"
    table["ra"].unit = table["dec"].unit = "deg"
    table.meta["n_images"] = n_images
    table.meta["description"] = (
        "Deep-CEE predictions: every box (score threshold 0), training-image pixels "
        "(0-based, x right, y down), centre x,y; RA/Dec via the view's FITS WCS"
    )
    return table


def _scale(model) -> str:
    """The model's input resize, "network/reference" px (``FixedScaleTransform``)."""
    transform = model.transform
    return f"{transform.min_size[-1]}/{getattr(transform, 'reference_size', transform.min_size[-1])}"


def predict_labels(
    model_path: str | os.PathLike,
    labels_path: str | os.PathLike,
    out_path: str | os.PathLike,
    split: str | None = "test",
    cfg: dict | None = None,
    threads: int | None = None,
    root: str | os.PathLike | None = None,
    log=print,
    photometry: dict | None = None,
):
    """Predict on the images of ``labels.ecsv`` (one split, or all with split=None) → ECSV.

    Each box's centre is then placed per ``cfg['centre']`` (deepcee.detector.centring), with
    ``photometry`` (the ``redshift.photometry`` section) for the source extraction.
    """
    from deepcee.core.contracts import write_table
    from deepcee.detector.centring import centre_predictions

    cfg = with_defaults("train", {"predict": cfg or {}})["predict"]  # train.predict, schema defaults filled
    if threads:
        torch.set_num_threads(int(threads))
    device = resolve_device(str(cfg["device"]))
    samples = read_samples(labels_path, split=split, root=root, need_boxes=False)
    model, meta = load_model(model_path, device)
    side_of = {s.view: png_size(s.png)[0] for s in samples}  # PNG headers only
    sides = sorted(set(side_of.values()))
    log(
        f"predicting on {len(samples)} images ({split or 'all'}) of {'/'.join(map(str, sides))} px with "
        f"{model_path} (scale {_scale(model)}) on {device}, batch {cfg['batch_size']}, {cfg['precision']}"
    )
    table = predict_images(
        model,
        [s.png for s in samples],
        [s.fits for s in samples],
        [s.view for s in samples],
        batch_size=int(cfg["batch_size"]),
        device=device,
        precision=cfg["precision"],
        workers=int(cfg["workers"]),
    )
    fits_of = {s.view: s.fits for s in samples}
    photometry = with_defaults("redshift", {"photometry": photometry or {}})["photometry"]
    views = [str(v) for v in table["view"]]
    # each box's own image side (one view, one PNG)
    table = centre_predictions(
        table, [fits_of[v] for v in views], np.array([side_of[v] for v in views], dtype=int), cfg["centre"], photometry
    )
    table.meta.update(
        {
            "model": str(model_path),
            "labels": str(labels_path),
            "split": split or "all",
            "model_step": int(meta.get("step", 0)),
        }
    )
    write_table("predictions", table, out_path)
    n_bcg = int(np.count_nonzero(table["on_bcg"]))
    log(f"{len(table)} boxes on {len(samples)} images → {out_path} ({n_bcg} centred on a BCG)")
    return table
