"""Every number the paper quotes, collected from the stages' files into LaTeX macros.

``collect_numbers`` reads the contract files of each stage (catalogue, labels, losses,
the two sweep tables, the stage summaries) and returns an ordered mapping
``macro name -> value``; ``write_numbers_tex`` writes them to ``results/numbers.tex`` as
``\\newcommand{\\NSample}{412}`` lines, ``write_comparison`` puts this run beside the
published paper (``results/tables/table_comparison.{csv,tex}`` and the row-by-row
``table_comparison_sweeps.{csv,tex}``).

Where the numbers come from (each file read by its contract, deepcee.core.contracts):

* settings: the resolved config, one key per macro (``CONFIG_KEYS``);
* counts: the contract files themselves (rows of ``sample.ecsv``, ``labels.ecsv``...),
  so the text can never disagree with the data;
* sweep numbers (best threshold, P/R/F1, TP/FP/FN): ``table2_sweep_test.csv`` and
  ``table3_sweep_redmapper.csv`` -- the best threshold is the stage's chosen one, else
  the row of highest F1 with the HIGHER threshold winning a tie (fewer false positives for
  the same F1; ``deepcee.evaluate.metrics.choose_threshold``);
* standard error, KS statistics and critical values, the fraction of predictions
  within the distance threshold: ``04_evaluate/summary.json`` and ``ks_test.json``
  (the keys their contracts declare);
* training steps, device, losses: ``losses.csv`` and ``03_train/summary.json``.

A number no stage provides becomes ``\\textit{n/a}`` in the paper and is listed
under ``missing`` in ``numbers.json``: a partial run still builds a (marked) paper.
"""

from __future__ import annotations

import csv
import math
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any

from deepcee.core.contracts import get_key, read_summary, read_table
from deepcee.core.errors import DeepCeeError
from deepcee.core.files import write_json, write_text
from deepcee.core.text import latex_escape

NA = None

#: The published numbers (Chan & Stott 2019), for the comparison tables and tests.
PUBLISHED: dict[str, Any] = {
    "NSample": 497,
    "ViewsPerCluster": 4,
    "NImages": 1988,
    "NTrain": 1784,
    "NTest": 204,
    "NTrainAugmented": 3568,
    "ImageSizePx": 2000,
    "TrainSizePx": 1000,
    "TrainSteps": 7458,
    "DistanceThresholdKpc": 100,
    "TestBestThreshold": 80,
    "TestBestTP": 165,
    "TestBestFP": 72,
    "TestBestFN": 39,
    "TestBestPrecision": 0.6962,
    "TestBestRecall": 0.8088,
    "TestBestFOne": 0.7483,
    "TestZeroFP": 60997,
    "TestZeroTP": 203,
    "StdErrKpc": 17.40,
    "KSRedshift": 0.06275,
    "KSBCG": 0.07335,
    "KSRichness": 0.02193,
    "KSCritical": 0.1289,
    "FracPredWithin": 0.70,
    "FracClustersWithin": 0.81,
    "NRedmapperClusters": 31,
    "RedmapperAreaDeg": 105,
    "RMBestThreshold": 70,
    "RMBestTP": 27,
    "RMBestFP": 8,
    "RMBestFN": 4,
    "RMBestPrecision": 0.7714,
    "RMBestRecall": 0.8710,
    "RMBestFOne": 0.8182,
    "RMZeroFP": 9270,
    "TestBoxesMedian": 300,
    "TestBoxesMin": 300,
    "TestBoxesMax": 300,
    "TestZeroFPNormalised": 60997,
    "RMBoxesMedian": 300,
}

#: Table 2 and Table 3 of the paper: threshold (%) -> (TP, FP, FN, precision, recall, F1).
PUBLISHED_TABLE2 = {
    0: (203, 60997, 1, 0.003317, 0.9951, 0.006612),
    10: (198, 538, 6, 0.2690, 0.9706, 0.4213),
    20: (197, 391, 7, 0.3350, 0.9657, 0.4975),
    30: (193, 302, 11, 0.3899, 0.9461, 0.5522),
    40: (191, 243, 13, 0.4401, 0.9363, 0.5987),
    50: (188, 202, 16, 0.4821, 0.9216, 0.6330),
    60: (181, 163, 23, 0.5262, 0.8873, 0.6606),
    70: (177, 119, 27, 0.5980, 0.8676, 0.7080),
    80: (165, 72, 39, 0.6962, 0.8088, 0.7483),
    90: (136, 29, 68, 0.8242, 0.6667, 0.7371),
    100: (0, 0, 204, 0.00, 0.00, 0.00),
}
PUBLISHED_TABLE3 = {
    0: (30, 9270, 1, 0.003226, 0.9677, 0.006430),
    10: (29, 50, 2, 0.3671, 0.9355, 0.5273),
    20: (29, 29, 2, 0.50, 0.9355, 0.6517),
    30: (29, 23, 2, 0.5577, 0.9355, 0.6988),
    40: (28, 18, 3, 0.6087, 0.9032, 0.7273),
    50: (28, 14, 3, 0.6667, 0.9032, 0.7671),
    60: (28, 11, 3, 0.7179, 0.9032, 0.80),
    70: (27, 8, 4, 0.7714, 0.8710, 0.8182),
    80: (23, 4, 8, 0.8519, 0.7419, 0.7931),
    90: (17, 0, 14, 1.00, 0.5484, 0.7083),
    100: (0, 0, 31, 0.00, 0.00, 0.00),
}

