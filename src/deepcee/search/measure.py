"""What the blind search found, measured: completeness, purity, a sky map, the best new candidates.

* Completeness: the redMaPPer clusters whose centre lies in the searched area (a cell some
  tile owns) that have a candidate with score >= ``score_threshold`` within the match radius,
  binned in richness and in redshift, with Wilson binomial intervals
  (``core.intervals.wilson``).
* Purity vs score threshold: on the mock it is exact (``MockSky.truth_in``). A candidate within
  the match radius of a cluster the sky holds (catalogued or injected) is true; otherwise, one
  within it of an uncatalogued group (λ of a few, ``images.mock.group_richness``) is counted
  apart, by the group's richness: neither true nor false, since a group is a real overdensity
  no cluster catalogue would list; the rest are false. Purity = true / (true + false), with a
  Wilson interval; ``purity_all`` counts the group detections as false. On real imaging a
  candidate is counted true when any bundled catalogue (redMaPPer, Abell/ACO, MCXC) matches
  it, a lower bound, and nothing is set apart.
"""

from __future__ import annotations

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table

from deepcee.core.files import atomic_path
from deepcee.core.intervals import wilson

RICHNESS_BINS = [20, 30, 45, 70, 300]
Z_BINS = [0.05, 0.15, 0.25, 0.35, 0.45, 0.6]


def _sep_nearest(a: Table, b: Table) -> np.ndarray:
    """Separation (arcmin) from each row of ``a`` to the nearest row of ``b`` (inf when b is empty)."""
    if len(a) == 0:
        return np.zeros(0)
    if len(b) == 0:
        return np.full(len(a), np.inf)
    ca = SkyCoord(np.asarray(a["ra"], float) * u.deg, np.asarray(a["dec"], float) * u.deg)
    cb = SkyCoord(np.asarray(b["ra"], float) * u.deg, np.asarray(b["dec"], float) * u.deg)
    _, d, _ = ca.match_to_catalog_sky(cb)
    return d.to_value(u.arcmin)


def in_area(table: Table, tiles: Table) -> np.ndarray:
    """Which rows of ``table`` (ra, dec) lie in a cell some tile of ``tiles`` (tiles.ecsv) owns."""
    from deepcee.search.tiles import grid_from_meta

    if len(table) == 0:
        return np.zeros(0, bool)
    own = grid_from_meta(tiles.meta).owner(table["ra"], table["dec"])
    return np.isin(own, np.asarray(tiles["index"], dtype=np.int64))


def on_objects(cands: Table, objects: Table, radius_arcmin: float) -> np.ndarray:
    """Which candidates lie within the match radius of any of ``objects`` (ra, dec)."""
    return _sep_nearest(cands, objects) <= radius_arcmin if len(cands) else np.zeros(0, bool)


def clusters_in_area(redmapper: Table, tiles: Table) -> Table:
    """redMaPPer clusters whose centre lies in a cell owned by a tile (the searched area)."""
    return redmapper[in_area(redmapper, tiles)] if len(redmapper) else redmapper


def completeness(clusters: Table, cands: Table, threshold: float, radius_arcmin: float, column: str, bins) -> Table:
    """Binned fraction of ``clusters`` with a candidate (score >= threshold) within the radius."""
    strong = cands[np.asarray(cands["score"], float) >= threshold] if len(cands) else cands
    found = _sep_nearest(clusters, strong) <= radius_arcmin
    values = np.asarray(clusters[column], float) if len(clusters) else np.zeros(0)
    lo, hi, n, k = [], [], [], []
    for a, b in zip(bins[:-1], bins[1:]):
        sel = (values >= a) & (values < b)
        n.append(int(sel.sum()))
        k.append(int(found[sel].sum()))
    n_arr, k_arr = np.asarray(n), np.asarray(k)
    frac = np.where(n_arr > 0, k_arr / np.maximum(n_arr, 1), np.nan)
    if len(n_arr):
        lo, hi = wilson68(k_arr, n_arr)
    return Table(
        {
            f"{column}_lo": np.asarray(bins[:-1], float),
            f"{column}_hi": np.asarray(bins[1:], float),
            "n_clusters": n_arr,
            "n_found": k_arr,
            "completeness": frac,
            "ci_lo": lo,
            "ci_hi": hi,
        }
    )


#: Richness bins of the uncatalogued groups a search detects (counted apart from purity).
GROUP_RICHNESS_BINS = [0, 6, 8, 10, 12, 1e9]


