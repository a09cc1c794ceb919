"""Every number the paper quotes, collected from the stages' files into LaTeX macros.

``collect_numbers`` reads the contract files of each stage (catalogue, labels, losses,
the two sweep tables, the stage summaries) and returns an ordered mapping
``macro name -> value``; ``write_numbers_tex`` writes them to ``results/numbers.tex`` as
``\\newcommand{\\NSample}{412}`` lines, ``write_comparison`` puts this run beside the
published paper (``results/tables/table_comparison.{csv,tex}`` and the row-by-row
``table_comparison_sweeps.{csv,tex}``).

Where the numbers come from (first found wins):

* counts: the contract files themselves (rows of ``sample.ecsv``, ``labels.ecsv``...),
  so the text can never disagree with the data;
* sweep numbers (best threshold, P/R/F1, TP/FP/FN): ``table2_sweep_test.csv`` and
  ``table3_sweep_redmapper.csv`` -- the best threshold is the stage's chosen one, else
  the row of highest F1 with the HIGHER threshold winning a tie (fewer false positives for
  the same F1; ``deepcee.evaluate.metrics.choose_threshold``);
* standard error, KS statistics and critical values, the fraction of predictions
  within the distance threshold: ``04_evaluate/summary.json`` and ``ks_test.json``
  (keys listed in ``SUMMARY_KEYS``; nested dicts are searched);
* training steps, device, losses: ``losses.csv`` and ``03_train/summary.json``.

A number no stage provides becomes ``\\textit{n/a}`` in the paper and is listed
under ``missing`` in ``numbers.json``: a partial run still builds a (marked) paper.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterable

from deepcee.core.errors import DeepCeeError
from deepcee.core.files import write_json, write_text

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

#: Where the numbers that no contract file holds are looked for in the stage summaries.
#: Each entry: macro -> (summary names, candidate dotted keys, regex over any nested key path).
SUMMARY_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...], str | None]] = {
    "StdErrKpc": (("evaluate", "ks"), ("sigma_kpc", "standard_error_kpc", "std_error_kpc", "sigma_estimate_kpc",
                                       "counts.standard_error_kpc", "distances.standard_error_kpc"),
                  r"(standard_error|std_err|stderr|sigma_estimate)[^/]*$"),
    "DistanceThresholdKpc": (("evaluate",), ("distance_kpc", "distance_threshold_kpc"),
                             r"distance_threshold(_kpc)?$"),
    "FracPredWithin": (("evaluate",), ("fraction_predictions_within", "frac_predictions_within"),
                       r"frac\w*pred\w*within|pred\w*within\w*frac"),
    "FracClustersWithin": (("evaluate",), ("fraction_clusters_within", "frac_clusters_within"),
                           r"frac\w*(cluster|truth|recover)\w*within|(cluster|recover)\w*within\w*frac"),
    "KSRedshift": (("ks", "evaluate"), ("properties.z.statistic", "ks.properties.z.statistic", "redshift.statistic", "z.statistic", "ks.redshift.statistic",
                                        "ks.z.statistic", "ks_redshift"),
                   r"(^|/)(ks/)?(redshift|z|photo_z|zphot)(/|_)(statistic|stat|d)$"),
    "KSBCG": (("ks", "evaluate"), ("properties.bcg_rmag.statistic", "ks.properties.bcg_rmag.statistic", "bcg_rmag.statistic", "ks.bcg_rmag.statistic", "ks_bcg_rmag"),
              r"(^|/)(ks/)?(bcg_rmag|bcg|rmag|bcg_r)(/|_)(statistic|stat|d)$"),
    "KSRichness": (("ks", "evaluate"), ("properties.richness.statistic", "ks.properties.richness.statistic", "richness.statistic", "ks.richness.statistic", "ks_richness"),
                   r"(^|/)(ks/)?(richness|lambda)(/|_)(statistic|stat|d)$"),
    "KSCritical": (("ks", "evaluate"), ("properties.z.critical_value", "ks.properties.z.critical_value",
                                        "critical_value", "ks.critical_value", "redshift.critical_value"),
                   r"critical(_value)?$"),
    "KSPvalueRedshift": (("ks", "evaluate"), ("properties.z.pvalue", "redshift.pvalue", "ks.redshift.pvalue"),
                         r"(^|/)(ks/)?(redshift|z)(/|_)p_?value$"),
    "RedmapperAreaDeg": (("redmapper",), ("area_deg2", "region.area_deg2", "counts.area_deg2"),
                         r"area(_deg2?|_sqdeg)?$"),
    "TrainDevice": (("train",), ("device", "training.device", "train_device"), r"(^|/)device$"),
    "TrainSeconds": (("train",), ("seconds", "wall_seconds", "train_seconds", "elapsed_s"),
                     r"(^|/)(wall_)?(seconds|elapsed_s|train_seconds)$"),
}

#: Where config-derived numbers are looked for in the resolved config (first found wins).
CONFIG_KEYS: dict[str, tuple[str, ...]] = {
    "Seed": ("seed",),
    "ViewsPerCluster": ("images.views_per_cluster",),
    "ImageSizePx": ("images.pixels", "images.mock.size_px", "images.size_px"),
    "PixelScaleArcsec": ("images.pixel_scale_arcsec",),
    "MaxOffsetArcsec": ("images.max_offset_arcsec",),
    "TrainSizePx": ("train.detector.image_size", "images.stretch.output_size"),
    "BoxKpc": ("images.labels.box_kpc",),
    "TestFraction": ("images.split.test_fraction",),
    "SplitBy": ("images.split.by",),
    "Backbone": ("train.detector.backbone",),
    "Weights": ("train.detector.weights",),
    "Optimiser": ("train.optimiser.name", "train.optimiser.type"),
    "LearningRate": ("train.optimiser.lr", "train.optimiser.learning_rate"),
    "ClipGradNorm": ("train.optimiser.clip_grad_norm",),
    "BatchSize": ("train.batch_size", "train.optimiser.batch_size"),
    "ConfigSteps": ("train.steps",),
    "DistanceThresholdKpc": ("evaluate.distance_kpc", "evaluate.distance_threshold_kpc"),
    "KSAlpha": ("evaluate.ks_alpha",),
    "CatalogueSource": ("catalogue.source",),
    "ImageSource": ("images.source",),
    "ZMin": ("catalogue.cuts.z_min",),
    "ZMax": ("catalogue.cuts.z_max",),
    "MinMembers": ("catalogue.cuts.min_members",),
}


# --------------------------------------------------------------------------- reading
def read_json(path: str | Path | None) -> dict:
    """A summary JSON, or {} when the path is None or absent."""
    if path is None or not Path(path).exists():
        return {}
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as err:
        raise DeepCeeError(f"{path}: not valid JSON ({err.msg}, line {err.lineno})") from err


def get_dotted(data: Any, dotted: str) -> Any:
    """``data['a']['b']`` for ``'a.b'``; None where any step is missing."""
    node = data
    for part in dotted.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node


def _walk(data: Any, prefix: str = "") -> Iterable[tuple[str, Any]]:
    if isinstance(data, dict):
        for key, value in data.items():
            path = f"{prefix}/{key}" if prefix else str(key)
            yield path, value
            yield from _walk(value, path)


def find_value(data: dict, dotted: Iterable[str] = (), pattern: str | None = None) -> Any:
    """The first of ``dotted`` keys present, else the first scalar whose key path matches ``pattern``."""
    for key in dotted:
        value = get_dotted(data, key)
        if value is not None and not isinstance(value, (dict, list)):
            return value
    if pattern:
        regex = re.compile(pattern, re.IGNORECASE)
        for path, value in _walk(data):
            if value is None or isinstance(value, (dict, list)) or path.startswith("config/"):
                continue
            if regex.search(path.lower()):
                return value
    return None


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_SWEEP_COLUMNS = {
    "threshold": ("threshold", "thresholdpct", "thresholdpercent", "confidencescorethreshold",
                  "confidencethreshold", "scorethreshold", "thresh", "t"),
    "tp": ("tp", "ntp", "truepositives"),
    "fp": ("fp", "nfp", "falsepositives"),
    "fn": ("fn", "nfn", "falsenegatives"),
    "precision": ("precision", "p"),
    "recall": ("recall", "r"),
    "f1": ("f1", "f1score", "fone", "f"),
}


def read_sweep(path: str | Path) -> list[dict[str, float]]:
    """A threshold-sweep CSV (Table 2 or 3) as rows with keys threshold (%), tp, fp, fn, precision, recall, f1."""
    path = Path(path)
    if not path.exists():
        raise DeepCeeError(f"{path}: sweep table not found")
    with open(path, newline="") as handle:
        reader = csv.DictReader(row for row in handle if not row.startswith("#"))
        fields = reader.fieldnames or []
        lookup = {_norm(f): f for f in fields}
        columns = {}
        for key, names in _SWEEP_COLUMNS.items():
            found = next((lookup[n] for n in names if n in lookup), None)
            if found is None:
                found = next((f for f in fields if _norm(f).startswith(names[0])), None)
            if found is None:
                raise DeepCeeError(f"{path}: no '{key}' column (columns: {', '.join(fields)})")
            columns[key] = found
        rows = []
        for lineno, raw in enumerate(reader, start=2):
            try:
                rows.append({key: float(raw[col]) for key, col in columns.items()})
            except (TypeError, ValueError) as err:
                raise DeepCeeError(f"{path}: row {lineno}: not a number ({err})") from err
    if not rows:
        raise DeepCeeError(f"{path}: sweep table has no rows")
    if max(r["threshold"] for r in rows) <= 1.0:  # fractions -> per cent
        for r in rows:
            r["threshold"] *= 100.0
    return rows


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


def _table_len(path: str | Path | None) -> int | None:
    if path is None or not Path(path).exists():
        return None
    from astropy.table import Table

    try:
        return len(Table.read(path, format="ascii.ecsv"))
    except Exception as err:  # noqa: BLE001 - any parse failure is bad input
        raise DeepCeeError(f"{path}: cannot read ECSV ({err})") from err


def _labels_counts(path: str | Path | None) -> dict[str, int]:
    if path is None or not Path(path).exists():
        return {}
    from astropy.table import Table

    table = Table.read(path, format="ascii.ecsv")
    for col in ("split", "cluster_id"):
        if col not in table.colnames:
            raise DeepCeeError(f"{path}: no '{col}' column")
    split = [str(s) for s in table["split"]]
    flipped = [bool(f) for f in table["flipped"]] if "flipped" in table.colnames else [False] * len(table)
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
        "train_clusters": len({c for c, s in zip(ids, split) if s == "train"}),
        "test_clusters_also_in_train": len({c for c, s in zip(ids, split) if s == "test"}
                                           & {c for c, s in zip(ids, split) if s == "train"}),
    }


def _losses(path: str | Path | None) -> dict[str, float]:
    if path is None or not Path(path).exists():
        return {}
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return {}
    if "step" not in rows[0] or "loss_total" not in rows[0]:
        raise DeepCeeError(f"{path}: needs columns 'step' and 'loss_total'")
    last = rows[-1]
    out = {"steps": int(float(last["step"])), "loss_final": float(last["loss_total"]),
           "loss_first": float(rows[0]["loss_total"])}
    if "seconds" in last and last["seconds"] not in ("", None):
        out["seconds"] = float(last["seconds"])
    return out


# --------------------------------------------------------------------------- collecting
def collect_numbers(inputs: dict[str, str | Path | None], config: dict | None = None) -> "OrderedDict[str, Any]":
    """Every number the paper quotes, keyed by macro name (values: int, float, str or None).

    ``inputs`` maps names to paths (any may be None or absent): ``sample``, ``redmapper_catalogue``,
    ``labels``, ``redmapper_labels``, ``losses``, ``sweep_test``, ``sweep_redmapper``, and the summaries
    ``catalogue_summary``, ``images_summary``, ``train_summary``, ``evaluate_summary``,
    ``redmapper_summary``, ``ks``.
    """
    config = config or {}
    n: "OrderedDict[str, Any]" = OrderedDict()
    summaries = {
        "catalogue": read_json(inputs.get("catalogue_summary")),
        "images": read_json(inputs.get("images_summary")),
        "train": read_json(inputs.get("train_summary")),
        "evaluate": read_json(inputs.get("evaluate_summary")),
        "redmapper": read_json(inputs.get("redmapper_summary")),
        "ks": read_json(inputs.get("ks")),
    }

    # configuration
    for macro, keys in CONFIG_KEYS.items():
        n[macro] = next((v for v in (get_dotted(config, k) for k in keys) if v is not None), None)

    # catalogue
    n["NSample"] = _table_len(inputs.get("sample"))
    if n["NSample"] is None:
        n["NSample"] = get_dotted(summaries["catalogue"], "counts.sample")
    n["NParent"] = get_dotted(summaries["catalogue"], "counts.parent")
    n["NAbell"] = get_dotted(summaries["catalogue"], "counts.abell_clusters")
    n["NRedmapperCatalogue"] = _table_len(inputs.get("redmapper_catalogue"))

    # images
    labels = _labels_counts(inputs.get("labels"))
    n["NImages"] = labels.get("images")
    n["NTrain"] = labels.get("train")
    n["NTest"] = labels.get("test")
    n["NTrainAugmented"] = labels.get("train_augmented")
    n["NFlipped"] = labels.get("flipped")
    n["NTestClusters"] = labels.get("test_clusters")
    n["NTestClustersInTrain"] = labels.get("test_clusters_also_in_train")
    if n["ViewsPerCluster"] is None and labels.get("clusters"):
        n["ViewsPerCluster"] = round(labels["images"] / labels["clusters"])

    # training
    losses = _losses(inputs.get("losses"))
    n["TrainSteps"] = losses.get("steps")
    n["LossFirst"] = losses.get("loss_first")
    n["LossFinal"] = losses.get("loss_final")

    # test-set sweep (Table 2)
    for prefix, key in (("Test", "sweep_test"), ("RM", "sweep_redmapper")):
        path = inputs.get(key)
        if path is None or not Path(path).exists():
            for field in ("BestThreshold", "BestTP", "BestFP", "BestFN", "BestPrecision", "BestRecall",
                          "BestFOne", "ZeroTP", "ZeroFP", "ZeroFN", "NTruth"):
                n[f"{prefix}{field}"] = None
            continue
        rows = read_sweep(path)
        stage = summaries["evaluate" if prefix == "Test" else "redmapper"]
        chosen = find_value(stage, ("chosen_threshold", "chosen_threshold_percent", "best_threshold_pct"))
        best = best_row(rows, chosen if isinstance(chosen, (int, float)) else None)
        zero = min(rows, key=lambda r: r["threshold"])
        n[f"{prefix}BestThreshold"] = int(round(best["threshold"]))
        n[f"{prefix}BestTP"] = int(best["tp"])
        n[f"{prefix}BestFP"] = int(best["fp"])
        n[f"{prefix}BestFN"] = int(best["fn"])
        n[f"{prefix}BestPrecision"] = best["precision"]
        n[f"{prefix}BestRecall"] = best["recall"]
        n[f"{prefix}BestFOne"] = best["f1"]
        n[f"{prefix}ZeroTP"] = int(zero["tp"])
        n[f"{prefix}ZeroFP"] = int(zero["fp"])
        n[f"{prefix}ZeroFN"] = int(zero["fn"])
        n[f"{prefix}NTruth"] = int(zero["tp"] + zero["fn"])

    # numbers only the summaries hold
    for macro, (names, dotted, pattern) in SUMMARY_KEYS.items():
        if n.get(macro) is not None:
            continue
        value = None
        for name in names:
            value = find_value(summaries[name], dotted, pattern)
            if value is not None:
                break
        n[macro] = value
    # boxes per image at score 0 and the 0 % row re-expressed at the paper's 300 boxes per image
    for prefix, name in (("Test", "evaluate"), ("RM", "redmapper")):
        stage = summaries[name]
        for field, key in (("BoxesMin", "min"), ("BoxesMedian", "median"), ("BoxesMax", "max"),
                           ("BoxesMean", "mean")):
            n[f"{prefix}{field}"] = get_dotted(stage, f"boxes_per_image_at_zero.{key}")
        n[f"{prefix}ZeroFPNormalised"] = get_dotted(stage, "zero_row_normalised_300.fp")
        n[f"{prefix}ZeroPrecisionNormalised"] = get_dotted(stage, "zero_row_normalised_300.precision")
        n[f"{prefix}ExtraBoxesRule"] = get_dotted(stage, "extra_boxes")
        n[f"{prefix}OtherRuleBestThreshold"] = get_dotted(stage, "other_extra_boxes_rule.best_f1_threshold")
        n[f"{prefix}OtherRuleBestFOne"] = get_dotted(stage, "other_extra_boxes_rule.at_chosen.f1")
        n[f"{prefix}OtherRuleBestPrecision"] = get_dotted(stage, "other_extra_boxes_rule.at_chosen.precision")
    if n["DistanceThresholdKpc"] is None:
        n["DistanceThresholdKpc"] = 100
    if n["FracClustersWithin"] is None:  # the paper's "81 per cent of the clusters" is the recall
        n["FracClustersWithin"] = n.get("TestBestRecall")
    n["TestChosenBy"] = find_value(summaries["evaluate"], ("chosen_by",)) or "best_f1"

    # redMaPPer comparison set
    rm_labels = _labels_counts(inputs.get("redmapper_labels"))
    n["NRedmapperClusters"] = rm_labels.get("clusters")
    if n["NRedmapperClusters"] is None:
        n["NRedmapperClusters"] = n.get("RMNTruth")
    if n["NRedmapperClusters"] is None:
        n["NRedmapperClusters"] = find_value(summaries["redmapper"], ("counts.clusters", "counts.redmapper_clusters"),
                                             r"(^|/)n?_?clusters$")
    n["NRedmapperImages"] = rm_labels.get("images")
    # region clusters left out because they are training/test clusters (paper §3.2 keeps none of those)
    n["NRedmapperExcluded"] = find_value(summaries["redmapper"], ("counts.excluded_train_or_test",
                                                                  "region.n_excluded_train_or_test"))

    if isinstance(n.get("TrainSeconds"), (int, float)):
        n["TrainMinutes"] = float(n["TrainSeconds"]) / 60.0
    else:
        n["TrainMinutes"] = losses.get("seconds", 0) / 60.0 if "seconds" in losses else None
    n.pop("TrainSeconds", None)

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
            out["KSVerdict"] = (f"The statistic for {', '.join(above)} exceeds the critical value, so for "
                                f"{'that property' if len(above) == 1 else 'those properties'} we reject, at "
                                "$\\alpha=0.05$, that the recovered and original distributions are the same.")
        else:
            out["KSVerdict"] = ("Every statistic is smaller than the critical value, so at $\\alpha=0.05$ we "
                                "cannot reject that the recovered and original distributions are the same.")
        if len(have) < len(ks):
            gone = [k for k in ks if k not in have]
            out["KSVerdict"] += (f" No test is made for the {', '.join(gone)}: "
                                 "the catalogue of this run does not provide it.")
    t, r = n.get("TestBestThreshold"), n.get("RMBestThreshold")
    if isinstance(t, (int, float)) and isinstance(r, (int, float)):
        out["RMThresholdVerdict"] = ("lower than" if r < t else "higher than" if r > t else "the same as")
    else:
        out["RMThresholdVerdict"] = "not comparable with"
    f_t, f_r = n.get("TestBestFOne"), n.get("RMBestFOne")
    if isinstance(f_t, (int, float)) and isinstance(f_r, (int, float)):
        out["RMFOneVerdict"] = "higher than" if f_r > f_t else "lower than" if f_r < f_t else "equal to"
    else:
        out["RMFOneVerdict"] = "not comparable with"
    return out


# --------------------------------------------------------------------------- writing
_INT_MACROS_FLOATFMT = {"StdErrKpc": "{:.2f}", "PixelScaleArcsec": "{:g}", "KSAlpha": "{:g}",
                        "ClipGradNorm": "{:g}", "BoxKpc": "{:g}", "MaxOffsetArcsec": "{:g}", "LossFirst": "{:.4f}", "LossFinal": "{:.4f}",
                        "TrainMinutes": "{:.1f}", "RedmapperAreaDeg": "{:.0f}", "LearningRate": "{:g}",
                        "TestFraction": "{:g}", "ZMin": "{:g}", "ZMax": "{:g}", "MinMembers": "{:g}",
                        "TestBoxesMedian": "{:g}", "TestBoxesMean": "{:.1f}", "RMBoxesMedian": "{:g}",
                        "RMBoxesMean": "{:.1f}", "TestOtherRuleBestThreshold": "{:g}",
                        "RMOtherRuleBestThreshold": "{:g}"}
_KS = ("KSRedshift", "KSBCG", "KSRichness", "KSCritical", "KSPvalueRedshift")


def latex_escape(text: str) -> str:
    table = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
             "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
    return "".join(table.get(c, c) for c in str(text))


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
    return base.endswith(("Precision", "Recall", "FOne")) or base.startswith("Frac")


def parse_numbers_tex(text: str) -> dict[str, str]:
    """``{macro: body}`` from a numbers.tex (for tests and the audit notebook)."""
    return dict(re.findall(r"\\newcommand\{\\([A-Za-z]+)\}\{(.*)\}\s*$", text, flags=re.MULTILINE))


def numbers_tex(numbers: dict[str, Any], header: str = "") -> str:
    lines = ["% Generated by deepcee.paper.numbers -- do not edit; re-run the workflow instead.",
             "% Every number the paper text quotes. Pub* macros are the published values (Chan & Stott 2019)."]
    if header:
        lines += [f"% {line}" for line in header.splitlines()]
    for macro, value in numbers.items():
        if not re.fullmatch(r"[A-Za-z]+", macro):
            raise DeepCeeError(f"numbers: macro name '{macro}' must be letters only")
        lines.append(f"\\newcommand{{\\{macro}}}{{{format_value(macro, value)}}}")
    return "\n".join(lines) + "\n"


def write_numbers(numbers: dict[str, Any], tex_path: str | Path, json_path: str | Path | None = None,
                  header: str = "") -> list[str]:
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
        return format_value("Count", int(round(float(value)))) if isinstance(value, (int, float)) else latex_escape(value)
    if kind == "kpc":
        return f"{float(value):.2f}"
    if kind == "ks":
        return f"{float(value):.4g}"
    if kind == "ratio":
        return f"{float(value):.4f}"
    return latex_escape(value)


def comparison_rows(numbers: dict[str, Any]) -> list[tuple[str, str, Any, Any]]:
    """(macro, label, published, this run) for every row of the comparison table."""
    return [(m, label, PUBLISHED.get(m), numbers.get(m)) for m, label, _ in COMPARISON_ROWS]


def write_comparison(numbers: dict[str, Any], tex_path: str | Path, csv_path: str | Path | None = None,
                     sweeps: dict[str, str | Path | None] | None = None, sweeps_tex: str | Path | None = None,
                     sweeps_csv: str | Path | None = None) -> None:
    """The published-vs-this-run tables (bare ``tabular`` environments; ms.tex adds the float)."""
    kinds = {m: k for m, _, k in COMPARISON_ROWS}
    body = ["\\begin{tabular}{lrr}", "\\hline", "Quantity & Chan \\& Stott (2019) & This run \\\\", "\\hline"]
    rows_csv = [["quantity", "macro", "published", "this_run"]]
    for macro, label, pub, ours in comparison_rows(numbers):
        body.append(f"{label} & {_fmt_cell(kinds[macro], pub)} & {_fmt_cell(kinds[macro], ours)} \\\\")
        rows_csv.append([re.sub(r"\\|\$", "", label), macro, "" if pub is None else pub, "" if ours is None else ours])
    body += ["\\hline", "\\end{tabular}"]
    write_text(tex_path, "\n".join(body) + "\n")
    if csv_path is not None:
        write_text(csv_path, _csv_text(rows_csv))

    if sweeps_tex is None:
        return
    sweeps = sweeps or {}
    body = ["\\begin{tabular}{r|rrrr|rrrr}", "\\hline",
            " & \\multicolumn{4}{c|}{Chan \\& Stott (2019)} & \\multicolumn{4}{c}{This run} \\\\",
            "Threshold (\\%) & TP & FP & FN & F1 & TP & FP & FN & F1 \\\\", "\\hline"]
    rows_csv = [["set", "threshold_pct", "pub_tp", "pub_fp", "pub_fn", "pub_precision", "pub_recall", "pub_f1",
                 "tp", "fp", "fn", "precision", "recall", "f1"]]
    for name, title, published in (("test", "Test set (Table 2)", PUBLISHED_TABLE2),
                                   ("redmapper", "redMaPPer set (Table 3)", PUBLISHED_TABLE3)):
        path = sweeps.get(name)
        ours = {}
        if path is not None and Path(path).exists():
            ours = {int(round(r["threshold"])): r for r in read_sweep(path)}
        body.append(f"\\multicolumn{{9}}{{l}}{{\\textit{{{title}}}}} \\\\")
        for t in sorted(set(published) | set(ours)):
            pub = published.get(t)
            row = ours.get(t)
            pub_cells = [str(pub[0]), str(pub[1]), str(pub[2]), f"{pub[5]:.4f}"] if pub else ["--"] * 4
            our_cells = ([str(int(row["tp"])), str(int(row["fp"])), str(int(row["fn"])), f"{row['f1']:.4f}"]
                         if row else ["--"] * 4)
            body.append(f"{t} & " + " & ".join(pub_cells) + " & " + " & ".join(our_cells) + " \\\\")
            rows_csv.append([name, t, *(pub if pub else [""] * 6),
                             *([int(row["tp"]), int(row["fp"]), int(row["fn"]), row["precision"], row["recall"], row["f1"]]
                               if row else [""] * 6)])
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
