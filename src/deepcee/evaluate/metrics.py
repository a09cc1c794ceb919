"""The paper's evaluation metrics (Chan & Stott 2019 §3; docs/design.md §7), computed exactly as defined.

Definitions (all stated here once; docs/stages.md §4–5 and the summaries repeat them):

* **Ground truth.** One true cluster per test image: the catalogue cluster the image
  was made for (``labels.ecsv`` rows with ``split == 'test'``, never flipped). The
  number of "test clusters" is the number of test images (paper: 204 = TP + FN on
  every row of Table 2); a cluster seen at two offsets counts twice, as in the paper.
* **Distance** between a predicted centre and its image's true centre: the angular
  separation of (pred RA, Dec) and (true RA, Dec) times the angular-diameter
  distance at the TRUE cluster's redshift (``deepcee.core.cosmology.COSMO``), in proper
  kpc ("the predicted cluster centre is assumed to be at the same redshift").
* **Score rule.** A prediction passes threshold t (per cent) when
  ``score > t/100`` (``score_rule: greater``, the paper's wording "score greater than
  the confidence score threshold"; it also gives the paper's empty 100 % row) or
  ``score >= t/100`` (``score_rule: greater_equal``).
* **TP** = test images whose true cluster has at least one passing prediction within
  ``distance_kpc`` (paper: 100 kpc); **FN** = test images without. Each found cluster
  contributes exactly ONE true-positive box; **FP** = every other passing box, wherever
  it lies (``extra_boxes: count_as_fp``, the default). This is the paper's own
  arithmetic: its 0 % rows are TP + FP = 203 + 60,997 = 300 x 204 (Table 2) and
  30 + 9,270 = 300 x 31 (Table 3), i.e. TP + FP = passing boxes on every row.
  ``extra_boxes: ignore_near_found`` keeps the older rule: extra passing boxes within
  ``distance_kpc`` of an already-found cluster are neither TP nor FP. Either way they
  are counted as ``duplicates`` in the sweep, and ``passing`` is the number of passing
  boxes.
* **Precision** = TP/(TP+FP), **recall** = TP/(TP+FN), **F1** = 2PR/(P+R). When there
  is no passing prediction (TP+FP = 0) precision is defined as 0, and F1 is 0 when
  P+R = 0 — exactly what the paper prints on its 100 % rows (0.00, 0.00, 0.00).
* **Standard error of the centre** σ = √(Σ d²/N) over the N true positives at a
  threshold, d being the distance of ONE prediction per TP: the highest-scoring
  passing prediction within ``distance_kpc`` (ties: the closer one)
  (``tp_centre: highest_score``) or the closest one (``tp_centre: closest``).
* **KS tests**: ``scipy.stats.ks_2samp`` between the property values of all test
  images' clusters and those of the TPs at the chosen threshold, with the
  large-sample α critical value c(α)·√((n+m)/(n·m)), c(α) = √(−ln(α/2)/2)
  (1.358 at α = 0.05). A property with no finite values (e.g. ``bcg_rmag`` on the
  bundled path) is reported as unavailable, never invented.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from astropy.table import Table

from deepcee.core.errors import DeepCeeError
from deepcee.core.matching import (  # noqa: F401 (metrics.* is the evaluation's API)
    LABEL_COLUMNS,
    PREDICTION_COLUMNS,
    SCORE_RULES,
    TP_CENTRES,
    _floats,
    _require,
    match_predictions,
    passes,
    tp_centres,
    truth_table,
)

DEFAULT_THRESHOLDS = tuple(range(0, 101, 10))
SWEEP_COLUMNS = ("threshold", "tp", "fp", "fn", "precision", "recall", "f1")  # the paper's Tables 2 and 3
#: ... and, per row, the passing boxes (TP + FP under the paper's counting) and the extra ones near a found cluster
SWEEP_TABLE_COLUMNS = (*SWEEP_COLUMNS, "duplicates", "passing")
EXTRA_BOXES = ("count_as_fp", "ignore_near_found")
KS_PROPERTIES = ("z", "bcg_rmag", "richness")


# --------------------------------------------------------------------------- inputs
def check_thresholds(thresholds, key: str = "evaluate.thresholds") -> list[float]:
    """Validate a list of confidence thresholds in per cent: non-empty, finite, in [0, 100], unique."""
    try:
        values = [float(t) for t in thresholds]
    except (TypeError, ValueError) as err:
        raise DeepCeeError(f"{key}: thresholds must be numbers in per cent ({err})") from None
    if not values:
        raise DeepCeeError(f"{key}: the threshold list is empty")
    for t in values:
        if not math.isfinite(t) or t < 0 or t > 100:
            raise DeepCeeError(f"{key}: threshold {t:g} is outside [0, 100] per cent")
    if len(set(values)) != len(values):
        raise DeepCeeError(f"{key}: thresholds repeat ({values})")
    return values


# --------------------------------------------------------------------------- counting
def precision_recall_f1(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Precision, recall, F1 with 0/0 defined as 0 (the paper's 100 % rows)."""
    precision = tp / (tp + fp) if (tp + fp) > 0 else 0.0
    recall = tp / (tp + fn) if (tp + fn) > 0 else 0.0
    f1 = 2 * precision * recall / (precision + recall) if (precision + recall) > 0 else 0.0
    return precision, recall, f1


