"""The evaluation stage as callable steps: read files, run ``deepcee.evaluate.metrics``, write outputs.

Rule scripts (scripts/evaluate_*.py, scripts/redmapper_*.py) only unpack
``snakemake.input/output/params`` and call one function here.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from astropy.table import Table

from deepcee.core.config import with_defaults
from deepcee.core.contracts import read_table, write_summary, write_summary_checked, write_table
from deepcee.core.files import write_json
from deepcee.evaluate import bootstrap, metrics, tables
from deepcee.evaluate.real_sky_members import subset

#: Numbers the paper prints, kept next to ours in the summaries for the reader.
PAPER_TEST = {
    "chosen_threshold": 80,
    "tp": 165,
    "fp": 72,
    "fn": 39,
    "precision": 0.6962,
    "recall": 0.8088,
    "f1": 0.7483,
    "n_test": 204,
    "sigma_kpc": 17.40,
    "fraction_predictions_within": 0.70,
    "ks_statistic": {"z": 0.06275, "bcg_rmag": 0.07335, "richness": 0.02193},
    "ks_critical_value": 0.1289,
}
PAPER_REDMAPPER = {
    "best_threshold": 70,
    "tp": 27,
    "fp": 8,
    "fn": 4,
    "precision": 0.7714,
    "recall": 0.8710,
    "f1": 0.8182,
    "n_clusters": 31,
    "area_deg2": 105,
}


def _cfg(cfg: dict | None) -> dict:
    """The ``evaluate:`` section, complete: Snakemake's validate fills schemas/evaluate.schema.yaml's
    defaults in the workflow; callers outside it get the same defaults here."""
    return with_defaults("evaluate", cfg)


def _evaluate(predictions: Table, labels: Table, cfg: dict, chosen, what: str) -> dict:
    """metrics.evaluate under the ``evaluate:`` section's settings."""
    return metrics.evaluate(
        predictions,
        labels,
        cfg["thresholds"],
        cfg["distance_kpc"],
        chosen,
        cfg["score_rule"],
        cfg["tp_centre"],
        cfg["ks_alpha"],
        what=what,
        extra_boxes=cfg["extra_boxes"],
        example_scores=cfg["example_scores"],
    )


def _run(predictions_path, labels_path, cfg: dict, chosen, what: str) -> dict:
    """The sweep of a prediction set (paths, or tables already read) under the stage's settings."""
    cfg = _cfg(cfg)
    predictions = (
        predictions_path if isinstance(predictions_path, Table) else read_table("predictions", predictions_path)
    )
    labels = labels_path if isinstance(labels_path, Table) else read_table("labels", labels_path)
    res = _evaluate(predictions, labels, cfg, chosen, what)
    res["cfg"] = cfg
    res["chosen_setting"] = chosen
    res["box_centre"] = _box_centre(predictions, labels, cfg, chosen, str(predictions_path))
    return res


def _box_centre(predictions: Table, labels: Table, cfg: dict, chosen, what: str) -> dict | None:
    """The same evaluation with the box centres (the paper's cluster position) where the predictions
    were centred on BCGs (deepcee.detector.centring); None where every centre is a box centre."""
    if "on_bcg" not in predictions.colnames or not np.any(predictions["on_bcg"]):
        return None
    boxes = predictions.copy(copy_data=True)
    boxes["ra"], boxes["dec"] = boxes["box_ra"], boxes["box_dec"]
    res = _evaluate(boxes, labels, cfg, chosen, what)
    return {
        "chosen_threshold": float(res["threshold"]),
        "at_chosen": metrics.row_at(res["sweep"], res["threshold"]),
        "sigma_kpc": res["sigma_kpc"],
        "sigma_n": int(len(res["centres"])),
    }


def _other_rule(res: dict) -> tuple[str, Table]:
    """The sweep under the extra-boxes rule NOT in force, for the summary (both rules reported)."""
    cfg = res["cfg"]
    other = [r for r in metrics.EXTRA_BOXES if r != cfg["extra_boxes"]][0]
    return other, metrics.sweep(
        res["matched"], len(res["truth"]), cfg["thresholds"], cfg["distance_kpc"], cfg["score_rule"], other
    )


