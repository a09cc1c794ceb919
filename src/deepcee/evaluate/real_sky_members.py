"""The real-sky test by member kind (``evaluate.real_sky.member_kinds``; images/mock/real_members.py).

Each real-sky view is rendered once per kind over the same crop of the same test field:

* ``galsim``: the cluster's members drawn by GalSim (the real-sky test as before);
* ``real``: its members brighter than ``images.mock.real_members.mag_limit`` real galaxies of the
  other test fields; swept like Table 2, with intervals, pooled and per field;
* ``scattered``: the GalSim members that land in the view moved to uniform positions (no cluster);
* ``blank``: the crop with nothing injected.

The two controls have no cluster, so every box that passes a threshold is a false detection: they
are reported as the share of views with a passing box and boxes per view, each with a Wilson
interval, at every threshold. A detector that answers to how GalSim draws a galaxy rather than to
a cluster gives more boxes on ``scattered`` than on ``blank`` views.
"""

from __future__ import annotations

import numpy as np
from astropy.table import Table

from deepcee.core.intervals import wilson
from deepcee.evaluate.metrics import passes

KINDS = ("galsim", "real", "scattered", "blank")
CONTROLS = ("scattered", "blank")


def view_kinds(views: Table) -> dict[str, str]:
    """View name -> member kind (a plan without a ``members`` column is all ``galsim``)."""
    kinds = views["members"] if "members" in views.colnames else np.full(len(views), "galsim")
    return {str(v): str(k) for v, k in zip(views["view"], kinds)}


def views_of(kinds: dict[str, str], kind: str) -> set[str]:
    return {v for v, k in kinds.items() if k == kind}


def subset(table: Table, keep: set[str]) -> Table:
    return table[np.isin(np.asarray(table["view"], dtype=str), sorted(keep))]


def control_row(predictions: Table, views: set[str], threshold: float, score_rule: str, level: float) -> dict:
    """Boxes passing ``threshold`` on views that hold no cluster: views with one, boxes, per view."""
    n = len(views)
    pred = subset(predictions, views)
    ok = passes(pred["score"], threshold, score_rule) if len(pred) else np.zeros(0, bool)
    names = np.asarray(pred["view"], dtype=str)[ok]
    with_box = len(set(names))
    lo, hi = wilson(with_box, n, level)
    return {
        "threshold": float(threshold),
        "views": int(n),
        "views_with_box": int(with_box),
        "fraction_with_box": with_box / n if n else float("nan"),
        "fraction_lo": lo,
        "fraction_hi": hi,
        "boxes": int(ok.sum()),
        "boxes_per_view": float(ok.sum()) / n if n else float("nan"),
    }


def control_sweep(predictions: Table, views: set[str], thresholds, score_rule: str, level: float) -> list[dict]:
    return [control_row(predictions, views, float(t), score_rule, level) for t in thresholds]


def controls_verdict(rows: dict[str, dict]) -> dict | None:
    """The scattered control against blank views at the operating threshold: the difference in the
    share of views with a box, whether scattered members give no more views with a box than blank
    sky (the issue's test, strictly), and whether the two Wilson intervals overlap."""
    if not all(k in rows for k in CONTROLS):
        return None
    s, b = rows["scattered"], rows["blank"]
    return {
        "threshold": s["threshold"],
        "excess_fraction_with_box": s["fraction_with_box"] - b["fraction_with_box"],
        "scattered_no_more_than_blank": bool(s["views_with_box"] <= b["views_with_box"]),
        "intervals_overlap": bool(s["fraction_lo"] <= b["fraction_hi"] and b["fraction_lo"] <= s["fraction_hi"]),
    }
