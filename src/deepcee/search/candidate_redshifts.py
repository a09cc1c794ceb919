"""A position, a redshift and a richness for the blind search's candidates.

The tiles are stretched in memory and never kept, so each candidate at or above
``search.score_threshold`` gets a fresh tile-sized cutout centred on it through the
search's own acquisition (``search/acquire.py``: the one mock sky by default, or SkyView /
hips2fits). The cutout is measured exactly as the redshift stage measures a detection
on a training-sized view (``redshift/photometry.py``, ``redshift/red_sequence.py``,
``redshift/stage.py``'s ``measure_detection``: the box's red-sequence colour against the
cutout's outskirts, then the member excess), and the relations fitted on the training
clusters (``results/08_redshift/calibration.json``) turn colour and count into z and λ.

The same sources give the cluster's position when ``train.predict.centre.method`` is ``bcg``
(the detector's centring option, ``detector/centring.py``): the brightest extended galaxy
within ``search_radius`` box sides of the box centre; ``box_ra``/``box_dec`` keep the box
centre and ``on_bcg`` says which was moved (none are with ``method: box``, the paper's way).

Only candidates at or above the threshold are measured: one render and one source
extraction per candidate, against thousands of low-score boxes below it. The others are
flagged ``below_score_threshold``; a box with too few galaxies or no red sequence keeps the
redshift stage's flag and NaN, never a number.

Each measured candidate also keeps ``red_excess``: the box's galaxies in the red-sequence colour
window in excess of the field (the colour search's count, measured with or without a
calibration), which ``search/confirm.py`` confirms candidates by. NaN where not measured (below
the threshold, or too few galaxies in the box to look for a colour).
"""

from __future__ import annotations

import time

import numpy as np
from astropy.table import Table

from deepcee.redshift import photometry
from deepcee.redshift import stage as rz
from deepcee.redshift.red_sequence import Region
from deepcee.search.acquire import Position, cutouts

COLUMNS = ("z_est", "z_flag", "richness_est", "richness_flag", "red_excess")
CENTRE_COLUMNS = ("box_ra", "box_dec", "on_bcg")
BELOW_THRESHOLD = "below_score_threshold"  # not measured: the candidate's score is under search.score_threshold
NO_CALIBRATION = "no_calibration"  # not measured: the redshift stage is disabled (no calibration.json)


def candidate_region(wcs, ra: float, dec: float, box_arcsec: float, scale: float) -> Region:
    """The candidate's box on its cutout (FITS 0-based pixels): a square of the merged box side."""
    x, y = wcs.world_to_pixel_values(float(ra), float(dec))
    half = 0.5 * float(box_arcsec) / float(scale)
    return Region(float(x) - half, float(y) - half, float(x) + half, float(y) + half)