def classify(cands: Table, truth: Table, radius_arcmin: float) -> tuple[np.ndarray, np.ndarray]:
    """Each candidate's class (``cluster`` | ``group`` | ``none``, see the module docstring) and,
    for a group, the group's richness (NaN otherwise). ``truth``: ra, dec, optional kind, richness."""
    n = len(cands)
    if n == 0:
        return np.zeros(0, "U7"), np.zeros(0)
    kind = np.asarray(truth["kind"], str) if "kind" in truth.colnames else np.full(len(truth), "cluster")
    is_group = kind == "group"
    clusters, groups = truth[~is_group], truth[is_group]
    on_cluster = _sep_nearest(cands, clusters) <= radius_arcmin
    out = np.where(on_cluster, "cluster", "none").astype("U7")
    richness = np.full(n, np.nan)
    if len(groups):
        ca = SkyCoord(np.asarray(cands["ra"], float) * u.deg, np.asarray(cands["dec"], float) * u.deg)
        cg = SkyCoord(np.asarray(groups["ra"], float) * u.deg, np.asarray(groups["dec"], float) * u.deg)
        idx, d, _ = ca.match_to_catalog_sky(cg)
        on_group = (d.to_value(u.arcmin) <= radius_arcmin) & ~on_cluster
        out[on_group] = "group"
        if "richness" in groups.colnames:
            richness[on_group] = np.asarray(groups["richness"], float)[np.asarray(idx)[on_group]]
    return out, richness


def wilson68(k, n):
    """The 68.27 % Wilson interval of k found in n, NaN where n is 0: arrays give arrays, scalars
    floats (the one interval every completeness and purity of the search quotes)."""
    return wilson(k, n, 0.6827)


def purity_curve(cands: Table, truth: Table, radius_arcmin: float, thresholds) -> Table:
    """Per threshold t, of the candidates with score >= t: true, on a group, false; purity =
    true / (true + false) with its Wilson 68 % interval, and ``purity_all`` = true / all."""
    cls, _ = classify(cands, truth, radius_arcmin)
    score = np.asarray(cands["score"], float) if len(cands) else np.zeros(0)
    n, k, g = [], [], []
    for t in thresholds:
        sel = score >= t
        n.append(int(sel.sum()))
        k.append(int((sel & (cls == "cluster")).sum()))
        g.append(int((sel & (cls == "group")).sum()))
    n_arr, k_arr, g_arr = np.asarray(n), np.asarray(k), np.asarray(g)
    judged = n_arr - g_arr
    lo, hi = wilson68(k_arr, judged)
    return Table(
        {
            "threshold": np.asarray(thresholds, float),
            "n_candidates": n_arr,
            "n_real": k_arr,
            "n_group": g_arr,
            "n_false": judged - k_arr,
            "purity": np.where(judged > 0, k_arr / np.maximum(judged, 1), np.nan),
            "ci_lo": lo,
            "ci_hi": hi,
            "purity_all": np.where(n_arr > 0, k_arr / np.maximum(n_arr, 1), np.nan),
        }
    )


def group_detections(cands: Table, truth: Table, radius_arcmin: float, threshold: float, in_area) -> dict:
    """The uncatalogued groups the candidates at or above ``threshold`` sit on, by the group's
    richness, beside the groups in the searched area (``in_area``: a mask over ``truth``)."""
    cls, lam = classify(cands, truth, radius_arcmin)
    strong = np.asarray(cands["score"], float) >= threshold if len(cands) else np.zeros(0, bool)
    detected = lam[(cls == "group") & strong]
    kind = np.asarray(truth["kind"], str) if "kind" in truth.colnames else np.zeros(len(truth), "U7")
    groups = truth[(kind == "group") & np.asarray(in_area, bool)]
    all_lam = np.asarray(groups["richness"], float) if len(groups) and "richness" in groups.colnames else np.zeros(0)
    edges = np.asarray(GROUP_RICHNESS_BINS, float)
    return {
        "richness_edges": [float(e) for e in edges],
        "n_detected": np.histogram(detected, edges)[0].tolist(),
        "n_in_area": np.histogram(all_lam, edges)[0].tolist(),
        "n_candidates_on_groups": int(len(detected)),
    }