#: Rows of the comparison table: (macro, label, kind). kind: int, pct, ratio, kpc, ks, str.
COMPARISON_ROWS = [
    ("NSample", "Clusters in the sample", "int"),
    ("ViewsPerCluster", "Views (offsets) per cluster", "int"),
    ("NImages", "Images (views)", "int"),
    ("NTrain", "Training images", "int"),
    ("NTest", "Test images", "int"),
    ("NTrainAugmented", "Training images after flips", "int"),
    ("ImageSizePx", "Cut-out size (px)", "int"),
    ("TrainSizePx", "Training image size (px)", "int"),
    ("TrainSteps", "Training steps", "int"),
    ("TestBestThreshold", "Test set: best threshold (\\%)", "int"),
    ("TestBestPrecision", "Test set: precision at best", "ratio"),
    ("TestBestRecall", "Test set: recall at best", "ratio"),
    ("TestBestFOne", "Test set: F1 at best", "ratio"),
    ("TestBoxesMedian", "Test set: boxes per image at 0\\% (median)", "int"),
    ("TestBoxesMin", "Test set: boxes per image at 0\\% (min)", "int"),
    ("TestBoxesMax", "Test set: boxes per image at 0\\% (max)", "int"),
    ("TestZeroFP", "Test set: FP at 0\\%", "int"),
    ("TestZeroFPNormalised", "Test set: FP at 0\\%, 300 boxes per image", "int"),
    ("StdErrKpc", "Standard error of centres (kpc)", "kpc"),
    ("FracPredWithin", "Predictions within 100 kpc", "ratio"),
    ("FracClustersWithin", "Clusters recovered within 100 kpc", "ratio"),
    ("KSRedshift", "KS statistic: redshift", "ks"),
    ("KSBCG", "KS statistic: BCG $r$ mag", "ks"),
    ("KSRichness", "KS statistic: richness", "ks"),
    ("KSCritical", "KS critical value ($\\alpha=0.05$)", "ks"),
    ("NRedmapperClusters", "redMaPPer comparison clusters", "int"),
    ("RMBestThreshold", "redMaPPer: best threshold (\\%)", "int"),
    ("RMBestPrecision", "redMaPPer: precision at best", "ratio"),
    ("RMBestRecall", "redMaPPer: recall at best", "ratio"),
    ("RMBestFOne", "redMaPPer: F1 at best", "ratio"),
]

#: The config key of each config-derived number (the resolved config, schema defaults filled).
CONFIG_KEYS: dict[str, str] = {
    "Seed": "seed",
    "ResultsDir": "results_dir",
    "ViewsPerCluster": "images.views_per_cluster",
    "ImageSizePx": "images.pixels",
    "PixelScaleArcsec": "images.pixel_scale_arcsec",
    "MaxOffsetArcsec": "images.max_offset_arcsec",
    "TrainSizePx": "train.detector.image_size",  # null: images.stretch.output_size (see config_numbers)
    "BoxKpc": "images.labels.box_kpc",
    "CentreSearchRadius": "train.predict.centre.search_radius",
    "CentreMaxRmag": "train.predict.centre.max_rmag",
    "CentreMinRFiftyArcsec": "train.predict.centre.min_r50_arcsec",
    "TestFraction": "images.split.test_fraction",
    "SplitBy": "images.split.by",
    "Backbone": "train.detector.backbone",
    "Weights": "train.detector.weights",
    "Optimiser": "train.optimiser.name",
    "LearningRate": "train.optimiser.lr",
    "ClipGradNorm": "train.optimiser.clip_grad_norm",
    "BatchSize": "train.batch_size",
    "ConfigSteps": "train.steps",
    "DistanceThresholdKpc": "evaluate.distance_kpc",
    "KSAlpha": "evaluate.ks_alpha",
    "CatalogueSource": "catalogue.source",
    "ImageSource": "images.source",
    "RealBackgroundFraction": "images.mock.real_background_fraction",
    "ZMin": "catalogue.cuts.z_min",
    "ZMax": "catalogue.cuts.z_max",
    "MinMembers": "catalogue.cuts.min_members",
}

#: The sweep rows' fields of the Best* and Zero* macros.
_SWEEP_FIELDS = (
    "BestThreshold",
    "BestTP",
    "BestFP",
    "BestFN",
    "BestPrecision",
    "BestRecall",
    "BestFOne",
    "ZeroTP",
    "ZeroFP",
    "ZeroFN",
    "NTruth",
)


# --------------------------------------------------------------------------- reading
def _given(inputs: dict, key: str) -> Path | None:
    """The path of input ``key``; None when the run did not produce it (a partial run)."""
    path = inputs.get(key)
    return None if path is None or not Path(path).exists() else Path(path)


def read_summary_or_empty(inputs: dict, key: str) -> dict:
    """Summary ``key`` checked against its contract, or {} when the run did not produce it."""
    path = _given(inputs, key)
    return {} if path is None else read_summary(key, path)


def read_sweep(path: str | Path) -> list[dict[str, float]]:
    """A threshold-sweep CSV (Table 2 or 3) as rows with keys threshold (%), tp, fp, fn, precision, recall, f1."""
    table = read_table("sweep", path)
    if not len(table):
        raise DeepCeeError(f"{path}: sweep table has no rows")
    return [{c: float(table[c][i]) for c in table.colnames} for i in range(len(table))]


def best_row(rows: list[dict[str, float]], chosen: float | None = None) -> dict[str, float]:
    """The row at the stage's ``chosen`` threshold (per cent) if given and swept, else the row of highest
    F1, the higher threshold winning a tie (as ``deepcee.evaluate.metrics.choose_threshold``)."""
    if chosen is not None:
        for r in rows:
            if abs(r["threshold"] - float(chosen)) < 1e-6:
                return r
    f1 = [(-1.0 if math.isnan(r["f1"]) else r["f1"]) for r in rows]
    top = max(f1)
    return max((r for r, f in zip(rows, f1) if f == top), key=lambda r: r["threshold"])


def _table_len(inputs: dict, key: str) -> int | None:
    path = _given(inputs, key)
    return None if path is None else len(read_table("catalogue", path))


def _labels_counts(inputs: dict, key: str) -> dict[str, int]:
    path = _given(inputs, key)
    if path is None:
        return {}
    table = read_table("labels", path)
    split = [str(s) for s in table["split"]]
    flipped = [bool(f) for f in table["flipped"]]
    ids = [str(c) for c in table["cluster_id"]]
    views = [(s, f) for s, f in zip(split, flipped)]
    return {
        "images": sum(1 for _, f in views if not f),
        "train": sum(1 for s, f in views if s == "train" and not f),
        "test": sum(1 for s, f in views if s == "test" and not f),
        "train_augmented": sum(1 for s, _ in views if s == "train"),
        "flipped": sum(1 for _, f in views if f),
        "clusters": len(set(ids)),
        "test_clusters": len({c for c, s in zip(ids, split) if s == "test"}),
        "test_clusters_also_in_train": len(
            {c for c, s in zip(ids, split) if s == "test"} & {c for c, s in zip(ids, split) if s == "train"}
        ),
    }


