"""Train/test split (paper §2.2: shuffled, ~90/10) and the horizontal-flip augmentation.

``by: view`` (the paper): views are shuffled and split, so one cluster can sit in both
sets at different offsets. ``by: cluster``: whole clusters are split, no cluster on both
sides. The shuffle comes from ``deepcee.core.seeds.rng(seed, "split", by)``.

Augmentation (paper: "all images are flipped once", 1,784 -> 3,568): every TRAINING image
gets a horizontally flipped copy ``<view>_flip.png``; the test set is never flipped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from deepcee.core.config import n_test_units
from deepcee.core.errors import DeepCeeError
from deepcee.core.files import write_png
from deepcee.core.seeds import rng


def assign_split(views: list[str], clusters: list[str], by: str, test_fraction: float, seed: int) -> dict:
    """``{view: 'train'|'test'}``; ``n_test_units`` of the units go to test.

    A single unit is refused: one side would be empty (a run that trains, or tests, on nothing)."""
    if by not in ("view", "cluster"):
        raise DeepCeeError(f"config key 'images.split.by': must be 'view' or 'cluster', not {by!r}")
    if len(views) != len(clusters):
        raise DeepCeeError("split: views and clusters differ in length")
    units = sorted(set(views)) if by == "view" else sorted(set(clusters))
    if len(units) < 2:
        raise DeepCeeError(
            f"split by {by}: only {len(units)} {by} to split, and the training and the test set need one each "
            "(more clusters: catalogue.cuts, catalogue.max_clusters; or more images.views_per_cluster)"
        )
    gen = rng(seed, "split", by)
    order = gen.permutation(len(units))
    test_units = {units[i] for i in order[: n_test_units(len(units), test_fraction)]}
    return {v: ("test" if (v if by == "view" else c) in test_units else "train") for v, c in zip(views, clusters)}


def flip_png(src: str | Path, dst: str | Path) -> None:
    """Write the horizontal mirror of a PNG, atomically."""
    src = Path(src)
    if not src.exists():
        raise DeepCeeError(f"{src}: PNG to flip not found")
    with Image.open(src) as im:
        arr = np.asarray(im.convert("RGB"))
    write_png(dst, np.ascontiguousarray(arr[:, ::-1]))  # the stretch's own fast, timestamp-free PNG
