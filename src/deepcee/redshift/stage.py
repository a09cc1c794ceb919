"""The redshift stage as callable steps: calibrate on training clusters, estimate per detection, summarise.

Rule scripts (scripts/redshift_*.py) only unpack ``snakemake.input/output/params`` and
call one function here. A detection whose box holds too few galaxies, or no colour
excess over the field, gets NaN and a flag naming why — never a number.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from astropy.table import Table

from deepcee.core import matching as ev
from deepcee.core.config import with_defaults
from deepcee.core.contracts import read_table, rows_table, table_contract, write_summary, write_table
from deepcee.core.errors import DeepCeeError
from deepcee.core.files import write_json
from deepcee.core.seeds import rng
from deepcee.images.labels import png_to_fits
from deepcee.redshift import calibration, photometry, red_sequence
from deepcee.redshift.red_sequence import Region

DETECTION_COLUMNS = tuple(table_contract("redshift_detections").colnames)  # docs/contracts.md


def _output_size(labels: Table, where: str) -> int:
    size = labels.meta.get("output_size")
    if size:
        return int(size)
    if len(labels) and "png" in labels.colnames and Path(str(labels["png"][0])).exists():
        from PIL import Image

        with Image.open(str(labels["png"][0])) as im:
            return int(im.size[0])
    raise DeepCeeError(f"{where}: no 'output_size' in the labels' metadata and no PNG to read it from")


def view_png_side(png, nominal: int) -> int:
    """The side of one view's PNG, the pixels its boxes are in: a view over a real field is a
    smaller square than the labels' nominal ``output_size`` (deepcee.images.stretch.png_side)."""
    path = Path(str(png))
    if not path.is_file():
        return nominal
    from PIL import Image

    with Image.open(path) as im:  # reads the header only
        return int(im.size[0])


def region_from_png_box(x0, y0, x1, y1, shape, output_size: int) -> Region:
    """A PNG box (x right, y down; deepcee.images.labels' convention) as a FITS-pixel region."""
    xa, ya = png_to_fits([x0, x1], [y0, y1], shape, output_size)
    return Region(float(min(xa)), float(min(ya)), float(max(xa)), float(max(ya)))


def measure_detection(cat, region: Region, relation: dict | None, cfg: dict) -> dict:
    """Colour, redshift, member excess and richness of one box; flags instead of invented numbers."""
    rs = red_sequence.find_colour(cat, region, cfg["red_sequence"])
    out = {
        "gr_rs": rs["gr"],
        "ri_rs": rs["ri"],
        "n_box": rs["n_box"],
        "colour_excess": rs["excess"],
        "z_est": np.nan,
        "z_flag": rs["flag"],
        "member_excess": np.nan,
        "member_coverage": np.nan,
        "richness_est": np.nan,
        "richness_flag": "no_redshift",
    }
    if rs["flag"] != "ok" or relation is None:
        return out
    z, inside = calibration.apply_redshift(relation["redshift"], rs["gr"], rs["ri"])
    if not inside[0] or z[0] <= 0:
        out["z_flag"] = "outside_calibration"
        return out
    out["z_est"] = float(z[0])
    rich = cfg["richness"]
    count = red_sequence.count_members(
        cat,
        region,
        rs["gr"],
        rs["ri"],
        out["z_est"],
        float(rich["radius_kpc"]),
        float(rich["luminosity_cut"]),
        cfg["red_sequence"],
    )
    out["member_excess"] = float(count["count"])
    out["member_coverage"] = float(count["coverage"])
    if count["flag"] != "ok":
        out["richness_flag"] = count["flag"]
    elif not count["count"] > 0:
        out["richness_flag"] = "no_excess"
    elif relation.get("richness") is not None and not relation["richness"].get("usable", True):
        out["richness_flag"] = "no_calibration"
    elif relation.get("richness") is not None:
        out["richness_est"] = float(calibration.apply_richness(relation["richness"], count["count"])[0])
        out["richness_flag"] = "ok"
    return out


