"""The evaluation figures of the paper (7, 12–17), one function per figure.

Every function takes data (astropy Tables / dicts, never file paths to read) and the
output paths (PDF and PNG), so rule scripts stay thin and tests can call them.
"""

from __future__ import annotations

import numpy as np
from astropy.table import Table

from deepcee.core.figures import new_figure, save_figure
from deepcee.evaluate.redmapper_region import box_area_deg2

PROPERTY_LABELS = {"z": "Photometric redshift", "bcg_rmag": "BCG $r$-band magnitude", "richness": "Richness"}


def _floats(column) -> np.ndarray:
    return np.ma.filled(np.ma.asarray(column).astype(float), np.nan)


# --------------------------------------------------------------------------- Figure 7
def fig07_examples(examples: list[dict], *paths) -> None:
    """Example test images with the true box (dashed) and predicted boxes with scores.

    Each example: ``image`` (H x W x 3 uint8 array), ``label`` (panel title), ``truth``
    (x0, y0, x1, y1) and ``boxes`` (list of (x0, y0, x1, y1, score)) in PNG pixels
    (row 0 at the top, as drawn by ``imshow(origin='upper')``).
    """
    n = max(len(examples), 1)
    fig, axes = new_figure(1, n, figsize=(3.2 * n, 3.4), squeeze=False)
    for ax, ex in zip(axes[0], examples):
        img = ex["image"]
        ax.imshow(img, origin="upper", interpolation="nearest")
        x0, y0, x1, y1 = ex["truth"]
        ax.add_patch(_rect(x0, y0, x1, y1, color="white", ls="--", lw=1.2))
        for bx0, by0, bx1, by1, score in ex["boxes"]:
            ax.add_patch(_rect(bx0, by0, bx1, by1, color="lime", ls="-", lw=1.0))
            ax.text(
                bx0,
                by0,
                f"{100 * score:.0f}%",
                color="black",
                fontsize=7,
                va="bottom",
                bbox=dict(facecolor="lime", edgecolor="none", pad=1, alpha=0.85),
            )
        ax.set_title(ex["label"], fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlim(0, img.shape[1])
        ax.set_ylim(img.shape[0], 0)
    for ax in axes[0][len(examples) :]:
        ax.axis("off")
    save_figure(fig, *paths)


def _rect(x0, y0, x1, y1, color, ls, lw):
    from matplotlib.patches import Rectangle

    return Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=color, linestyle=ls, linewidth=lw)


# --------------------------------------------------------------------------- Figures 12 and 17
def fig_precision_recall(
    sweep: Table, *paths, title: str = "", chosen: float | None = None, intervals: list[dict] | None = None
) -> None:
    """Precision vs recall, one point per threshold (the 100 % row left out, as in the paper).

    ``intervals``: per threshold, the bootstrap intervals of precision and recall
    (``deepcee.evaluate.bootstrap``), drawn as error bars.
    """
    t = np.asarray(sweep["threshold"], dtype=float)
    keep = t < 100
    p = np.asarray(sweep["precision"], dtype=float)[keep]
    r = np.asarray(sweep["recall"], dtype=float)[keep]
    fig, ax = new_figure(figsize=(4.2, 3.6))
    ax.plot(r, p, "o-", color="tab:blue", ms=4, lw=1)
    if intervals:
        by_t = {float(row["threshold"]): row for row in intervals}
        rows = [by_t[float(ti)] for ti in t[keep]]
        xerr = np.abs(np.array([[row["recall"][0] for row in rows], [row["recall"][1] for row in rows]]) - r)
        yerr = np.abs(np.array([[row["precision"][0] for row in rows], [row["precision"][1] for row in rows]]) - p)
        level = rows[0].get("level", 0.95) if rows else 0.95
        ax.errorbar(
            r,
            p,
            xerr=xerr,
            yerr=yerr,
            fmt="none",
            ecolor="tab:blue",
            alpha=0.35,
            lw=0.8,
            label=f"{100 * level:g}% bootstrap interval",
        )
    for ti, ri, pi in zip(t[keep], r, p):
        ax.annotate(f"{ti:g}%", (ri, pi), textcoords="offset points", xytext=(4, 3), fontsize=7)
    if chosen is not None and chosen in list(t):
        i = list(t).index(chosen)
        ax.plot(
            [sweep["recall"][i]],
            [sweep["precision"][i]],
            "s",
            mfc="none",
            mec="tab:red",
            ms=9,
            label=f"chosen threshold {chosen:g}%",
        )
    if intervals or (chosen is not None and chosen in list(t)):
        ax.legend(loc="lower left")
    ax.set_xlabel("Recall")
    ax.set_ylabel("Precision")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    save_figure(fig, *paths)