def _shares(res: dict, threshold: float) -> bootstrap.ImageShares:
    """Each test image's TP, FP, FN and TP distance at ``threshold``, under the stage's own rules."""
    cfg = res["cfg"]

    def counts(rows, n):
        c = metrics.counts_at(rows, n, threshold, cfg["distance_kpc"], cfg["score_rule"], cfg["extra_boxes"])
        return c.tp, c.fp, c.fn

    def centre(rows, n):
        rows["pred_index"] = np.arange(len(rows))
        found = metrics.tp_centres(rows, n, threshold, cfg["distance_kpc"], cfg["score_rule"], cfg["tp_centre"])
        return float(found["distance_kpc"][0])

    return bootstrap.image_shares(res["matched"], res["truth"], counts, centre)


def intervals(res: dict, seed: int, what: str) -> dict:
    """Bootstrap intervals at the chosen threshold and, per threshold, for the sweep's error bars."""
    boot = res["cfg"]["bootstrap"]
    n, level = int(boot["replicates"]), float(boot["level"])
    at_chosen = bootstrap.intervals(_shares(res, res["threshold"]), seed, what, n, level)
    per_threshold = [
        {"threshold": float(t), **bootstrap.intervals(_shares(res, float(t)), seed, f"{what}:{t:g}", n, level)}
        for t in res["sweep"]["threshold"]
    ]
    return {"intervals_at_chosen": at_chosen, "sweep_intervals": per_threshold}


def _quotable(res: dict, paper_threshold: float | None = None) -> dict:
    cfg = res["cfg"]
    sweep = res["sweep"]
    t = res["threshold"]
    truth = res["truth"]
    best_f1 = metrics.choose_threshold(sweep, "best")
    out = {
        "n_test_images": int(len(truth)),
        "n_test_clusters_unique": int(len({str(c) for c in truth["cluster_id"]})),
        "n_predictions": int(len(res["matched"])),
        "thresholds": [float(x) for x in sweep["threshold"]],
        "distance_kpc": float(cfg["distance_kpc"]),
        "score_rule": cfg["score_rule"],
        "tp_centre": cfg["tp_centre"],
        "chosen_threshold": float(t),
        "chosen_by": "best_f1" if res["chosen_setting"] == "best" else "config",
        "best_f1_threshold": float(best_f1),
        "at_chosen": metrics.row_at(sweep, t),
        "sigma_kpc": res["sigma_kpc"],
        "sigma_n": int(len(res["centres"])),
        "ci95_kpc": 1.96 * res["sigma_kpc"] if math.isfinite(res["sigma_kpc"]) else float("nan"),
        "n_predictions_at_chosen": int(len(res["distances"])),
        "fraction_predictions_within": res["fraction_predictions_within"],
        "extra_boxes": cfg["extra_boxes"],
        "ks": res["ks"],
        "sweep": [metrics.row_at(sweep, float(x)) for x in sweep["threshold"]],
        "boxes_per_image_at_zero": res["boxes_per_image"],
        "zero_row_normalised_300": metrics.normalised_zero_row(sweep, len(truth), 300),
    }
    other, other_sweep = _other_rule(res)
    other_t = metrics.choose_threshold(other_sweep, res["chosen_setting"])
    out["other_extra_boxes_rule"] = {
        "extra_boxes": other,
        "best_f1_threshold": float(metrics.choose_threshold(other_sweep, "best")),
        "chosen_threshold": float(other_t),
        "at_chosen": metrics.row_at(other_sweep, other_t),
        "sweep": [metrics.row_at(other_sweep, float(x)) for x in other_sweep["threshold"]],
    }
    if paper_threshold is not None and float(paper_threshold) in out["thresholds"]:
        out["at_paper_threshold"] = metrics.row_at(sweep, float(paper_threshold))
    out["centre"] = "bcg" if res["box_centre"] is not None else "box"
    if res["box_centre"] is not None:
        out["box_centre"] = res["box_centre"]
    return out