# --------------------------------------------------------------------------- calibration
def calibration_sample(labels: Table, max_clusters: int, seed: int) -> Table:
    """One un-flipped training view per training cluster (the first by name), at most ``max_clusters``,
    drawn with the workflow's seed so a rerun measures the same clusters."""
    keep = np.asarray([str(s) == "train" for s in labels["split"]])
    if "flipped" in labels.colnames:
        keep &= ~np.asarray(labels["flipped"], dtype=bool)
    train = labels[keep]
    if len(train) == 0:
        raise DeepCeeError("labels.ecsv: no training views to calibrate the redshifts on")
    train = train[np.argsort(np.asarray([str(v) for v in train["view"]]), kind="stable")]
    first = {}
    for i, cid in enumerate(train["cluster_id"]):
        first.setdefault(str(cid), i)
    ids = sorted(first)
    if max_clusters and len(ids) > int(max_clusters):
        pick = rng(seed, "redshift-calibration").choice(len(ids), size=int(max_clusters), replace=False)
        ids = sorted(ids[int(k)] for k in pick)
    return train[[first[c] for c in ids]]


def calibrate(labels_path, out_json, cfg: dict | None, seed: int, log=print) -> dict:
    """Measure the red sequence in each sampled training cluster's true box; fit z(colour), then λ(count)."""
    cfg = with_defaults("redshift", cfg)  # complete in the workflow already; defaults for other callers
    labels = read_table("labels", labels_path)
    size = _output_size(labels, str(labels_path))
    sample = calibration_sample(labels, int(cfg["calibration"]["max_clusters"] or 0), seed)
    rows = []
    for row in sample:
        cat = photometry.measure_view(str(row["fits"]), cfg["photometry"])
        side = view_png_side(row["png"], size)
        region = region_from_png_box(row["x0"], row["y0"], row["x1"], row["y1"], cat.shape, side)
        rs = red_sequence.find_colour(cat, region, cfg["red_sequence"])
        rows.append(
            {
                "cluster_id": str(row["cluster_id"]),
                "view": str(row["view"]),
                "z": float(row["z"]),
                "richness": float(row["richness"]),
                "cat": cat,
                "region": region,
                **rs,
            }
        )
    gr = np.array([r["gr"] for r in rows])
    ri = np.array([r["ri"] for r in rows])
    z = np.array([r["z"] for r in rows])
    z_rel = calibration.fit_redshift(gr, ri, z, cfg["calibration"], what=f"{labels_path}: redshift calibration")
    # Richness: the member excess at the redshift the relation gives (as on a detection), against λ.
    z_fit, inside = calibration.apply_redshift(z_rel, gr, ri)
    counts = np.full(len(rows), np.nan)
    for k, r in enumerate(rows):
        if r["flag"] == "ok" and inside[k] and z_fit[k] > 0:
            c = red_sequence.count_members(
                r["cat"],
                r["region"],
                r["gr"],
                r["ri"],
                float(z_fit[k]),
                float(cfg["richness"]["radius_kpc"]),
                float(cfg["richness"]["luminosity_cut"]),
                cfg["red_sequence"],
            )
            counts[k] = c["count"] if c["flag"] == "ok" else np.nan
    lam = np.array([r["richness"] for r in rows])
    rich_rel = calibration.fit_richness(counts, lam, cfg["calibration"], what=f"{labels_path}: richness calibration")
    n_train = len({str(c) for c, s in zip(labels["cluster_id"], labels["split"]) if str(s) == "train"})
    flags = {}
    for r in rows:
        flags[r["flag"]] = flags.get(r["flag"], 0) + 1
    result = {
        "redshift": z_rel,
        "richness": rich_rel,
        "m_star_r": {
            "M_star_r": float(red_sequence.M_STAR_R),
            "source": "Blanton et al. 2003 (0.1r), h = 0.71",
            "luminosity_cut": float(cfg["richness"]["luminosity_cut"]),
        },
        "n_training_clusters": n_train,
        "n_measured": len(rows),
        "subsampled": len(rows) < n_train,
        "colour_flags": flags,
        "clusters": [
            {
                "cluster_id": r["cluster_id"],
                "view": r["view"],
                "z": r["z"],
                "richness": r["richness"],
                "gr": r["gr"],
                "ri": r["ri"],
                "flag": r["flag"],
                "z_fit": float(z_fit[k]),
                "member_excess": float(counts[k]),
            }
            for k, r in enumerate(rows)
        ],
        "seed": int(seed),
        "config": cfg,
    }
    write_json(out_json, result)
    fwd = rich_rel["forward"]
    log(
        f"redshift calibration: {len(rows)} training clusters measured ({flags}); z = P{z_rel['degree']}(g-r, r-i) "
        f"on {z_rel['n_fit']} (NMAD in sample {z_rel['nmad_in_sample']:.4f}); log N = "
        f"{fwd['alpha']:.3f} + {fwd['beta']:.3f} log lambda on {rich_rel['n_fit']}"
        + ("" if rich_rel["usable"] else f": no richness estimates ({rich_rel['reason']})")
    )
    return result