def estimate_candidates(
    cands: Table,
    calibration: dict | None,
    redshift_cfg: dict,
    search_cfg: dict,
    images_cfg: dict,
    *,
    sky=None,
    log=print,
    centre: dict | None = None,
) -> dict:
    """Add COLUMNS and CENTRE_COLUMNS to ``cands`` (in place; ra, dec move to the BCG where
    ``centre['method']`` is bcg and one is found) and return what was done (counts, flags, seconds).

    ``redshift_cfg``, ``search_cfg``, ``images_cfg``: the complete config sections;
    ``calibration``: the redshift stage's calibration.json (None: no z or λ is measured);
    ``centre``: ``train.predict.centre`` (None or method box: box centres kept).
    """
    from deepcee.detector.centring import bcg_candidates, choose_bcg

    t0 = time.perf_counter()
    n = len(cands)
    thr = float(search_cfg["score_threshold"])
    z = np.full(n, np.nan)
    lam = np.full(n, np.nan)
    red_excess = np.full(n, np.nan)
    strong = np.asarray(cands["score"], float) >= thr if n else np.zeros(0, bool)
    z_flag = np.where(strong, NO_CALIBRATION if calibration is None else "", BELOW_THRESHOLD).astype("U24")
    r_flag = z_flag.copy()
    pixels, scale = int(images_cfg["pixels"]), float(images_cfg["pixel_scale_arcsec"])
    use_bcg = bool(centre) and str(centre["method"]) == "bcg"
    box_ra = np.asarray(cands["ra"], float).copy() if n else np.zeros(0)
    box_dec = np.asarray(cands["dec"], float).copy() if n else np.zeros(0)
    ra, dec, on_bcg = box_ra.copy(), box_dec.copy(), np.zeros(n, bool)
    confirming = search_cfg["confirm"]["min_red_excess"] is not None  # the red excess confirms (search/confirm.py)
    todo = np.flatnonzero(strong) if (calibration is not None or use_bcg or confirming) else np.zeros(0, int)
    positions = [Position(str(cands["id"][k]), float(cands["ra"][k]), float(cands["dec"][k])) for k in todo]
    for k, (pos, img, wcs) in zip(
        todo,
        cutouts(
            search_cfg["source"], positions, pixels, scale, sky=sky, cfg=search_cfg, noise=bool(search_cfg["noise"])
        ),
    ):
        cat = photometry.measure_image(img, wcs, redshift_cfg["photometry"], f"candidate {pos.name}")
        region = candidate_region(wcs, pos.ra, pos.dec, float(cands["box_arcsec"][k]), scale)
        if use_bcg:
            side = float(cands["box_arcsec"][k]) / scale
            b = choose_bcg(
                cat, bcg_candidates(cat, centre), (region.x0 + region.x1) / 2, (region.y0 + region.y1) / 2, side, centre
            )
            if b >= 0:
                a, d = wcs.pixel_to_world_values(cat.sources["x"][b], cat.sources["y"][b])
                ra[k], dec[k], on_bcg[k] = float(a) % 360.0, float(d), True
        m = rz.measure_detection(cat, region, calibration, redshift_cfg)
        red_excess[k] = m["colour_excess"]
        if calibration is None:
            continue
        z[k], z_flag[k] = m["z_est"], m["z_flag"]
        lam[k], r_flag[k] = m["richness_est"], m["richness_flag"]
    if n:
        cands["ra"], cands["dec"] = ra, dec
    cands["box_ra"], cands["box_dec"], cands["on_bcg"] = box_ra, box_dec, on_bcg
    for c in ("ra", "dec", "box_ra", "box_dec"):
        cands[c].unit = "deg"
    cands["z_est"] = z
    cands["z_flag"] = z_flag
    cands["richness_est"] = lam
    cands["richness_flag"] = r_flag
    cands["red_excess"] = red_excess
    cands.meta["redshift"] = (
        f"z_est, richness_est: candidates with score >= {thr:g} measured on a cutout "
        "(src/deepcee/search/candidate_redshifts.py); NaN when the flag is not 'ok'"
    )
    seconds = time.perf_counter() - t0
    n_ok = int(np.sum(z_flag[todo] == "ok")) if len(todo) and calibration is not None else 0
    log(
        f"search redshifts: {len(todo)} candidates >= {thr:g} measured in {seconds:.1f} s, {n_ok} with a z, "
        f"{int(on_bcg.sum())} centred on a BCG"
    )
    return {
        "n_measured": len(todo) if calibration is not None else 0,
        "n_on_bcg": int(on_bcg.sum()),
        "seconds": seconds,
    }


def _finite(value):
    value = float(value)
    return value if np.isfinite(value) else None


def redshift_summary(cands: Table, calibration_path, redshift_cfg: dict, search_cfg: dict, measured: dict) -> dict:
    """The search summary's ``redshift`` key: flag counts of the measured candidates and, for those
    matched to a redMaPPer cluster, σ_z/(1+z), bias and outlier fraction against its z (and the
    richness scatter against its λ), by the redshift stage's metric functions."""
    thr = float(search_cfg["score_threshold"])
    strong = np.asarray(cands["score"], float) >= thr if len(cands) else np.zeros(0, bool)
    meas = cands[strong]
    z_flags = [str(f) for f in meas["z_flag"]]
    r_flags = [str(f) for f in meas["richness_flag"]]
    rm = np.asarray([str(x) != "" for x in meas["redmapper_id"]], bool) if len(meas) else np.zeros(0, bool)
    outlier = float(redshift_cfg["metrics"]["outlier_threshold"])
    zm = rz.redshift_metrics(np.asarray(meas["z_est"], float)[rm], np.asarray(meas["redmapper_z"], float)[rm], outlier)
    richness = rz.richness_metrics(
        np.asarray(meas["richness_est"], float)[rm], np.asarray(meas["redmapper_richness"], float)[rm]
    )
    return {
        "calibration": None if calibration_path is None else str(calibration_path),
        "score_threshold": thr,
        "n_measured": int(measured["n_measured"]),
        "n_z_ok": z_flags.count("ok"),
        "n_richness_ok": r_flags.count("ok"),
        "z_flags": {f: z_flags.count(f) for f in sorted(set(z_flags))},
        "richness_flags": {f: r_flags.count(f) for f in sorted(set(r_flags))},
        "n_redmapper_matched": int(rm.sum()),
        "outlier_threshold": outlier,
        "redmapper": {
            "n": int(zm["n"]),
            "sigma_nmad": _finite(zm["sigma_nmad"]),
            "bias": _finite(zm["bias"]),
            "outlier_fraction": _finite(zm["outlier_fraction"]),
            "richness_n": int(richness["n"]),
            "richness_scatter_log10": _finite(richness["scatter_log10"]),
            "richness_slope": _finite(richness["slope"]),
        },
        "seconds": float(measured["seconds"]),
    }
