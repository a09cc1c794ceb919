"""Figures of the image stage: Fig. 3 (offsets), Fig. 4 (sky map), example views with boxes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.table import Table
from PIL import Image

from deepcee.core.figures import new_figure, save_figure


def _unflipped(labels: Table) -> Table:
    return labels[~np.asarray(labels["flipped"], dtype=bool)]


def fig03_offsets(labels: Table, pdf, png) -> None:
    """Paper Fig. 3: where the cluster sits relative to the image centre, train (top) and test."""
    lab = _unflipped(labels)
    fig, axes = new_figure(2, 1, figsize=(3.6, 6.4), sharex=True)
    for ax, split in zip(axes, ("train", "test")):
        sel = np.asarray(lab["split"]) == split
        ax.scatter(
            lab["offset_ra_arcsec"][sel],
            lab["offset_dec_arcsec"][sel],
            s=4,
            color="tab:blue" if split == "train" else "tab:red",
            alpha=0.7,
            lw=0,
        )
        ax.set_title(f"{split} set ({int(sel.sum())} views)")
        ax.set_ylabel("Dec offset [arcsec]")
        ax.set_aspect("equal")
        ax.axhline(0, color="0.8", lw=0.5)
        ax.axvline(0, color="0.8", lw=0.5)
    axes[-1].set_xlabel("RA offset (east) [arcsec]")
    save_figure(fig, pdf, png)


def fig04_sky_map(labels: Table, parent: Table | None, pdf, png) -> None:
    """Paper Fig. 4: train and test clusters over the parent catalogue, equatorial J2000."""
    lab = _unflipped(labels)
    fig, ax = new_figure(figsize=(7.0, 3.6))
    if parent is not None and len(parent):
        ax.scatter(parent["ra"], parent["dec"], s=0.5, color="0.75", lw=0, label=f"parent catalogue ({len(parent)})")
    for split, colour, size in (("train", "tab:blue", 6), ("test", "tab:red", 10)):
        sel = np.asarray(lab["split"]) == split
        n_cl = len(set(np.asarray(lab["cluster_id"])[sel]))
        ax.scatter(
            np.asarray(lab["ra"])[sel],
            np.asarray(lab["dec"])[sel],
            s=size,
            color=colour,
            lw=0,
            label=f"{split} ({n_cl} clusters)",
        )
    ax.set_xlim(360, 0)
    ax.set_xlabel("RA (J2000) [deg]")
    ax.set_ylabel("Dec (J2000) [deg]")
    ax.legend(loc="lower left", markerscale=2, frameon=False)
    save_figure(fig, pdf, png)


def fig_examples(labels: Table, pdf, png, n: int = 12, seed: int = 0) -> None:
    """A grid of example training/test images (unflipped) with their truth boxes and centres."""
    lab = _unflipped(labels)
    order = np.random.default_rng(seed).permutation(len(lab))[: min(n, len(lab))]
    order = order[np.argsort(np.asarray(lab["view"])[order])]
    ncol = 4 if len(order) > 4 else max(1, len(order))
    nrow = int(np.ceil(len(order) / ncol))
    fig, axes = new_figure(nrow, ncol, figsize=(2.2 * ncol, 2.3 * nrow), squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, j in zip(axes.ravel(), order):
        row = lab[j]
        with Image.open(row["png"]) as im:
            ax.imshow(np.asarray(im), origin="upper", interpolation="nearest")
        ax.add_patch(_rect(row))
        ax.plot(row["x"], row["y"], "+", color="cyan", ms=5, mew=0.8)
        ax.set_title(f"{row['view']}  z={row['z']:.3f}\nλ={row['richness']:.0f} ({row['split']})", fontsize=6)
    save_figure(fig, pdf, png)


def _rect(row):
    from matplotlib.patches import Rectangle

    return Rectangle(
        (row["x0"], row["y0"]), row["x1"] - row["x0"], row["y1"] - row["y0"], fill=False, color="cyan", lw=0.8
    )


def make_all(labels_path, parent_path, out: dict, n_examples: int = 12, seed: int = 0) -> None:
    from deepcee.core.contracts import read_table

    labels = read_table("labels", labels_path)
    parent = None
    if parent_path and Path(parent_path).exists():
        parent = read_table("catalogue", parent_path)
    fig03_offsets(labels, out["fig03_pdf"], out["fig03_png"])
    fig04_sky_map(labels, parent, out["fig04_pdf"], out["fig04_png"])
    fig_examples(labels, out["examples_pdf"], out["examples_png"], n_examples, seed)