def read_calibration(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise DeepCeeError(f"{path}: redshift calibration not found")
    try:
        cal = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise DeepCeeError(f"{path}: not JSON ({err.msg} at line {err.lineno})") from None
    for key in ("redshift", "richness"):
        if key not in cal:
            raise DeepCeeError(f"{path}: missing key '{key}'")
    return cal


# --------------------------------------------------------------------------- detections
def _chosen(summary_path) -> dict:
    path = Path(summary_path)
    if not path.is_file():
        raise DeepCeeError(f"{path}: evaluation summary not found")
    summary = json.loads(path.read_text())
    if "chosen_threshold" not in summary:
        raise DeepCeeError(f"{path}: missing key 'chosen_threshold'")
    return {
        "threshold": float(summary["chosen_threshold"]),
        "score_rule": summary.get("score_rule", "greater"),
        "distance_kpc": float(summary.get("distance_kpc", 100.0)),
        "tp_centre": summary.get("tp_centre", "highest_score"),
    }


def estimate(
    predictions_path, labels_path, summary_path, calibration_path, out_path, cfg: dict | None, log=print
) -> Table:
    """z and richness for every detection passing the evaluation's chosen threshold (+ truth for TPs)."""
    cfg = with_defaults("redshift", cfg)  # complete in the workflow already; defaults for other callers
    rel = read_calibration(calibration_path)
    chosen = _chosen(summary_path)
    predictions = read_table("predictions", predictions_path)
    labels = read_table("labels", labels_path)
    size = _output_size(labels, str(labels_path))
    truth = ev.truth_table(labels, "test", what=str(labels_path))
    matched = ev.match_predictions(predictions, truth, what=str(predictions_path))
    t, rule, dmax = chosen["threshold"], chosen["score_rule"], chosen["distance_kpc"]
    primary_idx = set()
    if len(matched):
        prim = ev.tp_centres(matched, len(truth), t, dmax, rule, chosen["tp_centre"])
        primary_idx = {int(i) for i in prim["pred_index"]}
        det = matched[ev.passes(matched["score"], t, rule)]
    else:
        det = matched
    cats = {}
    rows = []
    for r in det:
        ti = int(r["truth_index"])
        fits_path = str(truth["fits"][ti])
        if fits_path not in cats:
            cats[fits_path] = photometry.measure_view(fits_path, cfg["photometry"])  # sources only: small
        cat = cats[fits_path]
        side = view_png_side(truth["png"][ti], size)
        region = region_from_png_box(r["x0"], r["y0"], r["x1"], r["y1"], cat.shape, side)
        m = measure_detection(cat, region, rel, cfg)
        is_tp = bool(float(r["distance_kpc"]) <= dmax)
        rows.append(
            {
                "view": str(r["view"]),
                "score": float(r["score"]),
                "ra": float(r["ra"]),
                "dec": float(r["dec"]),
                "x0": float(r["x0"]),
                "y0": float(r["y0"]),
                "x1": float(r["x1"]),
                "y1": float(r["y1"]),
                **m,
                "matched": is_tp,
                "primary": int(r["pred_index"]) in primary_idx,
                "cluster_id": str(truth["cluster_id"][ti]) if is_tp else "",
                "z_cat": float(truth["z"][ti]) if is_tp else np.nan,
                "lambda_cat": float(truth["richness"][ti]) if is_tp else np.nan,
                "distance_kpc": float(r["distance_kpc"]),
            }
        )
    if rows:
        table = Table(rows=[[row[c] for c in DETECTION_COLUMNS] for row in rows], names=DETECTION_COLUMNS)
    else:
        table = rows_table("redshift_detections", [])
    table.meta.update(
        {
            "chosen_threshold_percent": t,
            "score_rule": rule,
            "distance_kpc": dmax,
            "predictions": str(predictions_path),
            "calibration": str(calibration_path),
            "description": (
                "one row per detection above the chosen threshold; z_est / richness_est "
                "NaN when z_flag / richness_flag is not 'ok'; z_cat, lambda_cat for "
                "detections within distance_kpc of the true cluster (primary: the one "
                "detection per cluster the evaluation uses)"
            ),
        }
    )
    write_table("redshift_detections", table, out_path)
    n_ok = int(np.sum([f == "ok" for f in table["z_flag"]])) if len(table) else 0
    log(f"{predictions_path}: {len(table)} detections at {t:g}%: {n_ok} with a redshift -> {out_path}")
    return table


# --------------------------------------------------------------------------- metrics
#: Fewest clusters a scatter (NMAD, log scatter) or a slope is computed from.
MIN_SPREAD = 3


def nmad(x) -> float:
    """Normalised median absolute deviation, 1.4826 median|x − median x| (NaN for no values)."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return float(1.4826 * np.median(np.abs(x - np.median(x)))) if len(x) else float("nan")


def redshift_metrics(z_est, z_cat, outlier_threshold: float = 0.05) -> dict:
    """σ_z/(1+z) as the NMAD of Δz/(1+z), the median bias, and the fraction with |Δz|/(1+z) > threshold."""
    z_est, z_cat = np.asarray(z_est, dtype=float), np.asarray(z_cat, dtype=float)
    ok = np.isfinite(z_est) & np.isfinite(z_cat)
    dz = (z_est[ok] - z_cat[ok]) / (1 + z_cat[ok])
    if not len(dz):
        return {"n": 0, "sigma_nmad": float("nan"), "bias": float("nan"), "outlier_fraction": float("nan")}
    # a spread of fewer than MIN_SPREAD values is not quoted (one cluster has NMAD 0)
    return {
        "n": len(dz),
        "sigma_nmad": nmad(dz) if len(dz) >= MIN_SPREAD else float("nan"),
        "bias": float(np.median(dz)),
        "outlier_fraction": float(np.mean(np.abs(dz) > outlier_threshold)),
    }


def richness_metrics(est, lam) -> dict:
    """Scatter (standard deviation) of log10(est/λ) and the slope of log10 est on log10 λ."""
    est, lam = np.asarray(est, dtype=float), np.asarray(lam, dtype=float)
    ok = np.isfinite(est) & (est > 0) & np.isfinite(lam) & (lam > 0)
    x, y = np.log10(lam[ok]), np.log10(est[ok])
    out = {
        "n": int(ok.sum()),
        "scatter_log10": float(np.std(y - x, ddof=1)) if ok.sum() >= MIN_SPREAD else float("nan"),
        "slope": float("nan"),
    }
    if ok.sum() >= MIN_SPREAD and np.ptp(x) > 0:
        out["slope"] = float(np.polyfit(x, y, 1)[0])
    return out


def bootstrap_interval(groups, stat, n_boot: int, interval: float, gen: np.random.Generator) -> list[float]:
    """Percentile interval of ``stat(indices)`` over resamples of the groups (clusters) with replacement."""
    groups = [np.asarray(g, dtype=int) for g in groups]
    if len(groups) < 2 or n_boot < 1:
        return [float("nan"), float("nan")]
    values = []
    for _ in range(int(n_boot)):
        pick = gen.integers(0, len(groups), size=len(groups))
        v = stat(np.concatenate([groups[k] for k in pick]))
        if np.isfinite(v):
            values.append(v)
    if not values:
        return [float("nan"), float("nan")]
    lo = (1 - interval) / 2
    return [float(np.quantile(values, lo)), float(np.quantile(values, 1 - lo))]


def set_summary(table: Table, cfg: dict, gen: np.random.Generator) -> dict:
    """Metrics of one detection set: on each recovered cluster's primary detection, with cluster bootstraps."""
    mc = cfg["metrics"]
    z_flags = [str(f) for f in table["z_flag"]]
    r_flags = [str(f) for f in table["richness_flag"]]
    out = {
        "n_detections": len(table),
        "n_z_ok": z_flags.count("ok"),
        "n_richness_ok": r_flags.count("ok"),
        "z_flags": {f: z_flags.count(f) for f in sorted(set(z_flags))},
        "richness_flags": {f: r_flags.count(f) for f in sorted(set(r_flags))},
        "n_z_missing": len(z_flags) - z_flags.count("ok"),
        "n_richness_missing": len(r_flags) - r_flags.count("ok"),
    }
    prim = table[np.asarray(table["primary"], dtype=bool)] if len(table) else table
    out["n_recovered_clusters"] = len(prim)
    out["n_recovered_z_missing"] = int(np.sum(~np.isfinite(np.asarray(prim["z_est"], float)))) if len(prim) else 0
    out["n_recovered_richness_missing"] = (
        int(np.sum(~np.isfinite(np.asarray(prim["richness_est"], float)))) if len(prim) else 0
    )
    z_est = np.asarray(prim["z_est"], dtype=float)
    z_cat = np.asarray(prim["z_cat"], dtype=float)
    r_est = np.asarray(prim["richness_est"], dtype=float)
    lam = np.asarray(prim["lambda_cat"], dtype=float)
    zm = redshift_metrics(z_est, z_cat, float(mc["outlier_threshold"]))
    rm = richness_metrics(r_est, lam)
    ids = [str(c) for c in prim["cluster_id"]]
    groups = [np.flatnonzero(np.asarray(ids) == c) for c in sorted(set(ids))]
    n_boot, level = int(mc["bootstrap"]), float(mc["interval"])
    for key in ("sigma_nmad", "bias", "outlier_fraction"):
        zm[f"{key}_ci"] = bootstrap_interval(
            groups,
            lambda i, k=key: redshift_metrics(z_est[i], z_cat[i], float(mc["outlier_threshold"]))[k],
            n_boot,
            level,
            gen,
        )
    for key in ("scatter_log10", "slope"):
        rm[f"{key}_ci"] = bootstrap_interval(
            groups, lambda i, k=key: richness_metrics(r_est[i], lam[i])[k], n_boot, level, gen
        )
    out["redshift"] = zm
    out["richness"] = rm
    return out


def summarize(detections: dict, calibration_path, out_json, cfg: dict | None, seed: int, log=print) -> dict:
    """``results/08_redshift/summary.json``: per set (test, redmapper) the metrics and the flagged counts."""
    cfg = with_defaults("redshift", cfg)  # complete in the workflow already; defaults for other callers
    cal = read_calibration(calibration_path)
    sets = {}
    for name, path in detections.items():
        table = read_table("redshift_detections", path)
        sets[name] = set_summary(table, cfg, rng(seed, "redshift-bootstrap", name))
        z = sets[name]["redshift"]
        log(
            f"{name}: {sets[name]['n_detections']} detections ({sets[name]['n_z_missing']} without z); "
            f"{z['n']} of {sets[name]['n_recovered_clusters']} recovered clusters with a z: "
            f"sigma_z/(1+z) = {z['sigma_nmad']:.4f}, bias = {z['bias']:+.4f}, "
            f"outliers = {z['outlier_fraction']:.3f}; richness scatter = "
            f"{sets[name]['richness']['scatter_log10']:.3f} dex, slope = {sets[name]['richness']['slope']:.3f}"
        )
    counts = {
        f"{name}_{key}": sets[name][key]
        for name in sets
        for key in ("n_detections", "n_z_missing", "n_richness_missing", "n_recovered_clusters")
    }
    counts["calibration_clusters"] = cal.get("n_measured")
    extra = {
        "sets": sets,
        "outlier_threshold": float(cfg["metrics"]["outlier_threshold"]),
        "interval": float(cfg["metrics"]["interval"]),
        "bootstrap": int(cfg["metrics"]["bootstrap"]),
        "calibration": {
            k: cal[k]
            for k in ("redshift", "richness", "n_measured", "n_training_clusters", "subsampled", "colour_flags")
            if k in cal
        },
    }
    return write_summary(out_json, counts, config=cfg, **extra)
