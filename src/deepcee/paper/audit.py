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


def plot_examples(
    labels, predictions, views: list[str], threshold_pct: float | None = None, root: str | Path = ".", ncols: int = 3
):
    """A grid of PNGs with the true box (green) and predicted boxes at >= threshold (dashed, with scores)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

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
        ax.add_patch(
            Rectangle(
                (row["x0"], row["y0"]),
                row["x1"] - row["x0"],
                row["y1"] - row["y0"],
                fill=False,
                ec="lime",
                lw=2,
                label="truth",
            )
        )
        n_pred = 0
        if predictions is not None:
            boxes = predictions[(predictions["view"].astype(str) == view) & (predictions["score"] >= thr)]
            n_pred = len(boxes)
            for _, b in boxes.sort_values("score", ascending=False).head(10).iterrows():
                ax.add_patch(
                    Rectangle(
                        (b["x0"], b["y0"]),
                        b["x1"] - b["x0"],
                        b["y1"] - b["y0"],
                        fill=False,
                        ec="magenta",
                        lw=1.2,
                        ls="--",
                    )
                )
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