def _losses(inputs: dict) -> dict[str, float]:
    path = _given(inputs, "losses")
    if path is None:
        return {}
    table = read_table("losses", path)
    if not len(table):
        return {}
    return {
        "steps": int(table["step"][-1]),
        "loss_final": float(table["loss_total"][-1]),
        "loss_first": float(table["loss_total"][0]),
    }


# --------------------------------------------------------------------------- collecting
def config_numbers(config: dict) -> dict[str, Any]:
    """The numbers the (schema-filled) config decides: one key each, see ``CONFIG_KEYS``."""
    n = {macro: get_key(config, key) for macro, key in CONFIG_KEYS.items()}
    if n["TrainSizePx"] is None:  # train.detector.image_size null = the network works at the PNG side
        n["TrainSizePx"] = get_key(config, "images.stretch.output_size")
    return n


def catalogue_numbers(inputs: dict, summary: dict) -> dict[str, Any]:
    """Sample sizes: counted from the catalogue files; the parent sample from the catalogue summary."""
    return {
        "NSample": _table_len(inputs, "sample"),
        "NParent": get_key(summary, "counts.parent"),
        "NAbell": get_key(summary, "counts.abell_clusters"),
        "NRedmapperCatalogue": _table_len(inputs, "redmapper_catalogue"),
    }


def image_numbers(inputs: dict) -> dict[str, Any]:
    """Image counts (paper section 2.2): counted from the rows of labels.ecsv."""
    labels = _labels_counts(inputs, "labels")
    return {
        "NImages": labels.get("images"),
        "NTrain": labels.get("train"),
        "NTest": labels.get("test"),
        "NTrainAugmented": labels.get("train_augmented"),
        "NFlipped": labels.get("flipped"),
        "NTestClusters": labels.get("test_clusters"),
        "NTestClustersInTrain": labels.get("test_clusters_also_in_train"),
    }


def training_numbers(inputs: dict, summary: dict) -> dict[str, Any]:
    """Steps and losses from losses.csv; device and wall time from the training summary."""
    losses = _losses(inputs)
    seconds = summary.get("seconds")
    return {
        "TrainSteps": losses.get("steps"),
        "LossFirst": losses.get("loss_first"),
        "LossFinal": losses.get("loss_final"),
        "TrainDevice": summary.get("device"),
        "TrainMinutes": None if seconds is None else float(seconds) / 60.0,
    }


def sweep_numbers(prefix: str, path: Path | None, summary: dict) -> dict[str, Any]:
    """Tables 2 and 3 (paper section 4): the row at the stage's chosen threshold, and the 0 % row."""
    if path is None:
        return {f"{prefix}{field}": None for field in _SWEEP_FIELDS}
    rows = read_sweep(path)
    best = best_row(rows, summary.get("chosen_threshold"))
    zero = min(rows, key=lambda r: r["threshold"])
    return {
        f"{prefix}BestThreshold": int(round(best["threshold"])),
        f"{prefix}BestTP": int(best["tp"]),
        f"{prefix}BestFP": int(best["fp"]),
        f"{prefix}BestFN": int(best["fn"]),
        f"{prefix}BestPrecision": best["precision"],
        f"{prefix}BestRecall": best["recall"],
        f"{prefix}BestFOne": best["f1"],
        f"{prefix}ZeroTP": int(zero["tp"]),
        f"{prefix}ZeroFP": int(zero["fp"]),
        f"{prefix}ZeroFN": int(zero["fn"]),
        f"{prefix}NTruth": int(zero["tp"] + zero["fn"]),
    }


def _ks_value(ks: dict, prop: str, key: str) -> Any:
    entry = get_key(ks, f"properties.{prop}") or {}
    return entry.get(key) if entry.get("available") else None


def evaluation_numbers(evaluate: dict, ks: dict, test_recall: Any) -> dict[str, Any]:
    """Standard error, fraction within the distance, KS tests (paper section 4.2)."""
    return {
        "StdErrKpc": evaluate.get("sigma_kpc"),
        # the cluster position in force and, with BCG centring, the paper's box centres beside it
        "CentreMethod": evaluate.get("centre", "box"),
        "StdErrKpcBoxCentre": get_key(evaluate, "box_centre.sigma_kpc"),
        "TestBoxCentreFOne": get_key(evaluate, "box_centre.at_chosen.f1"),
        "TestBoxCentreThreshold": get_key(evaluate, "box_centre.chosen_threshold"),
        "FracPredWithin": evaluate.get("fraction_predictions_within"),
        # the paper's "81 per cent of the clusters" within 100 kpc is the recall at the chosen threshold
        "FracClustersWithin": test_recall,
        "KSRedshift": _ks_value(ks, "z", "statistic"),
        "KSBCG": _ks_value(ks, "bcg_rmag", "statistic"),
        "KSRichness": _ks_value(ks, "richness", "statistic"),
        "KSCritical": _ks_value(ks, "z", "critical_value"),
        "KSPvalueRedshift": _ks_value(ks, "z", "pvalue"),
    }


def box_count_numbers(prefix: str, summary: dict) -> dict[str, Any]:
    """Boxes per image at score 0, the 0 % row at the paper's 300 boxes per image, both counting rules."""
    out = {
        f"{prefix}{field}": get_key(summary, f"boxes_per_image_at_zero.{key}")
        for field, key in (("BoxesMin", "min"), ("BoxesMedian", "median"), ("BoxesMax", "max"), ("BoxesMean", "mean"))
    }
    out[f"{prefix}ZeroFPNormalised"] = get_key(summary, "zero_row_normalised_300.fp")
    out[f"{prefix}ZeroPrecisionNormalised"] = get_key(summary, "zero_row_normalised_300.precision")
    out[f"{prefix}ExtraBoxesRule"] = summary.get("extra_boxes")
    out[f"{prefix}OtherRuleBestThreshold"] = get_key(summary, "other_extra_boxes_rule.best_f1_threshold")
    out[f"{prefix}OtherRuleBestFOne"] = get_key(summary, "other_extra_boxes_rule.at_chosen.f1")
    out[f"{prefix}OtherRuleBestPrecision"] = get_key(summary, "other_extra_boxes_rule.at_chosen.precision")
    return out