@dataclass
class Counts:
    threshold: float
    tp: int
    fp: int
    fn: int
    duplicates: int
    found: np.ndarray  # bool per truth row
    passing: int = 0

    @property
    def prf(self) -> tuple[float, float, float]:
        return precision_recall_f1(self.tp, self.fp, self.fn)


def check_extra_boxes(extra_boxes: str) -> str:
    if extra_boxes not in EXTRA_BOXES:
        raise DeepCeeError(f"evaluate.extra_boxes: '{extra_boxes}' is not one of {', '.join(EXTRA_BOXES)}")
    return extra_boxes


def counts_at(
    matched: Table,
    n_truth: int,
    threshold: float,
    distance_kpc: float = 100.0,
    score_rule: str = "greater",
    extra_boxes: str = "count_as_fp",
) -> Counts:
    """TP, FP, FN (and within-distance duplicates) at one threshold (per cent).

    ``count_as_fp``: FP = passing boxes - TP (the paper's Tables 2 and 3);
    ``ignore_near_found``: FP = passing boxes farther than ``distance_kpc`` from their true cluster.
    """
    check_extra_boxes(extra_boxes)
    ok = passes(matched["score"], threshold, score_rule) if len(matched) else np.zeros(0, bool)
    within = np.asarray(matched["distance_kpc"], dtype=float) <= distance_kpc if len(matched) else np.zeros(0, bool)
    idx = np.asarray(matched["truth_index"], dtype=int) if len(matched) else np.zeros(0, int)
    found = np.zeros(n_truth, dtype=bool)
    found[idx[ok & within]] = True
    tp = int(found.sum())
    passing = int(ok.sum())
    duplicates = int((ok & within).sum()) - tp
    fp = passing - tp if extra_boxes == "count_as_fp" else int((ok & ~within).sum())
    return Counts(float(threshold), tp, fp, n_truth - tp, duplicates, found, passing)


def sweep(
    matched: Table,
    n_truth: int,
    thresholds=DEFAULT_THRESHOLDS,
    distance_kpc: float = 100.0,
    score_rule: str = "greater",
    extra_boxes: str = "count_as_fp",
) -> Table:
    """The paper's threshold sweep (Tables 2 and 3): one row per threshold."""
    thresholds = check_thresholds(thresholds)
    check_extra_boxes(extra_boxes)
    if n_truth <= 0:
        raise DeepCeeError("sweep: empty test set (no true clusters)")
    rows = []
    for t in thresholds:
        c = counts_at(matched, n_truth, t, distance_kpc, score_rule, extra_boxes)
        p, r, f = c.prf
        rows.append((t, c.tp, c.fp, c.fn, p, r, f, c.duplicates, c.passing))
    table = Table(
        rows=rows,
        names=SWEEP_TABLE_COLUMNS,
        dtype=(float, int, int, int, float, float, float, int, int),
    )
    table.meta["distance_kpc"] = float(distance_kpc)
    table.meta["score_rule"] = score_rule
    table.meta["extra_boxes"] = extra_boxes
    table.meta["n_truth"] = int(n_truth)
    return table


def choose_threshold(sweep_table: Table, chosen="best") -> float:
    """The chosen threshold: a number from config, or the best-F1 one.

    Ties in F1 go to the HIGHER threshold (fewer false positives for the same F1).
    """
    thresholds = [float(t) for t in sweep_table["threshold"]]
    if chosen != "best":
        value = check_thresholds([chosen], "evaluate.chosen_threshold")[0]
        if value not in thresholds:
            raise DeepCeeError(f"evaluate.chosen_threshold: {value:g} is not one of the swept thresholds {thresholds}")
        return value
    f1 = np.asarray(sweep_table["f1"], dtype=float)
    best = np.flatnonzero(f1 == np.nanmax(f1))
    return max(thresholds[i] for i in best)


def row_at(sweep_table: Table, threshold: float) -> dict:
    i = [float(t) for t in sweep_table["threshold"]].index(float(threshold))
    return {name: sweep_table[name][i].item() for name in sweep_table.colnames}


# --------------------------------------------------------------------------- distances
def standard_error(distances) -> float:
    """σ_estimate = √(Σ d² / N) (paper eq. 8); NaN for no true positives."""
    d = np.asarray(distances, dtype=float)
    return float(np.sqrt(np.mean(d**2))) if len(d) else float("nan")


