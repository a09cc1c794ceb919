"""Helpers for the audit notebook (notebooks/audit.py.ipynb): counts, images with boxes, distributions.

Every function takes paths that may be absent (a stage not built yet) and then returns
None or an empty frame, so the notebook always runs to the end and says what is missing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from deepcee.core import contracts
from deepcee.core.errors import DeepCeeError
from deepcee.core.files import atomic_path


def read_table(path: str | Path | None):
    """A results table as a pandas DataFrame, read by its contract (docs/contracts.md), or None when absent."""
    if path is None or not Path(path).exists():
        return None
    table = contracts.read_table(contracts.contract_for(path), path)
    cols = [c for c in table.colnames if table[c].ndim <= 1]
    return table[cols].to_pandas()


def stage_counts(summaries: dict[str, str | Path | None]):
    """One row per stage: its summary's ``counts`` (and config hash)."""
    import pandas as pd

    rows = []
    for stage, path in summaries.items():
        data = json.loads(Path(path).read_text()) if path and Path(path).exists() else None
        if data is None:
            rows.append({"stage": stage, "quantity": "(summary not produced)", "value": ""})
            continue
        for key, value in (data.get("counts") or {}).items():
            rows.append({"stage": stage, "quantity": key, "value": value})
        if "config_hash" in data:
            rows.append({"stage": stage, "quantity": "config_hash", "value": data["config_hash"]})
    return pd.DataFrame(rows, columns=["stage", "quantity", "value"])


def pick_examples(labels, n: int, seed: int, split: str = "test") -> list[str]:
    """``n`` view names of ``split`` drawn reproducibly (no flipped copies)."""
    from deepcee.core.seeds import rng

    if labels is None or n <= 0:
        return []
    rows = labels[(labels["split"].astype(str) == split)]
    if "flipped" in rows:
        rows = rows[~rows["flipped"].astype(bool)]
    views = sorted(rows["view"].astype(str))
    if not views:
        return []
    pick = rng(seed, "audit", split).choice(len(views), size=min(n, len(views)), replace=False)
    return [views[i] for i in sorted(pick)]


def _box_patch(box, **style):
    """An unfilled matplotlib rectangle over a box's PNG corners (x0, y0, x1, y1)."""
    from matplotlib.patches import Rectangle

    return Rectangle((box["x0"], box["y0"]), box["x1"] - box["x0"], box["y1"] - box["y0"], fill=False, **style)


def plot_examples(
    labels,
    predictions,
    views: list[str],
    threshold_pct: float | None = None,
    root: str | Path = ".",
    ncols: int = 3,
    without_truth=(),
):
    """A grid of PNGs with the true box (green) and predicted boxes at >= threshold (dashed, with scores).

    ``without_truth``: views that hold no cluster (the real-sky controls), drawn without a true box."""
    import matplotlib.pyplot as plt

    if not views:
        return None
    nrows = int(np.ceil(len(views) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4 * ncols, 4 * nrows), squeeze=False)
    thr = (threshold_pct or 0) / 100.0
    for ax, view in zip(axes.flat, views):
        row = labels[labels["view"].astype(str) == view].iloc[0]
        png = Path(root) / str(row["png"])
        if png.exists():
            ax.imshow(plt.imread(png))
        else:
            ax.text(0.5, 0.5, f"missing {png.name}", ha="center", transform=ax.transAxes)
        if view not in without_truth:
            ax.add_patch(_box_patch(row, ec="lime", lw=2, label="truth"))
        n_pred = 0
        if predictions is not None:
            boxes = predictions[(predictions["view"].astype(str) == view) & (predictions["score"] >= thr)]
            n_pred = len(boxes)
            for _, b in boxes.sort_values("score", ascending=False).head(10).iterrows():
                ax.add_patch(_box_patch(b, ec="magenta", lw=1.2, ls="--"))
                ax.text(b["x0"], b["y0"], f"{100 * b['score']:.0f}", color="magenta", fontsize=7, va="bottom")
        z = f", z={row['z']:.3f}" if "z" in row else ""
        ax.set_title(f"{view}{z}\n{n_pred} boxes >= {100 * thr:.0f}%", fontsize=8)
        ax.set_axis_off()
    for ax in list(axes.flat)[len(views) :]:
        ax.set_axis_off()
    fig.tight_layout()
    return fig


