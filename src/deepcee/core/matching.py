"""Detections matched to their image's true cluster: the counting shared by the evaluation
(paper §3.1, ``deepcee.evaluate.metrics``) and the redshift stage, which measures the same
matched detections (so it needs the matching, not the evaluation)."""

from __future__ import annotations

import numpy as np
from astropy.coordinates import angular_separation
from astropy.table import Table

from deepcee.core.cosmology import arcsec_to_kpc
from deepcee.core.errors import DeepCeeError

SCORE_RULES = ("greater", "greater_equal")
TP_CENTRES = ("highest_score", "closest")
LABEL_COLUMNS = ("view", "cluster_id", "ra", "dec", "z", "split")
PREDICTION_COLUMNS = ("view", "score", "ra", "dec")


def _require(table: Table, columns, what: str) -> None:
    missing = [c for c in columns if c not in table.colnames]
    if missing:
        raise DeepCeeError(f"{what}: missing column(s) {', '.join(missing)}")


def _floats(column) -> np.ndarray:
    """A float array with masked entries as NaN."""
    data = np.ma.asarray(column).astype(float)
    return np.ma.filled(data, np.nan)


def truth_table(labels: Table, split: str = "test", what: str = "labels.ecsv") -> Table:
    """The ground truth: one row per un-flipped image of ``split`` (paper: 204 test images)."""
    _require(labels, LABEL_COLUMNS, what)
    keep = np.asarray([str(s) == split for s in labels["split"]])
    if "flipped" in labels.colnames:
        keep &= ~np.asarray(labels["flipped"], dtype=bool)
    truth = labels[keep]
    if len(truth) == 0:
        raise DeepCeeError(f"{what}: no {split} images (empty {split} set)")
    views = [str(v) for v in truth["view"]]
    if len(set(views)) != len(views):
        dup = sorted({v for v in views if views.count(v) > 1})[0]
        raise DeepCeeError(f"{what}: view '{dup}' has more than one {split} row")
    z = _floats(truth["z"])
    bad = np.flatnonzero(~np.isfinite(z) | (z <= 0))
    if len(bad):
        raise DeepCeeError(f"{what}: view '{views[bad[0]]}' has no usable redshift (z={z[bad[0]]})")
    return truth


def match_predictions(predictions: Table, truth: Table, what: str = "predictions") -> Table:
    """Attach each prediction to its image's true cluster, with the distance in kpc.

    Returns a copy of ``predictions`` with ``truth_index`` (row of ``truth``),
    ``cluster_id``, ``z`` (true redshift), ``separation_arcsec`` and ``distance_kpc``.
    A prediction for a view that is not a ground-truth view is bad input.
    """
    _require(predictions, PREDICTION_COLUMNS, what)
    index_of = {str(v): i for i, v in enumerate(truth["view"])}
    views = [str(v) for v in predictions["view"]]
    rows = np.empty(len(views), dtype=int)
    for k, view in enumerate(views):
        try:
            rows[k] = index_of[view]
        except KeyError:
            raise DeepCeeError(
                f"{what} row {k}: view '{view}' has no test label (not a test image in labels.ecsv)"
            ) from None
    score = _floats(predictions["score"])
    bad = np.flatnonzero(~np.isfinite(score) | (score < 0) | (score > 1))
    if len(bad):
        raise DeepCeeError(f"{what} row {bad[0]}: score {score[bad[0]]} is not in [0, 1]")
    out = predictions.copy(copy_data=True)
    out["pred_index"] = np.arange(len(out), dtype=int)
    out["truth_index"] = rows
    out["cluster_id"] = (
        np.asarray([str(c) for c in truth["cluster_id"]], dtype=str)[rows] if len(rows) else np.array([], dtype=str)
    )
    z = _floats(truth["z"])[rows]
    true_ra = _floats(truth["ra"])[rows]
    true_dec = _floats(truth["dec"])[rows]
    sep_rad = angular_separation(
        np.radians(_floats(predictions["ra"])),
        np.radians(_floats(predictions["dec"])),
        np.radians(true_ra),
        np.radians(true_dec),
    )
    sep_arcsec = np.degrees(np.asarray(sep_rad, dtype=float)) * 3600.0
    out["z"] = z
    out["separation_arcsec"] = sep_arcsec
    out["distance_kpc"] = arcsec_to_kpc(sep_arcsec, z) if len(rows) else np.array([], dtype=float)
    return out


def passes(score, threshold_percent: float, score_rule: str = "greater") -> np.ndarray:
    """Which scores pass threshold t (per cent) under the score rule."""
    cut = float(threshold_percent) / 100.0
    score = np.asarray(score, dtype=float)
    if score_rule == "greater":
        return score > cut
    if score_rule == "greater_equal":
        return score >= cut
    raise DeepCeeError(f"evaluate.score_rule: '{score_rule}' is not one of {', '.join(SCORE_RULES)}")


def tp_centres(
    matched: Table,
    n_truth: int,
    threshold: float,
    distance_kpc: float = 100.0,
    score_rule: str = "greater",
    tp_centre: str = "highest_score",
) -> Table:
    """One prediction per true positive at ``threshold``: the row used for σ and offsets."""
    if tp_centre not in TP_CENTRES:
        raise DeepCeeError(f"evaluate.tp_centre: '{tp_centre}' is not one of {', '.join(TP_CENTRES)}")
    if len(matched) == 0:
        return matched[:0]
    ok = passes(matched["score"], threshold, score_rule)
    within = np.asarray(matched["distance_kpc"], dtype=float) <= distance_kpc
    cand = matched[ok & within]
    if len(cand) == 0:
        return cand
    score = np.asarray(cand["score"], dtype=float)
    dist = np.asarray(cand["distance_kpc"], dtype=float)
    idx = np.asarray(cand["truth_index"], dtype=int)
    if tp_centre == "highest_score":
        order = np.lexsort((dist, -score, idx))
    else:
        order = np.lexsort((-score, dist, idx))
    first = np.ones(len(order), dtype=bool)
    first[1:] = idx[order][1:] != idx[order][:-1]
    return cand[order[first]]