def fig12_precision_recall_test(sweep: Table, *paths, chosen: float | None = None, intervals=None) -> None:
    fig_precision_recall(sweep, *paths, title="Test set", chosen=chosen, intervals=intervals)


def fig17_precision_recall_redmapper(sweep: Table, *paths, chosen: float | None = None, intervals=None) -> None:
    fig_precision_recall(sweep, *paths, title="redMaPPer comparison set", chosen=chosen, intervals=intervals)


def fig24_precision_recall_real_sky(sweep: Table, *paths, chosen: float | None = None, intervals=None) -> None:
    fig_precision_recall(sweep, *paths, title="Test set over a real SDSS field", chosen=chosen, intervals=intervals)


def fig25_real_sky_fields(field_sweeps: Table, pooled: Table, blank: dict, *paths, chosen: float | None = None) -> None:
    """F1 against threshold on each real test field (thin) and pooled (thick); false detections per
    square degree of blank real sky against threshold, with their Poisson intervals."""
    fig, (left, right) = new_figure(1, 2, figsize=(8.6, 3.6))
    names = sorted({str(f) for f in field_sweeps["field"]})
    for name in names:
        rows = field_sweeps[np.asarray(field_sweeps["field"], dtype=str) == name]
        short = name.replace("sdss-frames-", "").replace("-gri", "")
        left.plot(rows["threshold"], rows["f1"], "-", lw=1, alpha=0.8, label=short)
    left.plot(pooled["threshold"], pooled["f1"], "k-", lw=2.2, label="pooled")
    if chosen is not None:
        left.axvline(chosen, color="0.4", ls=":", lw=1)
    left.set_xlabel("Confidence threshold (%)")
    left.set_ylabel("F1")
    left.set_ylim(-0.02, 1.02)
    left.set_title("Clusters injected into real test fields")
    left.grid(alpha=0.3)
    left.legend(fontsize=6, loc="upper left")
    curve = blank.get("by_threshold", [])
    if curve:
        t = np.asarray([c["threshold"] for c in curve], float)
        rate = np.asarray([c["false_per_deg2"] for c in curve], float)
        lo = np.asarray([c["interval"][0] for c in curve], float)
        hi = np.asarray([c["interval"][1] for c in curve], float)
        right.fill_between(t, lo, hi, color="tab:red", alpha=0.2, lw=0)
        right.plot(t, rate, "o-", color="tab:red", ms=3)
        right.axhline(2.0, color="0.3", ls="--", lw=1, label="goal: 2 per deg$^2$")
    if chosen is not None:
        right.axvline(chosen, color="0.4", ls=":", lw=1)
    right.set_yscale("symlog", linthresh=1.0)
    right.set_ylim(bottom=0.0)  # rates are never negative: no mirrored symlog decades
    right.set_xlabel("Confidence threshold (%)")
    right.set_ylabel("False detections per deg$^2$")
    right.set_title(f"Blank real sky ({blank.get('area_deg2', float('nan')):.3f} deg$^2$)")
    right.grid(alpha=0.3)
    right.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, *paths)


