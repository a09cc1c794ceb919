"""Shared figure plumbing: one style, PDF + PNG written atomically together."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from deepcee.core.files import atomic_path

STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
}


def new_figure(*args, **kwargs):
    """``plt.subplots`` under the project style."""
    with plt.rc_context(STYLE):
        return plt.subplots(*args, **kwargs)


def save_figure(fig, *paths: str | Path) -> None:
    """Save ``fig`` to each path (format from the suffix), atomically, then close it."""
    with plt.rc_context(STYLE):
        for path in paths:
            with atomic_path(path) as tmp:
                fig.savefig(tmp, bbox_inches="tight", metadata=_metadata(Path(path).suffix))
    plt.close(fig)


def _metadata(suffix: str) -> dict:
    # Fixed metadata so the same data give byte-identical files (no creation date).
    if suffix == ".pdf":
        return {"CreationDate": None, "Creator": "deepcee"}
    if suffix == ".png":
        return {"Software": "deepcee"}
    return {}