def distance_table(
    matched: Table,
    threshold: float,
    distance_kpc: float = 100.0,
    score_rule: str = "greater",
    centres: Table | None = None,
) -> Table:
    """Every prediction passing ``threshold`` with its distance and whether it is within the cut."""
    if len(matched) == 0:
        out = Table(
            names=(
                "pred_index",
                "view",
                "cluster_id",
                "score",
                "ra",
                "dec",
                "z",
                "separation_arcsec",
                "distance_kpc",
                "within",
                "tp_centre",
            ),
            dtype=(int, str, str, float, float, float, float, float, float, bool, bool),
        )
        return out
    ok = passes(matched["score"], threshold, score_rule)
    keep = [
        c
        for c in (
            "pred_index",
            "view",
            "cluster_id",
            "x",
            "y",
            "x0",
            "y0",
            "x1",
            "y1",
            "score",
            "ra",
            "dec",
            "z",
            "separation_arcsec",
            "distance_kpc",
        )
        if c in matched.colnames
    ]
    out = matched[ok][keep]
    out["within"] = np.asarray(out["distance_kpc"], dtype=float) <= distance_kpc
    chosen = set() if centres is None else {int(i) for i in centres["pred_index"]}
    out["tp_centre"] = np.asarray([int(i) in chosen for i in out["pred_index"]], dtype=bool)
    out.sort(["view", "pred_index"])
    out.meta.update(
        {"threshold_percent": float(threshold), "distance_kpc": float(distance_kpc), "score_rule": score_rule}
    )
    return out


# --------------------------------------------------------------------------- KS tests
def ks_critical_value(n: int, m: int, alpha: float = 0.05) -> float:
    """Large-sample two-sample KS critical value c(α)·√((n+m)/(n·m)), c(α)=√(−ln(α/2)/2)."""
    if n <= 0 or m <= 0:
        return float("nan")
    c_alpha = math.sqrt(-math.log(alpha / 2.0) / 2.0)
    return c_alpha * math.sqrt((n + m) / (n * m))


def ks_tests(truth: Table, found: np.ndarray, properties=KS_PROPERTIES, alpha: float = 0.05) -> dict:
    """Two-sample KS test per property: all test clusters vs those recovered (``found``)."""
    from scipy.stats import ks_2samp

    found = np.asarray(found, dtype=bool)
    c_alpha = math.sqrt(-math.log(alpha / 2.0) / 2.0)
    out = {
        "alpha": alpha,
        "c_alpha": c_alpha,
        "n_test": int(len(truth)),
        "n_recovered": int(found.sum()),
        "properties": {},
    }
    for name in properties:
        if name not in truth.colnames:
            out["properties"][name] = {"available": False, "reason": f"no column '{name}' in the labels"}
            continue
        values = _floats(truth[name])
        finite = np.isfinite(values)
        a, b = values[finite], values[finite & found]
        if len(a) == 0:
            out["properties"][name] = {
                "available": False,
                "reason": f"'{name}' has no finite values (e.g. not in the catalogue)",
            }
            continue
        if len(b) == 0:
            out["properties"][name] = {
                "available": False,
                "n": int(len(a)),
                "m": 0,
                "reason": "no recovered clusters at the chosen threshold",
            }
            continue
        res = ks_2samp(a, b)
        crit = ks_critical_value(len(a), len(b), alpha)
        out["properties"][name] = {
            "available": True,
            "n": int(len(a)),
            "m": int(len(b)),
            "n_missing": int((~finite).sum()),
            "statistic": float(res.statistic),
            "pvalue": float(res.pvalue),
            "critical_value": crit,
            "reject_null": bool(res.statistic > crit),
        }
    return out


# --------------------------------------------------------------------------- examples (Table 1)
def best_score_within(matched: Table, n_truth: int, distance_kpc: float = 100.0) -> np.ndarray:
    """Per truth row: the highest score of any prediction within ``distance_kpc`` (NaN if none)."""
    best = np.full(n_truth, np.nan)
    if len(matched) == 0:
        return best
    within = np.asarray(matched["distance_kpc"], dtype=float) <= distance_kpc
    idx = np.asarray(matched["truth_index"], dtype=int)[within]
    score = np.asarray(matched["score"], dtype=float)[within]
    for i, s in zip(idx, score):
        if not (best[i] >= s):
            best[i] = s
    return best