def interval_numbers(prefix: str, summary: dict) -> dict[str, Any]:
    """Bootstrap intervals (over clusters) of P, R, F1 and the centre's standard error at the chosen threshold."""
    ci = summary.get("intervals_at_chosen") or {}
    out = {}
    for field, key in (
        ("BestPrecision", "precision"),
        ("BestRecall", "recall"),
        ("BestFOne", "f1"),
        ("StdErrKpc", "sigma_kpc"),
    ):
        lo, hi = ci.get(key) or (None, None)
        out[f"{prefix}{field}Lo"], out[f"{prefix}{field}Hi"] = lo, hi
    out[f"{prefix}IntervalPct"] = 100 * ci["level"] if "level" in ci else None
    return out


def redshift_numbers(summary: dict) -> dict[str, Any]:
    """Redshifts and richnesses per detection (beyond the paper): ``08_redshift/summary.json``."""
    out: dict[str, Any] = {
        "RzCalibClusters": get_key(summary, "calibration.n_measured"),
        "RzTrainClusters": get_key(summary, "calibration.n_training_clusters"),
        "RzCalibNmadZ": get_key(summary, "calibration.redshift.nmad_in_sample"),
        "RzOutlierThreshold": summary.get("outlier_threshold"),
    }
    for key, tag in (("test", "Test"), ("redmapper", "Redmapper")):
        s = get_key(summary, f"sets.{key}") or {}
        out.update(
            {
                f"Rz{tag}Detections": s.get("n_detections"),
                f"Rz{tag}ZMissing": s.get("n_z_missing"),
                f"Rz{tag}RichMissing": s.get("n_richness_missing"),
                f"Rz{tag}Recovered": s.get("n_recovered_clusters"),
                f"Rz{tag}NZ": get_key(s, "redshift.n"),
                f"Rz{tag}NRich": get_key(s, "richness.n"),
            }
        )
        for part, names in (
            ("redshift", {"sigma_nmad": "SigmaZ", "bias": "BiasZ", "outlier_fraction": "FracOutlierZ"}),
            ("richness", {"scatter_log10": "RichScatter", "slope": "RichSlope"}),
        ):
            for field, name in names.items():
                out[f"Rz{tag}{name}"] = get_key(s, f"{part}.{field}")
                lo, hi = get_key(s, f"{part}.{field}_ci") or (None, None)
                out[f"Rz{tag}{name}Lo"], out[f"Rz{tag}{name}Hi"] = lo, hi
    return out


def search_numbers(summary: dict) -> dict[str, Any]:
    """The blind search (beyond the paper): ``07_search/summary.json``."""

    def pct(key):
        value = get_key(summary, key)
        return None if value is None else 100.0 * value

    return {
        "SearchSource": summary.get("source"),
        "SearchAreaDeg": summary.get("area_deg2"),
        "SearchTiles": summary.get("n_tiles"),
        "SearchTilesPerDegSq": summary.get("tiles_per_deg2"),
        "SearchShards": summary.get("shards"),
        "SearchThreshold": summary.get("score_threshold"),
        "SearchMergeRadius": summary.get("merge_radius_arcsec"),
        "SearchMatchRadius": summary.get("match_radius_arcmin"),
        "SearchCandidates": summary.get("n_candidates_above_threshold"),
        "SearchKnown": summary.get("n_known"),
        "SearchNew": summary.get("n_new"),
        "SearchRedmapperN": get_key(summary, "completeness.n_clusters"),
        "SearchRedmapperFound": get_key(summary, "completeness.n_found"),
        "SearchCompleteness": pct("completeness.fraction"),
        "SearchCompletenessLo": pct("completeness.ci_lo"),
        "SearchCompletenessHi": pct("completeness.ci_hi"),
        "SearchPurity": pct("purity.purity"),
        "SearchPurityLo": pct("purity.ci_lo"),
        "SearchPurityHi": pct("purity.ci_hi"),
        # the red-sequence confirmed candidates (search.confirm), the search's operating selection
        "SearchConfirmMinExcess": get_key(summary, "confirmation.min_red_excess"),
        "SearchConfirmMinRichness": get_key(summary, "confirmation.min_richness"),
        "SearchConfirmed": get_key(summary, "confirmation.n_confirmed"),
        "SearchConfirmedPurity": pct("confirmation.purity.purity"),
        "SearchConfirmedPurityLo": pct("confirmation.purity.ci_lo"),
        "SearchConfirmedPurityHi": pct("confirmation.purity.ci_hi"),
        "SearchInjected": get_key(summary, "injection.n_injected"),
        "SearchInjHeadlineN": get_key(summary, "injection.headline.n_injected"),
        "SearchInjHeadline": pct("injection.headline.completeness"),
        "SearchConfirmedInjHeadline": pct("confirmation.injection.headline.completeness"),
        "SearchConfirmedInjHeadlineLo": pct("confirmation.injection.headline.ci_lo"),
        "SearchConfirmedInjHeadlineHi": pct("confirmation.injection.headline.ci_hi"),
        "SearchTilesPerSecond": get_key(summary, "timings.tiles_per_s"),
        # purity and completeness at the sky's own density (deepcee.search.natural): the headline
        "SearchNatRadius": get_key(summary, "natural.detector.match_radius_arcmin"),
        "SearchNatRichnessMin": get_key(summary, "natural.detector.cluster_richness_min"),
        "SearchNatDensity": get_key(summary, "natural.detector.sky_clusters_per_deg2"),
        "SearchNatSkyClusters": get_key(summary, "natural.detector.n_sky_clusters_in_area"),
        "SearchNatPurity": pct("natural.detector.purity"),
        "SearchNatPurityLo": pct("natural.detector.ci_lo"),
        "SearchNatPurityHi": pct("natural.detector.ci_hi"),
        "SearchNatJudged": get_key(summary, "natural.detector.n_judged"),
        "SearchNatTrue": get_key(summary, "natural.detector.n_true"),
        "SearchNatGroupShare": pct("natural.detector.group_share"),
        "SearchNatChance": pct("natural.detector.chance_match_rate"),
        "SearchNatConfPurity": pct("natural.confirmed.purity"),
        "SearchNatConfPurityLo": pct("natural.confirmed.ci_lo"),
        "SearchNatConfPurityHi": pct("natural.confirmed.ci_hi"),
        "SearchNatConfJudged": get_key(summary, "natural.confirmed.n_judged"),
        "SearchNatConfTrue": get_key(summary, "natural.confirmed.n_true"),
        "SearchNatConfGroupShare": pct("natural.confirmed.group_share"),
        "SearchNatConfChance": pct("natural.confirmed.chance_match_rate"),
        "SearchInjPoorN": get_key(summary, "injection.headline_poor.n_injected"),
        "SearchInjPoor": pct("injection.headline_poor.completeness"),
        "SearchConfirmedInjPoor": pct("confirmation.injection.headline_poor.completeness"),
        "SearchInjDraw": get_key(summary, "injection.richness_draw"),
    }


