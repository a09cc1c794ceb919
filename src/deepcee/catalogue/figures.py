"""Figure 2 of the paper: redshift, BCG r magnitude and richness of the sample."""

from __future__ import annotations

import numpy as np
from astropy.table import Table

from deepcee.catalogue.select import has_bcg_magnitudes
from deepcee.core.figures import new_figure, save_figure


def fig02_sample_properties(sample: Table, members_label: str, *paths) -> dict:
    """Three stacked histograms, as the paper's Figure 2.

    A column the source lacks (the bundled path has no BCG magnitude) is shown as an
    empty panel that says so, never filled with invented values. Returns what was drawn.
    """
    fig, axes = new_figure(3, 1, figsize=(4.2, 7.0))
    drawn = {}
    panels = [
        ("z", "photometric redshift", 12),
        ("bcg_rmag", "BCG r-band magnitude", 12),
        ("richness", f"richness ({members_label})", 15),
    ]
    for ax, (column, label, bins) in zip(axes, panels):
        values = np.ma.filled(np.ma.asarray(sample[column], dtype=float), np.nan)
        values = values[np.isfinite(values)]
        if column == "bcg_rmag" and not has_bcg_magnitudes(sample):
            ax.text(
                0.5,
                0.5,
                f"not available from this source\n({sample['source'][0]})",
                ha="center",
                va="center",
                transform=ax.transAxes,
                color="0.35",
            )
            ax.set_xticks([])
            ax.set_yticks([])
            drawn[column] = 0
        else:
            ax.hist(values, bins=bins, color="#b2182b", alpha=0.8, edgecolor="white")
            ax.set_ylabel("clusters")
            drawn[column] = int(values.size)
        ax.set_xlabel(label)
    axes[0].set_title(f"{len(sample)} clusters in the sample")
    fig.tight_layout()
    save_figure(fig, *paths)
    return drawn
