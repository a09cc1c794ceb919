"""The redshift stage's quotable numbers as LaTeX macros (name -> value), for results/numbers.tex.

Names are letters only (deepcee.paper.numbers requires it): ``Rz`` + set (``Test``,
``Redmapper``) + quantity, with ``Lo``/``Hi`` for the bootstrap interval. A number the
summary does not hold (a set that was not run, a spread of too few clusters) is None,
which the paper prints as n/a.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from pathlib import Path

SETS = {"test": "Test", "redmapper": "Redmapper"}
REDSHIFT = {"sigma_nmad": "SigmaZ", "bias": "BiasZ", "outlier_fraction": "FracOutlierZ"}
RICHNESS = {"scatter_log10": "RichScatter", "slope": "RichSlope"}


def _num(value):
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def redshift_macros(summary: dict | str | Path) -> OrderedDict[str, float | int | None]:
    """``results/08_redshift/summary.json`` (a dict or its path) -> ordered ``{macro: value}``."""
    if not isinstance(summary, dict):
        summary = json.loads(Path(summary).read_text())
    out: OrderedDict[str, float | int | None] = OrderedDict()
    cal = summary.get("calibration", {})
    out["RzCalibClusters"] = cal.get("n_measured")
    out["RzTrainClusters"] = cal.get("n_training_clusters")
    out["RzCalibNmadZ"] = _num(cal.get("redshift", {}).get("nmad_in_sample"))
    out["RzOutlierThreshold"] = _num(summary.get("outlier_threshold"))
    out["RzIntervalPct"] = _num(100 * summary["interval"]) if "interval" in summary else None
    for key, tag in SETS.items():
        s = summary.get("sets", {}).get(key, {})
        out[f"Rz{tag}Detections"] = s.get("n_detections")
        out[f"Rz{tag}ZMissing"] = s.get("n_z_missing")
        out[f"Rz{tag}RichMissing"] = s.get("n_richness_missing")
        out[f"Rz{tag}Recovered"] = s.get("n_recovered_clusters")
        z, r = s.get("redshift", {}), s.get("richness", {})
        out[f"Rz{tag}NZ"] = z.get("n")
        for part, names in ((z, REDSHIFT), (r, RICHNESS)):
            for field, name in names.items():
                out[f"Rz{tag}{name}"] = _num(part.get(field))
                lo, hi = (part.get(f"{field}_ci") or [None, None])[:2]
                out[f"Rz{tag}{name}Lo"] = _num(lo)
                out[f"Rz{tag}{name}Hi"] = _num(hi)
        out[f"Rz{tag}NRich"] = r.get("n")
    return out