def plot_histograms(frames: dict[str, Any], columns: list[str], bins: int = 20):
    """Side-by-side histograms of ``columns`` for each named DataFrame (e.g. train vs test)."""
    import matplotlib.pyplot as plt

    columns = [c for c in columns if any(f is not None and c in f for f in frames.values())]
    if not columns:
        return None
    fig, axes = plt.subplots(1, len(columns), figsize=(4 * len(columns), 3), squeeze=False)
    for ax, col in zip(axes[0], columns):
        for name, frame in frames.items():
            if frame is None or col not in frame:
                continue
            values = np.asarray(frame[col], dtype=float)
            values = values[np.isfinite(values)]
            if values.size:
                ax.hist(values, bins=bins, histtype="step", lw=1.5, label=f"{name} ({values.size})")
        ax.set_xlabel(col)
        if ax.get_legend_handles_labels()[0]:  # a column with no finite value (BCG r on the bundled path) draws none
            ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def notebook_to_html(notebook: str | Path, html: str | Path) -> None:
    """Export an executed notebook as one self-contained HTML file (written atomically)."""
    notebook = Path(notebook)
    if not notebook.exists():
        raise DeepCeeError(f"{notebook}: executed audit notebook not found (did rule paper_audit_notebook run?)")
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(notebook, as_version=4)
    # Snakemake's inserted preamble cell pickles the job with this run's temporary paths, under a
    # random cell id: not part of the audit, and it made two runs of one config differ.
    nb.cells = [c for c in nb.cells if "snakemake-job-properties" not in c.get("metadata", {}).get("tags", [])]
    body, _ = HTMLExporter(embed_images=True).from_notebook_node(nb)
    with atomic_path(html) as tmp:
        tmp.write_text(body)


# --------------------------------------------------------------------------- redshift and search
def read_any(path: str | Path | None):
    """An ECSV or CSV table as an astropy Table with its header meta, or None when absent.

    For the search's files that have no contract (injected clusters, the purity and completeness
    tables), for tiles.ecsv's grid (its meta), and for candidates written before a column existed:
    the audit draws what a file has rather than stopping on it."""
    from astropy.table import Table

    if path is None or not Path(path).exists():
        return None
    fmt = "ascii.ecsv" if str(path).endswith(".ecsv") else "ascii.csv"
    return Table.read(path, format=fmt)


def _col(table, name: str, dtype=float, fill=np.nan) -> np.ndarray:
    """A column as an array, or ``fill`` for each row when the table lacks it (an older file)."""
    if table is None:
        return np.zeros(0, dtype)
    if name in table.colnames:
        return np.asarray(table[name], dtype)
    return np.full(len(table), fill, dtype)