def _example_rows(res: dict, sample: Table | None) -> list[dict]:
    truth = res["truth"]
    best = metrics.best_score_within(res["matched"], len(truth), res["cfg"]["distance_kpc"])
    names = {}
    if sample is not None and "id" in sample.colnames:
        for row in sample:
            abell = str(row["abell"]) if "abell" in sample.colnames and not np.ma.is_masked(row["abell"]) else ""
            names[str(row["id"])] = abell.strip() or (str(row["name"]) if "name" in sample.colnames else "")
    rows = []
    for letter, i in zip("abcdefgh", res["examples"]):
        r = truth[i]

        def num(name, r=r):
            if name not in truth.colnames or np.ma.is_masked(r[name]):
                return float("nan")
            return float(r[name])

        rows.append(
            {
                "id": letter,
                "view": str(r["view"]),
                "cluster_id": str(r["cluster_id"]),
                "name": names.get(str(r["cluster_id"]), str(r["cluster_id"])),
                "ra": num("ra"),
                "dec": num("dec"),
                "score_percent": 100.0 * best[i] if np.isfinite(best[i]) else float("nan"),
                "z": num("z"),
                "bcg_rmag": num("bcg_rmag"),
                "richness": num("richness"),
            }
        )
    return rows


def recovered_table(res: dict) -> Table:
    """The ground truth with each cluster's best matched score and whether it is a TP at the chosen threshold."""
    truth = res["truth"]
    keep = [
        c
        for c in (
            "view",
            "cluster_id",
            "ra",
            "dec",
            "z",
            "richness",
            "bcg_rmag",
            "offset_ra_arcsec",
            "offset_dec_arcsec",
            "x",
            "y",
            "x0",
            "y0",
            "x1",
            "y1",
            "png",
            "fits",
        )
        if c in truth.colnames
    ]
    out = truth[keep].copy()
    out["best_score_within"] = metrics.best_score_within(res["matched"], len(truth), res["cfg"]["distance_kpc"])
    out["recovered"] = res["counts"].found
    dist = np.full(len(truth), np.nan)
    for i, d in zip(res["centres"]["truth_index"], res["centres"]["distance_kpc"]):
        dist[int(i)] = float(d)
    out["tp_distance_kpc"] = dist
    out.meta.update(
        {"chosen_threshold_percent": float(res["threshold"]), "distance_kpc": float(res["cfg"]["distance_kpc"])}
    )
    return out


def _test_counts(quotable: dict) -> dict:
    """The summary's ``counts`` of a test-like set: images, boxes, and TP/FP/FN at the chosen threshold."""
    at = quotable["at_chosen"]
    return {
        "test_images": quotable["n_test_images"],
        "predictions": quotable["n_predictions"],
        "tp": at["tp"],
        "fp": at["fp"],
        "fn": at["fn"],
    }


# --------------------------------------------------------------------------- the test set (§3.1)
def evaluate_test(
    predictions, labels, out: dict, cfg: dict, sample=None, config: dict | None = None, seed: int = 0
) -> dict:
    """Table 2, distances, KS, Table 1 and the stage summary for the test set.

    ``out`` keys: sweep_csv, sweep_tex, distances, ks, recovered, table1_csv, table1_tex, summary.
    """
    cfg = _cfg(cfg)
    res = _run(predictions, labels, cfg, cfg["chosen_threshold"], "predictions_test.ecsv")
    tables.write_sweep(res["sweep"], out["sweep_csv"], out["sweep_tex"])
    write_table("distances", res["distances"], out["distances"])
    write_summary_checked(
        "ks",
        out["ks"],
        {
            "chosen_threshold_percent": res["threshold"],
            **res["ks"],
            "paper": {"statistic": PAPER_TEST["ks_statistic"], "critical_value": PAPER_TEST["ks_critical_value"]},
        },
    )
    write_table("recovered", recovered_table(res), out["recovered"])
    sample_table = read_table("catalogue", sample) if sample else None
    examples = _example_rows(res, sample_table)
    tables.write_examples(examples, out["table1_csv"], out["table1_tex"])
    quotable = _quotable(res, paper_threshold=PAPER_TEST["chosen_threshold"])
    quotable.update(intervals(res, seed, "test"))
    quotable["examples"] = examples
    quotable["paper"] = PAPER_TEST
    counts = _test_counts(quotable)
    write_summary(
        out["summary"], counts, config=config if config is not None else cfg, contract="evaluate_summary", **quotable
    )
    return quotable