def real_sky_numbers(summary: dict) -> dict[str, Any]:
    """The test views over a real SDSS field (beyond the paper): ``04_evaluate/real_sky/summary.json``."""
    if not summary:
        return {"RealSkyImages": None}
    frames = summary.get("blank_frames") or []
    out = {
        "RealSkyImages": summary.get("n_test_images"),
        "RealSkyNFields": len(frames),
        "RealSkyFields": ", ".join(Path(str(f)).name.replace("sdss-frames-", "") for f in frames) or None,
        "RealSkyBestThreshold": summary.get("chosen_threshold"),
        "RealSkyBestPrecision": get_key(summary, "at_chosen.precision"),
        "RealSkyBestRecall": get_key(summary, "at_chosen.recall"),
        "RealSkyBestFOne": get_key(summary, "at_chosen.f1"),
        "RealSkyTP": get_key(summary, "at_chosen.tp"),
        "RealSkyFP": get_key(summary, "at_chosen.fp"),
        "RealSkyFN": get_key(summary, "at_chosen.fn"),
        "RealSkyStdErrKpc": summary.get("sigma_kpc"),
        "RealSkyFOneGap": summary.get("f1_gap"),
        "RealSkyFOneAtSyntheticThreshold": get_key(summary, "at_synthetic_threshold.f1"),
    }
    out.update(interval_numbers("RealSky", summary))
    out.update(real_sky_member_numbers(summary.get("members") or {}))
    return out


def real_sky_member_numbers(members: dict) -> dict[str, Any]:
    """The real-sky test by member kind (``members`` of the real-sky summary): real-galaxy members'
    F1 (own best threshold, interval, and at the galsim views' threshold) and the two controls."""
    out: dict[str, Any] = {"RealMembersImages": None}
    real = members.get("real")
    if real:
        lo, hi = real["f1_interval"]
        out.update(
            {
                "RealMembersImages": real["views"],
                "RealMembersThreshold": real["chosen_threshold"],
                "RealMembersFOne": real["at_chosen"]["f1"],
                "RealMembersFOneLo": lo,
                "RealMembersFOneHi": hi,
                "RealMembersRecall": real["at_chosen"]["recall"],
                "RealMembersFOneAtGalsimThreshold": real["at_galsim_threshold"]["f1"],
                "RealMembersFOneGap": real["f1_gap_to_galsim"],
            }
        )
    for kind, prefix in (("scattered", "Scattered"), ("blank", "BlankCrop")):
        c = members.get(kind)
        if c:
            out.update(
                {
                    f"{prefix}N": c["views"],
                    f"{prefix}WithBox": c["views_with_box"],
                    f"{prefix}Pct": 100 * c["fraction_with_box"],
                    f"{prefix}PctLo": 100 * c["fraction_lo"],
                    f"{prefix}PctHi": 100 * c["fraction_hi"],
                    f"{prefix}Threshold": c["threshold"],
                }
            )
    return out


def blank_sky_numbers(summary: dict) -> dict[str, Any]:
    """False detections on the blank real test fields: ``04_evaluate/real_sky/blank/summary.json``."""
    if not summary:
        return {"BlankAreaDeg": None}
    interval = summary["false_per_deg2_interval"]
    return {
        "BlankAreaDeg": summary["area_deg2"],
        "BlankTiles": summary.get("n_tiles"),
        "BlankThreshold": summary["threshold"],
        "BlankBoxes": summary["n_boxes"],
        "BlankFalse": summary["n_false"],
        "BlankKnown": summary["n_boxes"] - summary["n_false"],
        "BlankPerDeg": summary["false_per_deg2"],
        "BlankPerDegLo": interval[0],
        "BlankPerDegHi": interval[1],
        "BlankIntervalPct": round(100 * float(summary.get("level", 0.95))),
    }


def realism_numbers(summary: dict) -> dict[str, Any]:
    """The realism benchmark (mock crops against real SDSS crops): ``02_images/realism.json``."""
    if not summary:
        return {"RealismAUC": None}
    logistic = summary["auc"]["logistic"]
    return {
        "RealismAUC": logistic["auc"],
        "RealismAUCLo": logistic["ci"][0],
        "RealismAUCHi": logistic["ci"][1],
        "RealismGoalAUC": summary.get("goal_auc"),
        "RealismRealFields": summary["n_real_fields"],
        "RealismCrops": int(summary["n_crops"]["real"]) + int(summary["n_crops"]["mock"]),
    }


def redmapper_numbers(inputs: dict, summary: dict) -> dict[str, Any]:
    """The redMaPPer comparison set (paper section 4.3): counted from its labels.ecsv."""
    labels = _labels_counts(inputs, "redmapper_labels")
    return {
        "RedmapperAreaDeg": get_key(summary, "region.area_deg2"),
        "NRedmapperClusters": labels.get("clusters"),
        "NRedmapperImages": labels.get("images"),
        # region clusters left out because they are training or test clusters (paper section 3.2)
        "NRedmapperExcluded": get_key(summary, "counts.excluded_train_or_test"),
    }