def nearest(ra, dec, ra_to, dec_to) -> tuple[np.ndarray, np.ndarray]:
    """For each (ra, dec), the index of the nearest of (ra_to, dec_to) and its distance in arcmin
    (-1 and inf when there is none): one sky match for the found mask and the candidates' kinds."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    ra, dec = np.asarray(ra, float), np.asarray(dec, float)
    idx, sep = np.full(len(ra), -1), np.full(len(ra), np.inf)
    if len(ra) and len(ra_to):
        here = SkyCoord(ra * u.deg, dec * u.deg)
        there = SkyCoord(np.asarray(ra_to, float) * u.deg, np.asarray(dec_to, float) * u.deg)
        i, d, _ = here.match_to_catalog_sky(there)
        idx, sep = np.asarray(i), d.to_value(u.arcmin)
    return idx, sep


def match_injected(injected, candidates, threshold: float, radius_arcmin: float):
    """Each injected cluster beside its nearest candidate at or above ``threshold``: found when that
    one lies within ``radius_arcmin``; the candidate's z_est and richness_est beside the truth.
    The audit's own match, to check the stage's injection summary against."""
    import pandas as pd

    out = pd.DataFrame({c: _col(injected, c) for c in ("ra", "dec", "z", "richness")})
    out.insert(0, "id", _col(injected, "id", str, ""))
    strong = None if candidates is None else candidates[_col(candidates, "score") >= threshold]
    idx, sep = nearest(out["ra"], out["dec"], _col(strong, "ra"), _col(strong, "dec"))
    found = sep <= radius_arcmin
    out["found"] = found
    out["sep_arcmin"] = np.where(found, sep, np.nan)
    out["cand_id"] = None
    for col in ("score", "z_est", "richness_est"):
        out[col] = np.nan
    if found.any():
        rows = strong[idx[found]]
        out.loc[found, "cand_id"] = _col(rows, "id", str, "")
        for col in ("score", "z_est", "richness_est"):
            out.loc[found, col] = _col(rows, col)
    return out


def candidate_kinds(candidates, injected, threshold: float, radius_arcmin: float) -> np.ndarray:
    """The kind of each candidate at or above ``threshold``: known (a catalogue matches), injected
    (on a planted cluster) or new, in the order of ``candidates[score >= threshold]``."""
    strong = candidates[_col(candidates, "score") >= threshold]
    kind = np.where(_col(strong, "known", bool, False), "known", "new").astype("U8")
    if injected is not None and len(injected):
        _, sep = nearest(_col(strong, "ra"), _col(strong, "dec"), _col(injected, "ra"), _col(injected, "dec"))
        kind[(kind == "new") & (sep <= radius_arcmin)] = "injected"
    return kind


def plot_footprint(tiles, injected, candidates, threshold: float, radius_arcmin: float):
    """The searched sky: each tile's owned cell outlined (its centre where tiles.ecsv carries no
    grid), the injected clusters as open circles (green found, red missed) and the candidates at or
    above the threshold by kind. RA is unwrapped so a footprint across RA 0 draws as one patch."""
    import matplotlib.pyplot as plt
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Rectangle

    from deepcee.core.skybox import unwrap_ra

    fig, ax = plt.subplots(figsize=(7, 6))
    centre = None
    if tiles is not None and len(tiles):
        from deepcee.core.skybox import ra_mean

        centre = float(ra_mean(_col(tiles, "ra")))
        if "own_arcsec" in tiles.meta and "index" in tiles.colnames:
            from deepcee.search.tiles import grid_from_meta

            ra_lo, ra_hi, dec_lo, dec_hi = grid_from_meta(tiles.meta).cells(tiles["index"])
            lo = unwrap_ra(ra_lo, centre)
            cells = [Rectangle((x, y), w, h) for x, y, w, h in zip(lo, dec_lo, ra_hi - ra_lo, dec_hi - dec_lo)]
            ax.add_collection(PatchCollection(cells, facecolor="none", edgecolor="0.7", lw=0.5, label="tile cells"))
        else:
            ax.scatter(unwrap_ra(_col(tiles, "ra"), centre), _col(tiles, "dec"), s=4, c="0.7", label="tile centres")
    if injected is not None and len(injected):
        found = np.asarray(match_injected(injected, candidates, threshold, radius_arcmin)["found"], bool)
        ra, dec = unwrap_ra(_col(injected, "ra"), centre), _col(injected, "dec")
        for sel, colour, label in ((found, "tab:green", "injected, found"), (~found, "tab:red", "injected, missed")):
            ax.scatter(
                ra[sel], dec[sel], s=90, facecolors="none", edgecolors=colour, lw=1.3, label=f"{label} ({sel.sum()})"
            )
    if candidates is not None and len(candidates):
        strong = candidates[_col(candidates, "score") >= threshold]
        kind = candidate_kinds(candidates, injected, threshold, radius_arcmin)
        ra, dec = unwrap_ra(_col(strong, "ra"), centre), _col(strong, "dec")
        for name, marker, colour in (("known", "s", "tab:blue"), ("new", "^", "tab:orange"), ("injected", "+", "k")):
            sel = kind == name
            ax.scatter(ra[sel], dec[sel], s=25, marker=marker, c=colour, label=f"candidate, {name} ({sel.sum()})")
    ax.autoscale_view()
    ax.invert_xaxis()  # east to the left, as on the sky
    ax.set_xlabel("RA [deg] (unwrapped)")
    ax.set_ylabel("Dec [deg]")
    ax.set_title(f"candidates >= {threshold:g}, match radius {radius_arcmin:g}'", fontsize=9)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def candidate_counts(candidates, injected, threshold: float, radius_arcmin: float):
    """The candidates at or above ``threshold`` by kind (known, new, injected), and how many were
    moved onto a BCG where the table says (``on_bcg``; older candidates files lack it)."""
    import pandas as pd

    kind = candidate_kinds(candidates, injected, threshold, radius_arcmin)
    counts = {f"n_{k}": int((kind == k).sum()) for k in ("known", "new", "injected")}
    if "on_bcg" in candidates.colnames:
        strong = candidates[_col(candidates, "score") >= threshold]
        counts["n_on_bcg"] = int(_col(strong, "on_bcg", bool, False).sum())
    return pd.Series({"n_candidates": len(kind), **counts})


def plot_completeness_map(table):
    """Injection completeness over z x λ (search_injection_completeness.csv), each cell labelled
    k/n: where the search finds planted clusters, and where too few were planted to say."""
    import matplotlib.pyplot as plt

    if table is None or not len(table):
        return None
    z_edges = np.unique(np.r_[_col(table, "z_lo"), _col(table, "z_hi")])
    lam_edges = np.unique(np.r_[_col(table, "richness_lo"), _col(table, "richness_hi")])
    grid = np.full((len(lam_edges) - 1, len(z_edges) - 1), np.nan)
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for row in table:
        i = np.searchsorted(z_edges, row["z_lo"])
        j = np.searchsorted(lam_edges, row["richness_lo"])
        n, k = int(row["n_injected"]), int(row["n_found"])
        grid[j, i] = k / n if n else np.nan
        ax.text(
            (z_edges[i] + z_edges[i + 1]) / 2,
            np.sqrt(lam_edges[j] * lam_edges[j + 1]),
            f"{k}/{n}",
            ha="center",
            va="center",
            fontsize=8,
        )
    mesh = ax.pcolormesh(z_edges, lam_edges, np.ma.masked_invalid(grid), vmin=0, vmax=1, cmap="viridis")
    fig.colorbar(mesh, ax=ax, label="completeness")
    ax.set_yscale("log")
    ax.set_xlabel("z (injected)")
    ax.set_ylabel(r"richness $\lambda$ (injected)")
    fig.tight_layout()
    return fig


def plot_purity(table, threshold: float | None = None):
    """Purity against the score threshold with its interval (search_purity.csv): at the sky's own
    density where the table has it (the headline), the injected-density purity and the fraction
    real among all candidates beside it: how the threshold trades purity for number."""
    import matplotlib.pyplot as plt

    if table is None or not len(table):
        return None
    thr, purity = _col(table, "threshold"), _col(table, "purity")
    lo, hi = _col(table, "ci_lo"), _col(table, "ci_hi")
    err = np.vstack([np.clip(purity - lo, 0, None), np.clip(hi - purity, 0, None)])
    fig, ax = plt.subplots(figsize=(6, 3.5))
    natural = "natural_purity" in table.colnames
    if natural:  # the headline: at the sky's own cluster density (search/natural.py)
        nat = _col(table, "natural_purity")
        nerr = np.vstack(
            [np.clip(nat - _col(table, "natural_ci_lo"), 0, None), np.clip(_col(table, "natural_ci_hi") - nat, 0, None)]
        )
        ax.errorbar(thr, nat, yerr=np.nan_to_num(nerr), fmt="o-", capsize=3, label="purity at the sky's own density")
    ax.errorbar(
        thr,
        purity,
        yerr=np.nan_to_num(err),
        fmt="^:" if natural else "o-",
        capsize=3,
        label="aside: purity at the injected density" if natural else "purity",
    )
    if "purity_all" in table.colnames:
        ax.plot(thr, _col(table, "purity_all"), "s--", ms=4, label="real / all (groups as false)")
    if threshold is not None:
        ax.axvline(threshold, color="0.5", ls=":", label=f"threshold {threshold:g}")
    ax.set_xlabel("score threshold")
    ax.set_ylabel("purity")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_recovery(sets: dict[str, Any], z: tuple[str, str], richness: tuple[str, str]):
    """Estimated against true z (with the 1:1 line) and λ (log, 1:1) for each named set of rows;
    ``z`` and ``richness`` name the (true, estimated) columns. Rows with a NaN on either side
    (flagged estimates) are left out; the flag counts say how many."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator

    plain = FuncFormatter(lambda value, _: f"{value:g}")

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, (true_col, est_col), label in ((axes[0], z, "z"), (axes[1], richness, r"$\lambda$")):
        lims = []
        for name, frame in sets.items():
            if frame is None or true_col not in frame or est_col not in frame:
                continue
            t, e = np.asarray(frame[true_col], float), np.asarray(frame[est_col], float)
            ok = np.isfinite(t) & np.isfinite(e) & ((t > 0) & (e > 0) if label != "z" else True)
            ax.scatter(t[ok], e[ok], s=12, alpha=0.7, label=f"{name} ({ok.sum()})")
            lims += [t[ok], e[ok]]
        values = np.concatenate(lims) if lims else np.zeros(0)
        if values.size:
            lo, hi = values.min(), values.max()
            ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="1:1")
        if label != "z" and values.size:  # a log axis needs points; an empty set stays linear
            ax.set_xscale("log")
            ax.set_yscale("log")
            for axis in (ax.xaxis, ax.yaxis):  # plain numbers at 1, 2, 5 x 10^n, not 3x10^1 beside 4x10^1
                axis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
                axis.set_major_formatter(plain)
                axis.set_minor_formatter(plain)
        if not values.size:
            ax.text(0.5, 0.5, "no estimates", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel(f"{label} true ({true_col})")
        ax.set_ylabel(f"{label} estimated ({est_col})")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def redshift_metrics(summary: dict):
    """The redshift stage's metrics per set (summary.json ``sets``): σ_z/(1+z) (NMAD), bias and
    outlier fraction with their intervals, the richness scatter and slope, as one table."""
    import pandas as pd

    def fmt(block: dict, key: str) -> str:
        value, ci = block.get(key), block.get(f"{key}_ci")
        if value is None:
            return ""
        return f"{value:.4f} [{ci[0]:.4f}, {ci[1]:.4f}]" if ci else f"{value:.4f}"

    rows = []
    for name, s in (summary.get("sets") or {}).items():
        z, lam = s.get("redshift") or {}, s.get("richness") or {}
        rows.append(
            {
                "set": name,
                "n_detections": s.get("n_detections"),
                "n_recovered_clusters": s.get("n_recovered_clusters"),
                "sigma_z_nmad": fmt(z, "sigma_nmad"),
                "bias": fmt(z, "bias"),
                "outlier_fraction": fmt(z, "outlier_fraction"),
                "richness_scatter_log10": fmt(lam, "scatter_log10"),
                "richness_slope": fmt(lam, "slope"),
            }
        )
    return pd.DataFrame(rows)


def flag_counts(frames: dict[str, Any]):
    """How many rows of each named table carry each z_flag and richness_flag (why estimates are missing)."""
    import pandas as pd

    rows = []
    for name, frame in frames.items():
        if frame is None:
            continue
        for col in ("z_flag", "richness_flag"):
            if col in frame:
                for flag, n in pd.Series(np.asarray(frame[col], str)).value_counts().items():
                    rows.append({"set": name, "flag": col, "value": flag, "n": int(n)})
    if not rows:
        return pd.DataFrame(columns=["set", "flag", "value", "n"])
    table = pd.DataFrame(rows).pivot_table(index=["flag", "value"], columns="set", values="n", fill_value=0)
    return table.astype(int)


def fmt_number(value, digits: int = 3) -> str:
    """A summary number for the page, '—' where the summary holds None (an empty cell, no data)."""
    return "—" if value is None else f"{value:.{digits}f}"


def fraction_text(block: dict, value: str, k: str, n: str) -> str:
    """'k of n: value [lo, hi]' from a summary block (``ci_lo``/``ci_hi``), '—' for what it lacks:
    an empty cell leaves its fraction None."""
    interval = f"[{fmt_number(block.get('ci_lo'))}, {fmt_number(block.get('ci_hi'))}]"
    return f"{block.get(k, '—')} of {block.get(n, '—')}: {fmt_number(block.get(value))} {interval}"


def groups_table(groups: dict | None):
    """The uncatalogued groups the candidates sit on, by richness bin, beside those in the area
    (summary.json purity.groups): counted apart from purity, so shown apart."""
    import pandas as pd

    if not groups:
        return None
    edges = groups["richness_edges"]
    return pd.DataFrame(
        {
            "richness_lo": edges[:-1],
            "richness_hi": edges[1:],
            "n_detected": groups["n_detected"],
            "n_in_area": groups["n_in_area"],
        }
    )