# --------------------------------------------------------------------------- redMaPPer (§3.2)
def evaluate_redmapper(
    predictions, labels, region_json, out: dict, cfg: dict, config: dict | None = None, seed: int = 0
) -> dict:
    """Table 3 and the comparison summary (with the region's selection counts).

    ``out`` keys: sweep_csv, sweep_tex, distances, ks, recovered, summary.
    """
    import json

    cfg = _cfg(cfg)
    chosen = (cfg.get("redmapper") or {}).get("chosen_threshold", "best")
    res = _run(predictions, labels, cfg, chosen, "redmapper predictions.ecsv")
    tables.write_sweep(res["sweep"], out["sweep_csv"], out["sweep_tex"])
    write_table("distances", res["distances"], out["distances"])
    write_summary_checked("ks", out["ks"], {"chosen_threshold_percent": res["threshold"], **res["ks"]})
    write_table("recovered", recovered_table(res), out["recovered"])
    region = json.loads(Path(region_json).read_text())
    quotable = _quotable(res, paper_threshold=PAPER_REDMAPPER["best_threshold"])
    quotable.update(intervals(res, seed, "redmapper"))
    quotable["region"] = region.get("region_selection", region)
    quotable["paper"] = PAPER_REDMAPPER
    counts = {
        "clusters": quotable["n_test_clusters_unique"],
        "images": quotable["n_test_images"],
        "excluded_train_or_test": quotable["region"].get("n_excluded_train_or_test"),
        "predictions": quotable["n_predictions"],
    }
    write_summary(
        out["summary"], counts, config=config if config is not None else cfg, contract="redmapper_summary", **quotable
    )
    return quotable


# --------------------------------------------------------------------------- the real sky
def _field_of_views(views: Table) -> dict[str, str]:
    """View name -> its real field, from the real-sky views plan."""
    return {str(v): str(f) for v, f in zip(views["view"], views["field"])}


def real_sky_fields(predictions: Table, labels: Table, fields: dict[str, str], cfg: dict, threshold: float, seed: int):
    """Each real test field's own sweep and its row at the pooled ``threshold``, with bootstrap
    intervals over its clusters: (long sweep table: field + the sweep's columns, one row per
    field and the pooled row each: field, images, clusters, threshold, tp, fp, fn, P, R, F1 and
    intervals, the field's own best threshold and F1)."""
    from astropy.table import vstack

    sweeps, rows = [], []
    boot = cfg["bootstrap"]
    for name in sorted(set(fields.values())):
        keep = {v for v, f in fields.items() if f == name}
        lab = subset(labels, keep)
        if len(lab) == 0:
            continue
        res = _evaluate(subset(predictions, keep), lab, cfg, threshold, f"real-sky predictions ({name})")
        res["cfg"] = cfg
        sweep = res["sweep"].copy()
        sweep.add_column(name, name="field", index=0)
        sweeps.append(sweep)
        at = metrics.row_at(res["sweep"], threshold)
        ci = bootstrap.intervals(
            _shares(res, threshold), seed, f"real_sky:{name}", int(boot["replicates"]), float(boot["level"])
        )
        best = metrics.choose_threshold(res["sweep"], "best")
        rows.append(
            {
                "field": name,
                "images": int(len(res["truth"])),
                "clusters": int(len({str(c) for c in res["truth"]["cluster_id"]})),
                "threshold": float(threshold),
                **{k: at[k] for k in ("tp", "fp", "fn", "precision", "recall", "f1")},
                "f1_lo": ci["f1"][0],
                "f1_hi": ci["f1"][1],
                "best_threshold": float(best),
                "best_f1": metrics.row_at(res["sweep"], best)["f1"],
            }
        )
    return (vstack(sweeps) if sweeps else Table()), rows