def collect_numbers(inputs: dict[str, str | Path | None], config: dict | None = None) -> OrderedDict[str, Any]:
    """Every number the paper quotes, keyed by macro name (values: int, float, str or None).

    ``inputs`` maps contract names to paths (any may be None or absent: a partial run): ``sample``,
    ``redmapper_catalogue``, ``labels``, ``redmapper_labels``, ``losses``, ``sweep_test``,
    ``sweep_redmapper``, and the summaries ``catalogue_summary``, ``train_summary``,
    ``evaluate_summary``, ``redmapper_summary``, ``ks``, ``redshift_summary``, ``search_summary``,
    ``real_sky_summary``, ``blank_sky_summary``, ``realism_summary``. Each file
    is read by its contract's reader
    (deepcee.core.contracts): a file that breaks its contract is an error, not a guess.
    """
    summaries = {
        key: read_summary_or_empty(inputs, key)
        for key in (
            "catalogue_summary",
            "train_summary",
            "evaluate_summary",
            "redmapper_summary",
            "ks",
            "redshift_summary",
            "search_summary",
            "real_sky_summary",
            "blank_sky_summary",
            "realism_summary",
        )
    }
    train = training_numbers(inputs, summaries["train_summary"])
    redmapper = redmapper_numbers(inputs, summaries["redmapper_summary"])
    n: OrderedDict[str, Any] = OrderedDict()
    # (the macro order is the one numbers.tex has always had, so two runs diff line by line)
    n.update(config_numbers(config or {}))
    n.update(catalogue_numbers(inputs, summaries["catalogue_summary"]))
    n.update(image_numbers(inputs))
    n.update({k: train.pop(k) for k in ("TrainSteps", "LossFirst", "LossFinal")})
    n.update(sweep_numbers("Test", _given(inputs, "sweep_test"), summaries["evaluate_summary"]))
    n.update(sweep_numbers("RM", _given(inputs, "sweep_redmapper"), summaries["redmapper_summary"]))
    n.update(evaluation_numbers(summaries["evaluate_summary"], summaries["ks"], n["TestBestRecall"]))
    n.update(box_count_numbers("Test", summaries["evaluate_summary"]))
    n.update(box_count_numbers("RM", summaries["redmapper_summary"]))
    n.update(interval_numbers("Test", summaries["evaluate_summary"]))
    n.update(interval_numbers("RM", summaries["redmapper_summary"]))
    n.update(redshift_numbers(summaries["redshift_summary"]))
    n.update(search_numbers(summaries["search_summary"]))
    n.update(real_sky_numbers(summaries["real_sky_summary"]))
    n.update(blank_sky_numbers(summaries["blank_sky_summary"]))
    n.update(realism_numbers(summaries["realism_summary"]))
    n["RedmapperAreaDeg"] = redmapper.pop("RedmapperAreaDeg")
    n["TrainDevice"] = train.pop("TrainDevice")
    n["TestChosenBy"] = summaries["evaluate_summary"].get("chosen_by")
    n.update(redmapper)
    n.update(train)
    n.update(verdicts(n))
    # the published numbers, under their own names
    for macro, value in PUBLISHED.items():
        n[f"Pub{macro}"] = value
    return n


def verdicts(n: dict[str, Any]) -> dict[str, str]:
    """Sentences whose wording depends on this run's numbers (the paper text quotes them as macros)."""
    out = {}
    ks = {"redshift": n.get("KSRedshift"), "BCG $r$-band magnitude": n.get("KSBCG"), "richness": n.get("KSRichness")}
    crit = n.get("KSCritical")
    have = {k: v for k, v in ks.items() if isinstance(v, (int, float))}
    if not have or not isinstance(crit, (int, float)):
        out["KSVerdict"] = "The KS statistics were not produced by this run."
    else:
        above = [k for k, v in have.items() if v > crit]
        if above:
            out["KSVerdict"] = (
                f"The statistic for {', '.join(above)} exceeds the critical value, so for "
                f"{'that property' if len(above) == 1 else 'those properties'} we reject, at "
                "$\\alpha=0.05$, that the recovered and original distributions are the same."
            )
        else:
            out["KSVerdict"] = (
                "Every statistic is smaller than the critical value, so at $\\alpha=0.05$ we "
                "cannot reject that the recovered and original distributions are the same."
            )
        if len(have) < len(ks):
            gone = [k for k in ks if k not in have]
            out["KSVerdict"] += (
                f" No test is made for the {', '.join(gone)}: the catalogue of this run does not provide it."
            )
    t, r = n.get("TestBestThreshold"), n.get("RMBestThreshold")
    if isinstance(t, (int, float)) and isinstance(r, (int, float)):
        out["RMThresholdVerdict"] = "lower than" if r < t else "higher than" if r > t else "the same as"
    else:
        out["RMThresholdVerdict"] = "not comparable with"
    box_sigma, box_f1, box_t = n.get("StdErrKpcBoxCentre"), n.get("TestBoxCentreFOne"), n.get("TestBoxCentreThreshold")
    radius, box_kpc = n.get("CentreSearchRadius"), n.get("BoxKpc")
    numbers = (box_sigma, box_f1, box_t, radius, box_kpc, n.get("CentreMaxRmag"), n.get("CentreMinRFiftyArcsec"))
    if n.get("CentreMethod") == "bcg" and all(isinstance(v, (int, float)) for v in numbers):
        out["CentreVerdict"] = (
            f"Beyond the paper, each predicted centre is the brightest extended galaxy ($r<{numbers[5]:g}$, "
            f"half-light radius above {numbers[6]:g}~arcsec) within {radius:g} box sides "
            f"({radius * box_kpc:g}~kpc for a {box_kpc:g}~kpc box) of its box centre, where there is one, as "
            "optical cluster catalogues centre on the BCG; the box is unchanged. At the box centres themselves "
            f"(the paper's position) the same predictions give $\\sigma={box_sigma:.2f}$~kpc and F1 "
            f"{box_f1:.4f} at {box_t:g} per cent."
        )
    else:
        out["CentreVerdict"] = "Each predicted centre is the centre of its box, as in the paper."
    f_t, f_r = n.get("TestBestFOne"), n.get("RMBestFOne")
    if isinstance(f_t, (int, float)) and isinstance(f_r, (int, float)):
        out["RMFOneVerdict"] = "higher than" if f_r > f_t else "lower than" if f_r < f_t else "equal to"
    else:
        out["RMFOneVerdict"] = "not comparable with"
    return out


