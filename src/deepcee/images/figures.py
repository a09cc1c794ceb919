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


def _thumbnail(stamp: np.ndarray, side: int) -> np.ndarray:
    """A (3, side, side) centre cut of a (3, n, n) stamp, zero-padded where the stamp is smaller."""
    n = stamp.shape[-1]
    out = np.zeros((3, side, side), dtype=np.float32)
    take = min(n, side)
    s0, o0 = (n - take) // 2, (side - take) // 2
    out[:, o0 : o0 + take, o0 : o0 + take] = stamp[:, s0 : s0 + take, s0 : s0 + take]
    return out


def _spread(index: np.ndarray, mags: np.ndarray, n: int) -> np.ndarray:
    """Up to ``n`` of ``index``, evenly spaced in magnitude order (brightest first)."""
    order = index[np.argsort(mags[index], kind="stable")]
    if len(order) <= n:
        return order
    return order[np.unique(np.linspace(0, len(order) - 1, n).round().astype(int))]


def galaxy_library_figure(
    library,
    *paths,
    per_row: int = 8,
    galaxy_rows: int = 2,
    star_rows: int = 1,
    side: int = 25,
    faint_limit: float = 21.0,
    stretch: float = 1.0,
    q: float = 8.0,
) -> None:
    """The real-galaxy library (``images.mock.galaxy_library``) at a glance: g, r, i colour
    thumbnails (``make_lupton_rgb``, one stretch for all; black outside each source's own segment)
    of galaxies and of stars in separate rows, each labelled with its r magnitude and g - r, chosen
    evenly in magnitude down to ``faint_limit``; and r magnitude against the core half-light radius
    over the field's stellar locus, the star/galaxy split (the ``extended_ratio`` line; brighter
    than ``bright_mag``, compact sources are bright stars)."""
    import matplotlib.pyplot as plt
    from astropy.visualization import make_lupton_rgb

    from deepcee.core.figures import STYLE

    table = library.table
    kind = np.asarray(table["kind"]).astype(str)
    mag = np.asarray(table["mag_r"], dtype=float)
    settings = table.meta.get("settings", {})
    rows = galaxy_rows + star_rows
    with plt.rc_context(STYLE):
        fig = plt.figure(figsize=(1.15 * per_row + 4.2, max(1.3 * rows, 3.2)))
        grid = fig.add_gridspec(rows, per_row + 4, wspace=0.08, hspace=0.35)
        picks = [
            ("galaxy", _spread(np.flatnonzero((kind == "galaxy") & (mag < faint_limit)), mag, galaxy_rows * per_row)),
            ("star", _spread(np.flatnonzero((kind == "star") & (mag < faint_limit)), mag, star_rows * per_row)),
        ]
        first_row = 0
        for name, chosen in picks:
            n_rows = galaxy_rows if name == "galaxy" else star_rows
            for slot in range(n_rows * per_row):
                ax = fig.add_subplot(grid[first_row + slot // per_row, slot % per_row])
                ax.set_xticks([])
                ax.set_yticks([])
                if slot >= len(chosen):
                    ax.set_axis_off()
                    continue
                k = chosen[slot]
                g, r, i = _thumbnail(library.gri[k], side)
                with np.errstate(invalid="ignore", divide="ignore"):  # the zero pixels outside the segment
                    rgb = make_lupton_rgb(i, r, g, minimum=0.0, stretch=stretch, Q=q)
                ax.imshow(rgb, origin="lower")
                ax.set_title(f"r={mag[k]:.1f} g-r={table['g_r'][k]:.2f}", fontsize=5.5, pad=1.5)
                if slot % per_row == 0:
                    ax.set_ylabel({"galaxy": "galaxies", "star": "stars"}[name], fontsize=7)
            first_row += n_rows
        ax = fig.add_subplot(grid[:, per_row + 1 :])
        colours = {"galaxy": "tab:orange", "star": "tab:blue", "bright_star": "tab:purple"}
        for name, colour in colours.items():
            sel = kind == name
            ax.scatter(
                mag[sel], np.asarray(table["r_half_ratio"])[sel], s=3, c=colour, lw=0, label=f"{name} ({sel.sum()})"
            )
        if "extended_ratio" in settings:
            ax.axhline(settings["extended_ratio"], color="k", lw=0.6, ls="--")
        if "bright_mag" in settings:
            ax.axvline(settings["bright_mag"], color="0.5", lw=0.6, ls=":")
        ax.set_yscale("log")
        ax.set_xlabel("r (Kron) [mag]")
        ax.set_ylabel("core half-light radius / stellar locus")
        ax.yaxis.set_label_position("right")
        ax.yaxis.tick_right()
        ax.legend(loc="upper left", markerscale=3, frameon=False, fontsize=6)
        roles = ", ".join(f"{r}: {int(np.sum(np.asarray(table['role']).astype(str) == r))}" for r in ("train", "test"))
        ax.set_title(f"{len(table)} entries ({roles})", fontsize=7)
    save_figure(fig, *paths)