# --------------------------------------------------------------------------- figures and tables
def plot_completeness(by_rich: Table, by_z: Table, paths) -> None:
    from deepcee.core.figures import new_figure, save_figure

    fig, axes = new_figure(1, 2, figsize=(8, 3.2))
    for ax, t, col, label in ((axes[0], by_rich, "richness", r"richness $\lambda$"), (axes[1], by_z, "z", "redshift")):
        mid = (np.asarray(t[f"{col}_lo"]) + np.asarray(t[f"{col}_hi"])) / 2
        ok = np.asarray(t["n_clusters"]) > 0
        c = np.asarray(t["completeness"], float)
        ax.errorbar(
            mid[ok],
            c[ok],
            yerr=[c[ok] - np.asarray(t["ci_lo"])[ok], np.asarray(t["ci_hi"])[ok] - c[ok]],
            xerr=[mid[ok] - np.asarray(t[f"{col}_lo"])[ok], np.asarray(t[f"{col}_hi"])[ok] - mid[ok]],
            fmt="o",
            capsize=2,
        )
        for x, n in zip(mid[ok], np.asarray(t["n_clusters"])[ok]):
            ax.annotate(str(n), (x, 0.03), ha="center", fontsize=7)
        ax.set_xlabel(label)
        ax.set_ylim(0, 1.05)
        if col == "richness" and ok.any():
            ax.set_xscale("log")
    axes[0].set_ylabel("completeness (redMaPPer)")
    save_figure(fig, *paths)


def plot_purity(purity: Table, paths, real_data: bool) -> None:
    from deepcee.core.figures import new_figure, save_figure

    fig, ax = new_figure(figsize=(4.2, 3.2))
    thr = purity["threshold"]
    if "natural_purity" in purity.colnames and not real_data:
        density = purity.meta.get("natural_clusters_per_deg2")
        label = "sky's own density" + (f" ({density:.1f} per deg$^2$)" if density is not None else "")
        ax.fill_between(thr, purity["natural_ci_lo"], purity["natural_ci_hi"], alpha=0.3)
        ax.plot(thr, np.asarray(purity["natural_purity"], float), "o-", ms=3, label=label)
        ax.plot(thr, np.asarray(purity["purity"], float), "s--", ms=3, color="0.5", label="aside: injected density")
        ax.legend(fontsize=7, loc="lower right")
        ax.set_ylabel("purity (1' one-to-one, groups false)")
    else:
        ax.fill_between(thr, purity["ci_lo"], purity["ci_hi"], alpha=0.3)
        ax.plot(thr, np.asarray(purity["purity"], float), "o-", ms=3)
        ax.set_ylabel("purity (catalogue-matched, lower bound)" if real_data else "purity (mock truth, groups apart)")
    ax.set_xlabel("score threshold")
    ax.set_ylim(0, 1.05)
    save_figure(fig, *paths)


def plot_skymap(tiles: Table, cands: Table, clusters: Table, threshold: float, paths) -> None:
    """Tile centres, redMaPPer clusters and candidates on RA/Dec; RA is unwrapped about the tiles'
    mean (core/skybox.py) and labelled modulo 360, so a region through RA 0 plots as one patch."""
    from matplotlib.ticker import FuncFormatter

    from deepcee.core.figures import new_figure, save_figure
    from deepcee.core.skybox import ra_mean, unwrap_ra

    centre = ra_mean(tiles["ra"])

    def ra_of(t, sel=slice(None)):
        return unwrap_ra(np.asarray(t["ra"], float)[sel], centre)

    fig, ax = new_figure(figsize=(5, 4.4))
    ax.plot(ra_of(tiles), tiles["dec"], ",", color="0.75", label="tile centres")
    if len(clusters):
        ax.scatter(ra_of(clusters), clusters["dec"], s=60, facecolors="none", edgecolors="C0", label="redMaPPer")
    if len(cands):
        strong = np.asarray(cands["score"], float) >= threshold
        known = np.asarray(cands["known"], bool)
        ax.scatter(
            ra_of(cands, ~strong),
            cands["dec"][~strong],
            s=4,
            c="0.6",
            marker="x",
            label=f"candidate, score < {threshold:g}",
        )
        for sel, colour, label in (
            (strong & known, "C2", "candidate, known"),
            (strong & ~known, "C3", "candidate, new"),
        ):
            ax.scatter(ra_of(cands, sel), cands["dec"][sel], s=14, c=colour, label=label)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v % 360.0:g}"))
    ax.invert_xaxis()
    ax.set_xlabel("RA (deg)")
    ax.set_ylabel("Dec (deg)")
    ax.legend(fontsize=7, loc="best")
    save_figure(fig, *paths)


