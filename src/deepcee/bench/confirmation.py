"""Does the search's red-sequence confirmation hold on real SDSS pixels?

    python -m deepcee.bench.confirmation                       # the default run's results/
    python -m deepcee.bench.confirmation --results results/survey --json /tmp/confirm.json

The confirmation (``deepcee.search.confirm``) is chosen on the mock sky; this measures it where
the truth is known on real pixels. The real-sky test views (the test clusters injected into the
five real SDSS test fields, ``results/04_evaluate/real_sky``) and the synthetic test views
(``results/08_redshift/detections_test.ecsv``) give, at each set's chosen threshold, the
detections on their cluster (within ``evaluate.distance_kpc``) and the rest; each detection's box
is measured as a search candidate's is (``redshift.stage.measure_detection``: the red-sequence
excess). Printed: the share of each kind that passes ``search.confirm.min_red_excess`` on each
sky, with Wilson 68 % intervals. A confirmation that keeps the synthetic clusters but not the
real ones would be a result of the mock alone. Run it in the workflow's directory: the tables
name their FITS and PNG files relative to it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def _share(passing: np.ndarray) -> dict:
    from deepcee.search.measure import wilson68

    n, k = int(passing.size), int(passing.sum())
    lo, hi = wilson68(k, n)
    return {"n": n, "passing": k, "fraction": k / n if n else None, "ci_lo": float(lo), "ci_hi": float(hi)}


def real_sky_excess(results: Path, redshift_cfg: dict, threshold_percent: float, distance_kpc: float, score_rule: str):
    """(red excess, on-cluster flag) of every real-sky test detection passing the threshold."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    from deepcee.core.contracts import read_table
    from deepcee.core.cosmology import kpc_to_arcsec
    from deepcee.evaluate.metrics import passes
    from deepcee.redshift import photometry
    from deepcee.redshift.stage import measure_detection, region_from_png_box, view_png_side

    folder = results / "04_evaluate" / "real_sky"
    labels = read_table("labels", folder / "labels.ecsv")
    labels = labels[~np.asarray(labels["flipped"], bool)]
    preds = read_table("predictions", folder / "predictions.ecsv")
    keep = passes(np.asarray(preds["score"], float), threshold_percent, score_rule)
    preds = preds[keep]
    excess, on_cluster = [], []
    for row in labels:
        mine = preds[np.asarray(preds["view"], str) == str(row["view"])]
        if not len(mine):
            continue
        cat = photometry.measure_view(row["fits"], redshift_cfg["photometry"])
        truth = SkyCoord(float(row["ra"]) * u.deg, float(row["dec"]) * u.deg)
        limit = float(kpc_to_arcsec(distance_kpc, float(row["z"])))
        side = view_png_side(row["png"], int(labels.meta["output_size"]))  # a real view's PNG is smaller
        for p in mine:
            region = region_from_png_box(p["x0"], p["y0"], p["x1"], p["y1"], cat.shape, side)
            excess.append(measure_detection(cat, region, None, redshift_cfg)["colour_excess"])
            here = SkyCoord(float(p["ra"]) * u.deg, float(p["dec"]) * u.deg)
            on_cluster.append(truth.separation(here).to_value(u.arcsec) <= limit)
    return np.asarray(excess, float), np.asarray(on_cluster, bool)


def synthetic_excess(results: Path):
    """(red excess, on-cluster flag) of the synthetic test detections the redshift stage measured."""
    from astropy.table import Table

    table = Table.read(results / "08_redshift" / "detections_test.ecsv")
    return np.asarray(table["colour_excess"], float), np.asarray(table["matched"], bool)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="config.yaml")
    ap.add_argument("--configfile", nargs="*", default=[], help="configs merged over --config")
    ap.add_argument("--results", default=None, help="the run's results folder (default: the config's results_dir)")
    ap.add_argument("--json", default=None, help="write the result here")
    args = ap.parse_args(argv)

    from deepcee.core.config import read_config_files, with_defaults

    config = read_config_files([args.config, *args.configfile])
    results = Path(args.results or config.get("results_dir", "results"))
    cut = with_defaults("search", config.get("search", {}))["confirm"]["min_red_excess"]
    if cut is None:
        raise SystemExit("search.confirm.min_red_excess is null: no confirmation to measure")
    rcfg = with_defaults("redshift", config.get("redshift", {}))
    summary = json.loads((results / "04_evaluate" / "real_sky" / "summary.json").read_text())
    real = real_sky_excess(
        results, rcfg, float(summary["chosen_threshold"]), float(summary["distance_kpc"]), summary["score_rule"]
    )
    out = {"min_red_excess": float(cut), "real_sky_threshold_percent": float(summary["chosen_threshold"])}
    for name, (excess, on) in (("real_sky", real), ("synthetic", synthetic_excess(results))):
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(excess) & (excess >= float(cut))
        out[name] = {
            "on_cluster": _share(ok[on]),
            "elsewhere": _share(ok[~on]),
            "median_excess_on_cluster": float(np.nanmedian(excess[on])) if on.any() else None,
        }
        c, e = out[name]["on_cluster"], out[name]["elsewhere"]
        print(
            f"{name}: detections on their cluster passing red excess >= {cut:g}: {c['passing']} of {c['n']} "
            f"({c['fraction']:.3f} [{c['ci_lo']:.3f}, {c['ci_hi']:.3f}]); elsewhere {e['passing']} of {e['n']}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