# --------------------------------------------------------------------------- Figure 13
def fig13_distances(distances: Table, *paths, distance_kpc: float = 100.0, threshold: float = 80.0) -> None:
    """Distances of all passing predictions (top) and of those within the distance cut (bottom)."""
    d = np.asarray(distances["distance_kpc"], dtype=float) if len(distances) else np.zeros(0)
    fig, (top, bottom) = new_figure(2, 1, figsize=(4.6, 5.0))
    if len(d):
        top.hist(d, bins=40, color="tab:blue", alpha=0.8)
    top.axvline(distance_kpc, color="tab:red", ls="--", lw=1, label=f"{distance_kpc:g} kpc")
    top.set_xlabel("Distance from the true centre (kpc)")
    top.set_ylabel("Predictions")
    top.set_title(f"All predictions scoring above {threshold:g}% (N={len(d)})")
    top.legend()
    within = d[d <= distance_kpc]
    if len(within):
        bottom.hist(within, bins=np.linspace(0, distance_kpc, 21), color="tab:green", alpha=0.8)
    bottom.set_xlim(0, distance_kpc)
    bottom.set_xlabel("Distance from the true centre (kpc)")
    bottom.set_ylabel("Predictions")
    bottom.set_title(f"Within {distance_kpc:g} kpc (N={len(within)})")
    fig.tight_layout()
    save_figure(fig, *paths)


# --------------------------------------------------------------------------- Figure 14
def fig14_offsets_recovered(truth: Table, found, *paths, threshold: float = 80.0) -> None:
    """Offsets of the true centre from the image centre: all test clusters vs those recovered."""
    found = np.asarray(found, dtype=bool)
    dx = _floats(truth["offset_ra_arcsec"]) if "offset_ra_arcsec" in truth.colnames else np.full(len(truth), np.nan)
    dy = _floats(truth["offset_dec_arcsec"]) if "offset_dec_arcsec" in truth.colnames else np.full(len(truth), np.nan)
    fig, ax = new_figure(figsize=(4.2, 4.0))
    ax.scatter(dx, dy, s=18, facecolors="none", edgecolors="0.5", label=f"all test clusters ({len(truth)})")
    ax.scatter(dx[found], dy[found], s=6, color="tab:red", label=f"recovered at {threshold:g}% ({found.sum()})")
    ax.set_xlabel("RA offset (arcsec)")
    ax.set_ylabel("Dec offset (arcsec)")
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(loc="upper right", fontsize=7)
    ax.grid(alpha=0.3)
    save_figure(fig, *paths)


# --------------------------------------------------------------------------- Figure 15
def fig15_properties_ks(truth: Table, found, ks: dict, *paths, threshold: float = 80.0) -> None:
    """Redshift, BCG r magnitude and richness: all test clusters vs recovered, with the KS results."""
    found = np.asarray(found, dtype=bool)
    names = ("z", "bcg_rmag", "richness")
    fig, axes = new_figure(3, 1, figsize=(4.6, 7.2))
    for ax, name in zip(axes, names):
        res = ks["properties"].get(name, {"available": False, "reason": "not computed"})
        ax.set_xlabel(PROPERTY_LABELS[name])
        ax.set_ylabel("Clusters")
        if not res.get("available"):
            ax.text(
                0.5,
                0.5,
                f"unavailable: {res.get('reason', '')}",
                transform=ax.transAxes,
                ha="center",
                va="center",
                fontsize=7,
                wrap=True,
            )
            continue
        values = _floats(truth[name])
        ok = np.isfinite(values)
        bins = np.histogram_bin_edges(values[ok], bins=15)
        ax.hist(values[ok], bins=bins, histtype="step", color="0.3", lw=1.4, label="test set")
        ax.hist(values[ok & found], bins=bins, color="tab:red", alpha=0.6, label=f"recovered at {threshold:g}%")
        ax.text(
            0.98,
            0.95,
            f"KS D = {res['statistic']:.4f}\np = {res['pvalue']:.3g}\n"
            f"D$_{{crit}}$(α={ks['alpha']:g}) = {res['critical_value']:.4f}",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=7,
        )
        ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    save_figure(fig, *paths)