def pick_examples(
    truth: Table, matched: Table, distance_kpc: float = 100.0, n: int = 3, targets=(0.98, 0.51, 0.20)
) -> list[int]:
    """Rows of ``truth`` for Table 1 / Figure 7: clusters of contrasting confidence.

    The confidence of a test cluster is the highest score of any prediction within
    ``distance_kpc`` of it. For each target score (default the paper's 98, 51, 20 %)
    the unused cluster (distinct cluster ids) with the closest confidence is taken,
    ties broken by view name; examples are returned highest confidence first.
    """
    best = best_score_within(matched, len(truth), distance_kpc)
    views = [str(v) for v in truth["view"]]
    clusters = [str(c) for c in truth["cluster_id"]]
    candidates = [i for i in np.argsort(views) if np.isfinite(best[i])]
    if len(candidates) < n:  # fall back on unmatched clusters (confidence 0)
        best = np.where(np.isfinite(best), best, 0.0)
        candidates = list(np.argsort(views))
    chosen: list[int] = []
    for target in list(targets)[:n]:
        used = {clusters[i] for i in chosen}
        pool = [i for i in candidates if i not in chosen and clusters[i] not in used] or [
            i for i in candidates if i not in chosen
        ]
        if not pool:
            break
        chosen.append(min(pool, key=lambda i: (abs(best[i] - target), views[i])))
    return sorted(chosen, key=lambda i: -best[i])


# --------------------------------------------------------------------------- boxes per image
def boxes_per_image(matched: Table, truth: Table) -> dict:
    """Boxes per test image at score 0 (every box the detector emitted): min, median, max, mean.

    The paper's 0 % rows hold 300 boxes per image (the TF1 Object Detection API pads its
    output to ``max_total_detections``); ours hold what the detector emits.
    """
    index_of = {str(v): i for i, v in enumerate(truth["view"])}
    per = np.zeros(len(truth), dtype=int)
    for v in matched["view"] if len(matched) else []:
        per[index_of[str(v)]] += 1
    if len(per) == 0:
        return {"n_images": 0, "min": 0, "median": float("nan"), "max": 0, "mean": float("nan"), "total": 0}
    return {
        "n_images": int(len(per)),
        "min": int(per.min()),
        "median": float(np.median(per)),
        "max": int(per.max()),
        "mean": float(per.mean()),
        "total": int(per.sum()),
    }


def normalised_zero_row(sweep_table: Table, n_images: int, boxes_per_image: int = 300) -> dict:
    """The lowest-threshold row rescaled to ``boxes_per_image`` boxes per image, as the paper's 0 % row.

    TP and FN are kept (a cluster is found or not); FP becomes n_images x boxes_per_image - TP,
    which is exactly the paper's count if every extra padded box is a false positive.
    This is an arithmetic re-expression, not a detection: it says what our 0 % row would read
    had the detector been padded to the same number of boxes.
    """
    i = int(np.argmin(np.asarray(sweep_table["threshold"], dtype=float)))
    tp, fn = int(sweep_table["tp"][i]), int(sweep_table["fn"][i])
    fp = max(int(n_images) * int(boxes_per_image) - tp, int(sweep_table["fp"][i]))
    p, r, f = precision_recall_f1(tp, fp, fn)
    return {
        "threshold": float(sweep_table["threshold"][i]),
        "boxes_per_image": int(boxes_per_image),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": p,
        "recall": r,
        "f1": f,
    }


# --------------------------------------------------------------------------- whole evaluation
def evaluate(
    predictions: Table,
    labels: Table,
    thresholds=DEFAULT_THRESHOLDS,
    distance_kpc: float = 100.0,
    chosen="best",
    score_rule: str = "greater",
    tp_centre: str = "highest_score",
    ks_alpha: float = 0.05,
    split: str = "test",
    what: str = "predictions",
    extra_boxes: str = "count_as_fp",
    example_scores=(0.98, 0.51, 0.20),
) -> dict:
    """Everything one test set needs: sweep, chosen threshold, distances, σ, KS, examples."""
    thresholds = check_thresholds(thresholds)
    truth = truth_table(labels, split)
    matched = match_predictions(predictions, truth, what)
    table = sweep(matched, len(truth), thresholds, distance_kpc, score_rule, extra_boxes)
    t = choose_threshold(table, chosen)
    counts = counts_at(matched, len(truth), t, distance_kpc, score_rule, extra_boxes)
    centres = tp_centres(matched, len(truth), t, distance_kpc, score_rule, tp_centre)
    distances = distance_table(matched, t, distance_kpc, score_rule, centres)
    ks = ks_tests(truth, counts.found, KS_PROPERTIES, ks_alpha)
    n_pass = len(distances)
    return {
        "truth": truth,
        "matched": matched,
        "sweep": table,
        "threshold": t,
        "counts": counts,
        "centres": centres,
        "distances": distances,
        "ks": ks,
        "sigma_kpc": standard_error(centres["distance_kpc"]) if len(centres) else float("nan"),
        "fraction_predictions_within": float(np.mean(distances["within"])) if n_pass else float("nan"),
        "examples": pick_examples(truth, matched, distance_kpc, n=len(example_scores), targets=example_scores),
        "boxes_per_image": boxes_per_image(matched, truth),
    }