# --------------------------------------------------------------------------- writing
_INT_MACROS_FLOATFMT = {
    "StdErrKpc": "{:.2f}",
    "StdErrKpcBoxCentre": "{:.2f}",
    "PixelScaleArcsec": "{:g}",
    "KSAlpha": "{:g}",
    "ClipGradNorm": "{:g}",
    "BoxKpc": "{:g}",
    "MaxOffsetArcsec": "{:g}",
    "RealBackgroundFraction": "{:g}",
    "LossFirst": "{:.4f}",
    "LossFinal": "{:.4f}",
    "TrainMinutes": "{:.1f}",
    "RedmapperAreaDeg": "{:.0f}",
    "LearningRate": "{:g}",
    "TestFraction": "{:g}",
    "ZMin": "{:g}",
    "ZMax": "{:g}",
    "MinMembers": "{:g}",
    "TestBoxesMedian": "{:g}",
    "TestBoxesMean": "{:.1f}",
    "RMBoxesMedian": "{:g}",
    "RMBoxesMean": "{:.1f}",
    "TestOtherRuleBestThreshold": "{:g}",
    "RMOtherRuleBestThreshold": "{:g}",
    "StdErrKpcLo": "{:.1f}",
    "StdErrKpcHi": "{:.1f}",
    "TestStdErrKpcLo": "{:.1f}",
    "TestStdErrKpcHi": "{:.1f}",
    "RMStdErrKpcLo": "{:.1f}",
    "RMStdErrKpcHi": "{:.1f}",
    "TestIntervalPct": "{:g}",
    "RMIntervalPct": "{:g}",
    "RealSkyIntervalPct": "{:g}",
    "RealSkyStdErrKpc": "{:.2f}",
    "RealSkyStdErrKpcLo": "{:.1f}",
    "RealSkyStdErrKpcHi": "{:.1f}",
    "RealSkyFOneGap": "{:+.4f}",
    "RealMembersThreshold": "{:g}",
    "RealMembersFOneGap": "{:+.4f}",
    "RealMembersFOneAtGalsimThreshold": "{:.4f}",
    "ScatteredPct": "{:.1f}",
    "ScatteredPctLo": "{:.1f}",
    "ScatteredPctHi": "{:.1f}",
    "ScatteredThreshold": "{:g}",
    "BlankCropPct": "{:.1f}",
    "BlankCropPctLo": "{:.1f}",
    "BlankCropPctHi": "{:.1f}",
    "BlankCropThreshold": "{:g}",
    "BlankAreaDeg": "{:.2f}",
    "BlankThreshold": "{:g}",
    "BlankPerDeg": "{:.1f}",
    "BlankPerDegLo": "{:.1f}",
    "BlankPerDegHi": "{:.1f}",
    "BlankIntervalPct": "{:g}",
    "RealismAUC": "{:.3f}",
    "RealismAUCLo": "{:.3f}",
    "RealismAUCHi": "{:.3f}",
    "RealismGoalAUC": "{:g}",
    "SearchAreaDeg": "{:.2f}",
    "SearchTilesPerDegSq": "{:.1f}",
    "SearchThreshold": "{:g}",
    "SearchMergeRadius": "{:g}",
    "SearchMatchRadius": "{:g}",
    "SearchCompleteness": "{:.0f}",
    "SearchCompletenessLo": "{:.0f}",
    "SearchCompletenessHi": "{:.0f}",
    "SearchPurity": "{:.0f}",
    "SearchPurityLo": "{:.0f}",
    "SearchPurityHi": "{:.0f}",
    "SearchConfirmMinExcess": "{:g}",
    "SearchConfirmedPurity": "{:.0f}",
    "SearchConfirmedPurityLo": "{:.0f}",
    "SearchConfirmedPurityHi": "{:.0f}",
    "SearchInjHeadline": "{:.0f}",
    "SearchConfirmedInjHeadline": "{:.0f}",
    "SearchConfirmedInjHeadlineLo": "{:.0f}",
    "SearchConfirmedInjHeadlineHi": "{:.0f}",
    "SearchTilesPerSecond": "{:.2f}",
    "RzCalibNmadZ": "{:.3f}",
    "RzOutlierThreshold": "{:g}",
}
for _set in ("Test", "Redmapper"):
    for _name, _fmt in (
        ("SigmaZ", "{:.3f}"),
        ("BiasZ", "{:+.3f}"),
        ("FracOutlierZ", "{:.2f}"),
        ("RichScatter", "{:.2f}"),
        ("RichSlope", "{:.2f}"),
    ):
        for _end in ("", "Lo", "Hi"):
            _INT_MACROS_FLOATFMT[f"Rz{_set}{_name}{_end}"] = _fmt
_KS = ("KSRedshift", "KSBCG", "KSRichness", "KSCritical", "KSPvalueRedshift")