# --------------------------------------------------------------------------- Figure 16
def fig16_sky_map_redmapper(train: Table, test: Table, redmapper: Table, selected: Table, region: dict, *paths) -> None:
    """Sky map: training, test and redMaPPer clusters, with the comparison region outlined."""
    fig, ax = new_figure(figsize=(7.0, 3.8))
    ax.scatter(
        _floats(redmapper["ra"]),
        _floats(redmapper["dec"]),
        s=0.3,
        color="0.75",
        rasterized=True,
        label=f"redMaPPer ({len(redmapper)})",
    )
    ax.scatter(_floats(train["ra"]), _floats(train["dec"]), s=5, color="tab:blue", label=f"training ({len(train)})")
    ax.scatter(_floats(test["ra"]), _floats(test["dec"]), s=5, color="tab:orange", label=f"test ({len(test)})")
    ax.scatter(
        _floats(selected["ra"]),
        _floats(selected["dec"]),
        s=10,
        marker="*",
        color="tab:red",
        label=f"comparison set ({len(selected)})",
    )
    r = region
    ras = [r["ra_min"], r["ra_max"], r["ra_max"], r["ra_min"], r["ra_min"]]
    decs = [r["dec_min"], r["dec_min"], r["dec_max"], r["dec_max"], r["dec_min"]]
    area = box_area_deg2(r["ra_min"], r["ra_max"], r["dec_min"], r["dec_max"])
    ax.plot(ras, decs, color="tab:red", lw=1.2, label=f"region ({area:.0f} deg$^2$)")
    ax.set_xlim(360, 0)
    ax.set_ylim(-20, 90)
    ax.set_xlabel("RA (J2000, deg)")
    ax.set_ylabel("Dec (J2000, deg)")
    ax.legend(loc="lower left", fontsize=7, markerscale=2, ncol=2)
    save_figure(fig, *paths)


# --------------------------------------------------------------------------- k-fold (beyond the paper)
def fig_kfold_precision_recall(aggregate: Table, *paths) -> None:
    """Mean precision–recall over the folds with ±1σ error bars."""
    t = np.asarray(aggregate["threshold"], dtype=float)
    keep = t < 100
    fig, ax = new_figure(figsize=(4.2, 3.6))
    ax.errorbar(
        aggregate["recall_mean"][keep],
        aggregate["precision_mean"][keep],
        xerr=aggregate["recall_std"][keep],
        yerr=aggregate["precision_std"][keep],
        fmt="o-",
        ms=4,
        lw=1,
    )
    for ti, ri, pi in zip(t[keep], aggregate["recall_mean"][keep], aggregate["precision_mean"][keep]):
        ax.annotate(f"{ti:g}%", (ri, pi), textcoords="offset points", xytext=(4, 3), fontsize=7)
    ax.set_xlabel("Recall")
    ax.set_ylabel("Precision")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"k-fold mean ± std ({aggregate.meta.get('n_folds', '?')} folds)")
    ax.grid(alpha=0.3)
    save_figure(fig, *paths)