def evaluate_real_sky(
    predictions,
    labels,
    synthetic_summary,
    out: dict,
    cfg: dict,
    config: dict | None = None,
    seed: int = 0,
    views=None,
) -> dict:
    """The test views re-rendered over real SDSS test fields, swept like Table 2 (pooled), each
    field on its own (``views``: the real-sky views plan, which names each view's field and member
    kind), beside the synthetic test set's result (``synthetic_summary``, the test-set summary of
    this run). The pooled and per-field tables are the ``galsim`` views'; the other member kinds
    (evaluate/real_sky_members.py) go to ``members_csv``/``members_tex`` and the summary's ``members``.

    ``out`` keys: sweep_csv, sweep_tex, summary; with ``views`` also fields_csv, fields_tex,
    field_sweeps_csv, members_csv and members_tex.
    """
    import json

    from deepcee.evaluate import real_sky_members as kinds_mod

    cfg = _cfg(cfg)
    all_predictions = read_table("predictions", predictions)
    all_labels = read_table("labels", labels)
    plan = read_table("views", views) if views is not None else None
    kinds = kinds_mod.view_kinds(plan) if plan is not None else {}
    galsim = kinds_mod.views_of(kinds, "galsim") if kinds else {str(v) for v in all_labels["view"]}
    pred_g, lab_g = kinds_mod.subset(all_predictions, galsim), kinds_mod.subset(all_labels, galsim)
    res = _run(pred_g, lab_g, cfg, cfg["real_sky"]["chosen_threshold"], f"{predictions} (galsim members)")
    tables.write_sweep(res["sweep"], out["sweep_csv"], out["sweep_tex"])
    quotable = _quotable(res, paper_threshold=PAPER_TEST["chosen_threshold"])
    quotable.update(intervals(res, seed, "real_sky"))
    synthetic = json.loads(Path(synthetic_summary).read_text())
    syn_f1 = float(synthetic["at_chosen"]["f1"])
    quotable["blank_frames"] = [str(f) for f in _as_list(cfg["real_sky"]["blank_frames"])]
    quotable["synthetic"] = {
        "chosen_threshold": float(synthetic["chosen_threshold"]),
        "at_chosen": synthetic["at_chosen"],
        "sigma_kpc": synthetic["sigma_kpc"],
        "f1_interval": synthetic.get("intervals_at_chosen", {}).get("f1"),
    }
    # both at their own best threshold (the paper's way of choosing), and the real sky at the
    # synthetic set's threshold (what a user who tuned on the mock would get)
    quotable["f1_gap"] = syn_f1 - float(quotable["at_chosen"]["f1"])
    quotable["at_synthetic_threshold"] = metrics.row_at(res["sweep"], float(synthetic["chosen_threshold"]))
    if views is not None:
        field_of = _field_of_views(plan)
        field_sweeps, rows = real_sky_fields(
            pred_g, lab_g, {v: f for v, f in field_of.items() if v in galsim}, cfg, float(res["threshold"]), seed
        )
        rows.append(_pooled_row(quotable, res))
        tables.write_real_sky_fields(rows, out["fields_csv"], out["fields_tex"])
        write_table("real_sky_field_sweeps", field_sweeps, out["field_sweeps_csv"])
        quotable["fields"] = rows
        quotable["members"] = _real_sky_member_kinds(
            all_predictions, all_labels, kinds, field_of, cfg, seed, quotable, res, predictions
        )
        if "members_csv" in out:
            tables.write_real_sky_members(quotable["members"], out["members_csv"], out["members_tex"])
    counts = _test_counts(quotable)
    write_summary(
        out["summary"], counts, config=config if config is not None else cfg, contract="real_sky_summary", **quotable
    )
    return quotable


def _pooled_row(quotable: dict, res: dict) -> dict:
    """The pooled row of the per-field table: the set's own numbers at its operating threshold."""
    at = quotable["at_chosen"]
    ci = quotable["intervals_at_chosen"]["f1"]
    return {
        "field": "pooled",
        "images": quotable["n_test_images"],
        "clusters": quotable["n_test_clusters_unique"],
        "threshold": float(res["threshold"]),
        **{k: at[k] for k in ("tp", "fp", "fn", "precision", "recall", "f1")},
        "f1_lo": ci[0],
        "f1_hi": ci[1],
        "best_threshold": float(quotable["best_f1_threshold"]),
        "best_f1": metrics.row_at(res["sweep"], quotable["best_f1_threshold"])["f1"],
    }