def format_value(macro: str, value: Any) -> str:
    """The LaTeX text of one number: integers grouped by thin spaces from 10\\,000, ratios to 4 places."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return r"\textit{n/a}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    base = macro[3:] if macro.startswith("Pub") else macro
    if base.endswith("Verdict"):
        return str(value)  # sentences composed here, already LaTeX
    if isinstance(value, float):
        if base in _INT_MACROS_FLOATFMT:
            return _INT_MACROS_FLOATFMT[base].format(value)
        if base in _KS:
            return f"{value:.4g}"
        if _is_ratio(base):
            return f"{value:.4f}"
        if not value.is_integer():
            return f"{value:.4g}"
        value = int(value)
    if isinstance(value, int):
        return f"{value:,}".replace(",", r"\,") if abs(value) >= 10000 else str(value)
    return latex_escape(value)


def _is_ratio(base: str) -> bool:
    base = base[:-2] if base.endswith(("Lo", "Hi")) else base  # an interval's ends print like the value
    return base.endswith(("Precision", "Recall", "FOne")) or base.startswith("Frac")


def parse_numbers_tex(text: str) -> dict[str, str]:
    """``{macro: body}`` from a numbers.tex (for tests and the audit notebook)."""
    return dict(re.findall(r"\\newcommand\{\\([A-Za-z]+)\}\{(.*)\}\s*$", text, flags=re.MULTILINE))


def numbers_tex(numbers: dict[str, Any], header: str = "") -> str:
    lines = [
        "% Generated by deepcee.paper.numbers -- do not edit; re-run the workflow instead.",
        "% Every number the paper text quotes. Pub* macros are the published values (Chan & Stott 2019).",
    ]
    if header:
        lines += [f"% {line}" for line in header.splitlines()]
    for macro, value in numbers.items():
        if not re.fullmatch(r"[A-Za-z]+", macro):
            raise DeepCeeError(f"numbers: macro name '{macro}' must be letters only")
        lines.append(f"\\newcommand{{\\{macro}}}{{{format_value(macro, value)}}}")
    return "\n".join(lines) + "\n"


def write_numbers(
    numbers: dict[str, Any], tex_path: str | Path, json_path: str | Path | None = None, header: str = ""
) -> list[str]:
    """Write numbers.tex (and numbers.json); return the macros no stage provided."""
    missing = [m for m, v in numbers.items() if v is None]
    write_text(tex_path, numbers_tex(numbers, header))
    if json_path is not None:
        write_json(json_path, {"numbers": numbers, "missing": missing})
    return missing


def _fmt_cell(kind: str, value: Any) -> str:
    if value is None:
        return "--"
    if kind == "int":
        return (
            format_value("Count", int(round(float(value)))) if isinstance(value, (int, float)) else latex_escape(value)
        )
    if kind == "kpc":
        return f"{float(value):.2f}"
    if kind == "ks":
        return f"{float(value):.4g}"
    if kind == "ratio":
        return f"{float(value):.4f}"
    return latex_escape(value)


def _is_redmapper_row(macro: str) -> bool:
    return macro.startswith(("RM", "NRedmapper"))


def comparison_rows(numbers: dict[str, Any], redmapper: bool = True) -> list[tuple[str, str, Any, Any]]:
    """(macro, label, published, this run) for every row of the comparison table; without the
    redMaPPer rows where the run has no redMaPPer comparison (``redmapper`` False)."""
    return [
        (m, label, PUBLISHED.get(m), numbers.get(m))
        for m, label, _ in COMPARISON_ROWS
        if redmapper or not _is_redmapper_row(m)
    ]


def write_comparison(
    numbers: dict[str, Any],
    tex_path: str | Path,
    csv_path: str | Path | None = None,
    sweeps: dict[str, str | Path | None] | None = None,
    sweeps_tex: str | Path | None = None,
    sweeps_csv: str | Path | None = None,
    redmapper: bool = True,
) -> None:
    """The published-vs-this-run tables (bare ``tabular`` environments; ms.tex adds the float).

    ``redmapper`` False (evaluate.redmapper.enabled: false): the redMaPPer rows and the Table 3
    sweep are left out, not shown as "--", so the paper says nothing of a stage that did not run.
    """
    kinds = {m: k for m, _, k in COMPARISON_ROWS}
    body = ["\\begin{tabular}{lrr}", "\\hline", "Quantity & Chan \\& Stott (2019) & This run \\\\", "\\hline"]
    rows_csv = [["quantity", "macro", "published", "this_run"]]
    for macro, label, pub, ours in comparison_rows(numbers, redmapper):
        body.append(f"{label} & {_fmt_cell(kinds[macro], pub)} & {_fmt_cell(kinds[macro], ours)} \\\\")
        rows_csv.append([re.sub(r"\\|\$", "", label), macro, "" if pub is None else pub, "" if ours is None else ours])
    body += ["\\hline", "\\end{tabular}"]
    write_text(tex_path, "\n".join(body) + "\n")
    if csv_path is not None:
        write_text(csv_path, _csv_text(rows_csv))

    if sweeps_tex is None:
        return
    sweeps = sweeps or {}
    body = [
        "\\begin{tabular}{r|rrrr|rrrr}",
        "\\hline",
        " & \\multicolumn{4}{c|}{Chan \\& Stott (2019)} & \\multicolumn{4}{c}{This run} \\\\",
        "Threshold (\\%) & TP & FP & FN & F1 & TP & FP & FN & F1 \\\\",
        "\\hline",
    ]
    rows_csv = [
        [
            "set",
            "threshold_pct",
            "pub_tp",
            "pub_fp",
            "pub_fn",
            "pub_precision",
            "pub_recall",
            "pub_f1",
            "tp",
            "fp",
            "fn",
            "precision",
            "recall",
            "f1",
        ]
    ]
    sets = [("test", "Test set (Table 2)", PUBLISHED_TABLE2)]
    sets += [("redmapper", "redMaPPer set (Table 3)", PUBLISHED_TABLE3)] if redmapper else []
    for name, title, published in sets:
        path = sweeps.get(name)
        ours = {}
        if path is not None and Path(path).exists():
            ours = {int(round(r["threshold"])): r for r in read_sweep(path)}
        body.append(f"\\multicolumn{{9}}{{l}}{{\\textit{{{title}}}}} \\\\")
        for t in sorted(set(published) | set(ours)):
            pub = published.get(t)
            row = ours.get(t)
            pub_cells = [str(pub[0]), str(pub[1]), str(pub[2]), f"{pub[5]:.4f}"] if pub else ["--"] * 4
            our_cells = (
                [str(int(row["tp"])), str(int(row["fp"])), str(int(row["fn"])), f"{row['f1']:.4f}"]
                if row
                else ["--"] * 4
            )
            body.append(f"{t} & " + " & ".join(pub_cells) + " & " + " & ".join(our_cells) + " \\\\")
            rows_csv.append(
                [
                    name,
                    t,
                    *(pub if pub else [""] * 6),
                    *(
                        [int(row["tp"]), int(row["fp"]), int(row["fn"]), row["precision"], row["recall"], row["f1"]]
                        if row
                        else [""] * 6
                    ),
                ]
            )
        body.append("\\hline")
    body.append("\\end{tabular}")
    write_text(sweeps_tex, "\n".join(body) + "\n")
    if sweeps_csv is not None:
        write_text(sweeps_csv, _csv_text(rows_csv))


def _csv_text(rows: list[list[Any]]) -> str:
    import io

    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()