def new_candidates_table(cands: Table, csv_path, tex_path, rows: int = 10, threshold: float = 0.0) -> Table:
    """The highest-scoring candidates no bundled catalogue matches -> CSV and a LaTeX tabular."""
    if len(cands):
        sel = (~np.asarray(cands["known"], bool)) & (np.asarray(cands["score"], float) >= threshold)
        new = cands[sel]
        new = new[np.argsort(-np.asarray(new["score"], float), kind="stable")][:rows]
    else:
        new = cands
    out = Table(
        {
            "id": new["id"] if len(new) else np.zeros(0, "U16"),
            "ra": np.round(np.asarray(new["ra"] if len(new) else [], float), 5),
            "dec": np.round(np.asarray(new["dec"] if len(new) else [], float), 5),
            "score": np.round(np.asarray(new["score"] if len(new) else [], float), 3),
            "box_arcsec": np.round(np.asarray(new["box_arcsec"] if len(new) else [], float), 1),
        }
    )
    with atomic_path(csv_path) as tmp:
        out.write(tmp, format="ascii.csv", overwrite=True)
    lines = [r"\begin{tabular}{lrrrr}", r"\hline", r"ID & RA (deg) & Dec (deg) & score & box ($''$) \\", r"\hline"]
    for r in out:
        lines.append(f"{r['id']} & {r['ra']:.5f} & {r['dec']:+.5f} & {r['score']:.3f} & {r['box_arcsec']:.0f} \\\\")
    lines += [r"\hline", r"\end{tabular}", ""]
    with atomic_path(tex_path) as tmp:
        tmp.write_text("\n".join(lines))
    return out


def plot_injection(cells: Table, paths) -> None:
    """Figure 27: completeness of the injected clusters over the z x λ grid, k/n in each cell."""
    from deepcee.core.figures import new_figure, save_figure

    z_edges = np.unique(np.concatenate([cells["z_lo"], cells["z_hi"]]))
    lam_edges = np.unique(np.concatenate([cells["richness_lo"], cells["richness_hi"]]))
    grid = np.full((len(lam_edges) - 1, len(z_edges) - 1), np.nan)
    fig, ax = new_figure(figsize=(4.8, 3.6))
    for row in cells:
        i = int(np.searchsorted(z_edges, row["z_lo"]))
        j = int(np.searchsorted(lam_edges, row["richness_lo"]))
        grid[j, i] = row["completeness"]
        zc = (row["z_lo"] + row["z_hi"]) / 2
        lc = np.sqrt(row["richness_lo"] * row["richness_hi"])
        ax.text(zc, lc, f"{row['n_found']}/{row['n_injected']}", ha="center", va="center", fontsize=8)
    mesh = ax.pcolormesh(z_edges, lam_edges, np.ma.masked_invalid(grid), vmin=0, vmax=1, cmap="viridis", alpha=0.8)
    fig.colorbar(mesh, ax=ax, label="completeness (injected)")
    ax.set_yscale("log")
    ax.set_xlabel("redshift")
    ax.set_ylabel(r"richness $\lambda$")
    save_figure(fig, *paths)


def plot_confirmation(sweep: Table, chosen: float | None, paths) -> None:
    """Figure 28: the confirmed candidates' purity and the headline injected clusters' completeness
    against the red-excess cut (``search_confirmation.csv``), each with its interval: the trade the
    operating cut (``search.confirm.min_red_excess``, dotted) makes."""
    from deepcee.core.figures import new_figure, save_figure

    fig, ax = new_figure(figsize=(4.6, 3.4))
    x = np.asarray(sweep["min_red_excess"], float)
    curves = [("purity", "purity_ci_lo", "purity_ci_hi", "aside: purity at the injected density", "^:")]
    if "natural_purity" in sweep.colnames:
        curves.insert(0, ("natural_purity", "natural_ci_lo", "natural_ci_hi", "purity at the sky's own density", "o-"))
    if "headline_completeness" in sweep.colnames:
        curves.append(
            (
                "headline_completeness",
                "headline_ci_lo",
                "headline_ci_hi",
                "completeness (injected, trained kind)",
                "s--",
            )
        )
    for col, lo, hi, label, style in curves:
        y = np.asarray(sweep[col], float)
        ax.fill_between(x, np.asarray(sweep[lo], float), np.asarray(sweep[hi], float), alpha=0.25)
        ax.plot(x, y, style, ms=3, label=label)
    if chosen is not None:
        ax.axvline(float(chosen), color="0.5", ls=":", label=f"operating cut {float(chosen):g}")
    ax.set_xlabel("minimum red-sequence excess (galaxies)")
    ax.set_ylabel("fraction")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=7, loc="lower left")
    save_figure(fig, *paths)