def _real_sky_member_kinds(predictions, labels, kinds, field_of, cfg, seed, galsim_q, galsim_res, where) -> dict:
    """The real-sky kinds beside ``galsim`` (evaluate/real_sky_members.py): ``real`` swept like Table 2
    (its own best threshold, and at the galsim views' operating threshold, pooled with intervals and
    per field), the ``scattered`` and ``blank`` controls as views with a passing box."""
    from deepcee.evaluate import real_sky_members as kinds_mod

    threshold = float(galsim_res["threshold"])
    level = float(cfg["bootstrap"]["level"])
    out = {
        "operating_threshold": threshold,
        "galsim": {
            "views": galsim_q["n_test_images"],
            "chosen_threshold": threshold,
            "at_chosen": galsim_q["at_chosen"],
            "f1_interval": galsim_q["intervals_at_chosen"]["f1"],
        },
    }
    present = [k for k in kinds_mod.KINDS if k in set(kinds.values())]
    if "real" in present:
        keep = kinds_mod.views_of(kinds, "real")
        pred, lab = kinds_mod.subset(predictions, keep), kinds_mod.subset(labels, keep)
        res = _run(pred, lab, cfg, cfg["real_sky"]["chosen_threshold"], f"{where} (real-galaxy members)")
        q = _quotable(res)
        q.update(intervals(res, seed, "real_sky_real_members"))
        at_galsim = _run(pred, lab, cfg, threshold, f"{where} (real-galaxy members)")
        at_galsim_ci = intervals(at_galsim, seed, "real_sky_real_members_at_galsim")["intervals_at_chosen"]["f1"]
        _, rows = real_sky_fields(pred, lab, {v: f for v, f in field_of.items() if v in keep}, cfg, threshold, seed)
        out["real"] = {
            "views": q["n_test_images"],
            "chosen_threshold": q["chosen_threshold"],
            "at_chosen": q["at_chosen"],
            "f1_interval": q["intervals_at_chosen"]["f1"],
            "sweep": [dict(zip(res["sweep"].colnames, map(_plain, r))) for r in res["sweep"]],
            "at_galsim_threshold": metrics.row_at(res["sweep"], threshold),
            "at_galsim_threshold_f1_interval": at_galsim_ci,
            "f1_gap_to_galsim": float(galsim_q["at_chosen"]["f1"]) - float(q["at_chosen"]["f1"]),
            "fields": rows,
        }
    rows = {}
    for kind in (k for k in kinds_mod.CONTROLS if k in present):
        keep = kinds_mod.views_of(kinds, kind)
        rows[kind] = kinds_mod.control_row(predictions, keep, threshold, cfg["score_rule"], level)
        out[kind] = {
            **rows[kind],
            "sweep": kinds_mod.control_sweep(predictions, keep, cfg["thresholds"], cfg["score_rule"], level),
        }
    verdict = kinds_mod.controls_verdict(rows)
    if verdict is not None:
        out["scattered_vs_blank"] = verdict
    return out


def _plain(value):
    return value.item() if hasattr(value, "item") else value


def _as_list(value) -> list:
    return [value] if isinstance(value, (str, Path)) else list(value)


# --------------------------------------------------------------------------- folds
def sweep_only(predictions, labels, out_csv, out_tex, cfg: dict, summary=None) -> Table:
    """One fold's (or the cluster split's) sweep as a Table 2-like CSV + TeX."""
    cfg = _cfg(cfg)
    res = _run(predictions, labels, cfg, cfg["chosen_threshold"], str(predictions))
    tables.write_sweep(res["sweep"], out_csv, out_tex)
    if summary:
        q = _quotable(res, paper_threshold=PAPER_TEST["chosen_threshold"])
        write_summary(summary, {"test_images": q["n_test_images"], "predictions": q["n_predictions"]}, config=cfg, **q)
    return res["sweep"]


def kfold_table(sweep_csvs, out_csv, out_tex, summary=None, figure_paths=()) -> Table:
    from deepcee.evaluate import figures as plots

    sweeps = [read_table("sweep", p) for p in sweep_csvs]
    agg = tables.aggregate_sweeps(sweeps)
    tables.write_aggregate(agg, out_csv, out_tex)
    if summary:
        best = int(np.argmax(np.asarray(agg["f1_mean"])))
        write_json(
            summary,
            {
                "n_folds": len(sweeps),
                "folds": [str(p) for p in sweep_csvs],
                "best_mean_f1_threshold": float(agg["threshold"][best]),
                "at_best": {c: float(agg[c][best]) for c in agg.colnames},
                "rows": [{c: float(agg[c][i]) for c in agg.colnames} for i in range(len(agg))],
            },
        )
    if figure_paths:
        plots.fig_kfold_precision_recall(agg, *figure_paths)
    return agg