# --------------------------------------------------------------------------- Figures 8-11
def fig_case_study(case: dict, *paths) -> None:
    """One case study (paper Figs 8-11): the test image, true box (dashed white), the top
    predicted box (red, with its distance), other passing boxes (thin orange) and the rendered
    galaxies brighter than ``case['mag_limit']`` coloured by redshift (stars as crosses).

    ``case``: image (H x W x 3), truth (x0, y0, x1, y1), top (x0, y0, x1, y1, score),
    boxes [(x0, y0, x1, y1, score)], galaxies {x, y, z, member}, title.
    """
    fig, (ax, axz) = new_figure(1, 2, figsize=(9.0, 3.9), gridspec_kw={"width_ratios": [1.15, 1], "wspace": 0.45})
    img = case["image"]
    ax.imshow(img, origin="upper", interpolation="nearest")
    for bx0, by0, bx1, by1, _s in case["boxes"]:
        ax.add_patch(_rect(bx0, by0, bx1, by1, color="orange", ls="-", lw=0.6))
    ax.add_patch(_rect(*case["truth"], color="white", ls="--", lw=1.2))
    x0, y0, x1, y1, score = case["top"]
    ax.add_patch(_rect(x0, y0, x1, y1, color="red", ls="-", lw=1.4))
    ax.text(
        x0,
        y0,
        f"{100 * score:.0f}%, {case['distance_kpc']:.0f} kpc",
        color="white",
        fontsize=7,
        va="bottom",
        bbox=dict(facecolor="red", edgecolor="none", pad=1, alpha=0.85),
    )
    g = case["galaxies"]
    gal = np.asarray(g["member"]) != "star"
    zmax = max(0.5, float(case.get("z", 0.1)) * 2)
    sc = ax.scatter(
        np.asarray(g["x"])[gal],
        np.asarray(g["y"])[gal],
        c=np.asarray(g["z"])[gal],
        s=7,
        cmap="plasma",
        vmin=0,
        vmax=zmax,
        edgecolors="none",
        alpha=0.9,
    )
    ax.scatter(np.asarray(g["x"])[~gal], np.asarray(g["y"])[~gal], marker="x", s=8, c="cyan", linewidths=0.6)
    fig.colorbar(sc, ax=ax, fraction=0.046, pad=0.02, label="redshift")
    ax.set_xlim(0, img.shape[1])
    ax.set_ylim(img.shape[0], 0)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(case["title"], fontsize=8)
    # redshifts of the galaxies inside the top box vs inside the true box
    z = np.asarray(g["z"], float)
    xs, ys = np.asarray(g["x"], float), np.asarray(g["y"], float)
    bins = np.linspace(0, zmax, 41)
    for (bx0, by0, bx1, by1), colour, label in (
        (case["truth"], "0.3", "in the true box"),
        ((x0, y0, x1, y1), "red", "in the top predicted box"),
    ):
        inside = gal & (xs >= bx0) & (xs <= bx1) & (ys >= by0) & (ys <= by1)
        axz.hist(z[inside], bins=bins, histtype="step", color=colour, label=f"{label} ({int(inside.sum())})")
    axz.axvline(float(case.get("z", np.nan)), color="0.3", ls="--", lw=0.8, label="catalogue z")
    axz.set_xlabel("redshift of rendered galaxies")
    axz.set_ylabel("galaxies")
    axz.legend(fontsize=7)
    save_figure(fig, *paths)


# --------------------------------------------------------------------------- FP breakdown
def fig_false_positives(rows: list[dict], classified: Table, *paths, threshold: float | None = None) -> None:
    """Why each false positive happened: counts per class, and distance from the target per class."""
    fig, (ax, axd) = new_figure(1, 2, figsize=(8.5, 3.2))
    names = [r["fp_class"] for r in rows]
    counts = [r["n"] for r in rows]
    ax.barh(range(len(names)), counts, color="tab:red")
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("false positives")
    title = "False positives by cause"
    if threshold is not None:
        title += f" (threshold {threshold:g}%)"
    ax.set_title(title)
    if len(classified):
        d = np.asarray(classified["distance_kpc"], float)
        cls = np.asarray(classified["fp_class"], dtype=str)
        bins = np.logspace(np.log10(max(1.0, np.nanmin(d))), np.log10(max(10.0, np.nanmax(d)) * 1.01), 25)
        for name in names:
            sel = cls == name
            if sel.any():
                axd.hist(d[sel], bins=bins, histtype="step", label=name)
        axd.set_xscale("log")
        axd.legend(fontsize=6)
    axd.set_xlabel("distance from the image's true centre (kpc)")
    axd.set_ylabel("false positives")
    save_figure(fig, *paths)
