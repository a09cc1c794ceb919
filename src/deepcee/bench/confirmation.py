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

Beyond that, the whole operating selection on real pixels with nothing injected,
on the blank real SDSS test fields (``evaluate.real_sky.blank_frames``, prepared under
``02_images/real_fields/test.json``):

(a) the blank-sky stage's boxes (``04_evaluate/real_sky/blank/detections.ecsv``: owned boxes of
    the field tiles) merged on the sky as the search merges its shards, and each candidate at or
    above ``search.score_threshold`` measured as the search measures one
    (``search.candidate_redshifts``: BCG centring, the red excess, z_est and λ through
    ``redshift.stage.measure_detection``; here on the whole prepared field, ~510 x 368 px, the
    nearest thing to the search's 500 px cutout a field holds), then ``search.confirm.select``:
    confirmed candidates per deg² with a Garwood 68.27 % interval;
(b) the confirmation's false-pass rate at ``--positions`` seeded random boxes lying wholly inside
    a field (none within ``catalogue.match_radius_arcmin`` of a catalogued cluster), of the
    median box side of the blank-sky candidates (the boxes the confirmation is actually asked
    about on real sky; 500 kpc at z = 0.15 where there are none), and the pass rate of the
    blank-sky candidates themselves (the bright galaxies the detector fires on, which random
    positions may understate); Wilson 68.27 % intervals;
(c) the real-sky purity projected at redMaPPer's density: true per deg² = the bundled redMaPPer
    clusters (λ >= 20) per deg² in ``--redmapper-region`` (default RA 150-220, Dec 10-50: 2,376
    deg² inside the DR8 footprint) times the confirmed completeness; false per deg² = the blank
    fields' false detections per deg² times a pass rate of (b) (or (a)'s direct count); purity =
    true / (true + false), its 68.27 % interval from a seeded Monte Carlo over the inputs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from astropy.table import Table

from deepcee.core.errors import DeepCeeError


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


#: The redshift ranges of the projection: the trained range and all redshifts (λ >= 20 in both).
Z_RANGES = {"0.1<z<0.2": (0.1, 0.2), "all z": (0.0, np.inf)}
LEVEL = 0.6827  # every interval of the blank-sky part: 68.27 %, as the search quotes its own


def random_positions(shapes: dict, side_px: float, n: int, gen: np.random.Generator) -> list[tuple[str, float, float]]:
    """``n`` (field, x, y) box centres (FITS 0-based pixels) with a ``side_px`` box wholly inside its
    field (pixel edges at -0.5 and size - 0.5): uniform over the fields' allowed centres together,
    so each field takes a share in proportion to the sky it can offer."""
    names = sorted(shapes)
    room = np.array([[shapes[f][1] - side_px, shapes[f][0] - side_px] for f in names], float)  # (x, y) room
    if not len(names) or np.any(room < 0):
        raise DeepCeeError(f"random positions: a {side_px:.0f} px box does not fit in every field ({shapes})")
    weight = np.prod(room, axis=1) + 1e-12  # a field exactly one box tall still gets a share
    pick = gen.choice(len(names), size=n, p=weight / weight.sum())
    u = gen.uniform(size=(n, 2))
    lo = side_px / 2 - 0.5
    return [(names[k], lo + u[j, 0] * room[k, 0], lo + u[j, 1] * room[k, 1]) for j, k in enumerate(pick)]


MEASURED = ("id", "ra", "dec", "score", "box_arcsec", "red_excess", "z_est", "richness_est")


def measure_boxes(cat, rows, calibration, rcfg: dict, centre: dict | None) -> Table:
    """Each row (id, ra, dec, score, box_arcsec) measured as a search candidate is, on the field's
    source catalogue ``cat``: the box where the detector put it (search.candidate_redshifts), the
    position moved to the BCG where ``centre['method']`` is bcg (it moves nothing else)."""
    from deepcee.detector.centring import bcg_candidates, choose_bcg
    from deepcee.redshift.stage import measure_detection
    from deepcee.search.candidate_redshifts import candidate_region

    use_bcg = bool(centre) and str(centre["method"]) == "bcg"
    pool = bcg_candidates(cat, centre) if use_bcg and len(rows) else None
    out = []
    for r in rows:
        ra, dec, box = float(r["ra"]), float(r["dec"]), float(r["box_arcsec"])
        region = candidate_region(cat.wcs, ra, dec, box, cat.pixel_scale_arcsec)
        m = measure_detection(cat, region, calibration, rcfg)
        if use_bcg:
            k = choose_bcg(cat, pool, *region.centre, box / cat.pixel_scale_arcsec, centre)
            if k >= 0:
                ra, dec = (float(v) for v in cat.wcs.pixel_to_world_values(cat.sources["x"][k], cat.sources["y"][k]))
        out.append(
            (str(r["id"]), ra % 360.0, dec, float(r["score"]), box, m["colour_excess"], m["z_est"], m["richness_est"])
        )
    cols = list(zip(*out)) if out else [[]] * len(MEASURED)
    return Table([np.asarray(c, "U32" if k == "id" else float) for k, c in zip(MEASURED, cols)], names=MEASURED)


def _field_of(fields: dict, ra: float, dec: float) -> str | None:
    """The prepared field whose footprint holds (ra, dec)."""
    for name, f in fields.items():
        x, y = f.wcs.world_to_pixel_values(ra, dec)
        if -0.5 <= x <= f.image.shape[2] - 0.5 and -0.5 <= y <= f.image.shape[1] - 0.5:
            return name
    return None


def blank_candidates(detections: Table, merge_radius_arcsec: float) -> Table:
    """The blank-sky stage's owned boxes merged on the sky as the search merges its shards
    (search.merge), each candidate keeping its best box's ``known`` flag."""
    from deepcee.search.merge import merge_detections

    det = detections.copy()
    det["owned"] = np.ones(len(det), bool)
    det["tile"] = [f"{f}_t{t}" for f, t in zip(det["field"], det["tile"])]
    cands = merge_detections(det, merge_radius_arcsec)
    best = {(float(r["ra"]), float(r["dec"])): bool(r["known"]) for r in det}
    cands["known"] = np.asarray([best[(float(a), float(d))] for a, d in zip(cands["ra"], cands["dec"])], bool)
    return cands


def passing(cands: Table, cfg: dict, z_range=(0.0, np.inf), use_z: bool = True) -> np.ndarray:
    """The confirmation (``search.confirm.confirmed``, at any score: the boxes here are already
    detections or stand for one), and z_est inside ``z_range`` where ``use_z``."""
    from deepcee.search.confirm import confirmed

    ok = confirmed(cands, -np.inf, cfg["min_red_excess"], cfg.get("min_richness"))
    if use_z and np.isfinite(z_range[1]) and len(cands):
        z = np.asarray(cands["z_est"], float)
        with np.errstate(invalid="ignore"):
            ok &= (z > z_range[0]) & (z < z_range[1])
    return ok


def redmapper_density(catalogue: Table, region, z_range, richness_min: float) -> dict:
    """redMaPPer clusters with λ >= ``richness_min`` in ``z_range`` inside ``region`` (ra0, ra1, dec0, dec1;
    a box wholly inside the catalogue's footprint), with the region's area on the sphere."""
    ra0, ra1, d0, d1 = map(float, region)
    ra, dec = np.asarray(catalogue["ra"], float), np.asarray(catalogue["dec"], float)
    z, lam = np.asarray(catalogue["z"], float), np.asarray(catalogue["richness"], float)
    sel = (ra >= ra0) & (ra < ra1) & (dec >= d0) & (dec < d1) & (lam >= richness_min) & (z > z_range[0])
    sel &= z < z_range[1]
    area = float(np.degrees(np.radians(ra1 - ra0)) * np.degrees(np.sin(np.radians(d1)) - np.sin(np.radians(d0))))
    return {"n": int(sel.sum()), "area_deg2": area, "per_deg2": int(sel.sum()) / area}


def _value(q) -> float:
    """A projection input's point value: a number, a Poisson rate (n / area) or a fraction (k / n)."""
    if isinstance(q, dict):
        return q["n"] / q["area"] if q["kind"] == "poisson" else (q["k"] / q["n"] if q["n"] else np.nan)
    return float(q)


def _draws(q, gen: np.random.Generator, size: int) -> np.ndarray:
    """Draws of one input: a Poisson rate from its Jeffreys posterior Gamma(n + 1/2) / area, a fraction
    from Beta(k + 1/2, n - k + 1/2), a plain number as it is."""
    if not isinstance(q, dict):
        return np.full(size, float(q))
    if q["kind"] == "poisson":
        return gen.gamma(q["n"] + 0.5, size=size) / q["area"]
    return gen.beta(q["k"] + 0.5, q["n"] - q["k"] + 0.5, size=size)


def rate(n: int, area: float) -> dict:
    return {"kind": "poisson", "n": int(n), "area": float(area)}


def fraction(k: int, n: int) -> dict:
    return {"kind": "binomial", "k": int(k), "n": int(n)}


def project_purity(true_factors, false_factors, gen: np.random.Generator, draws: int = 100_000) -> dict:
    """Purity = true / (true + false) per deg², each the product of its factors (numbers, ``rate`` or
    ``fraction``); the point from the point values, the shortest 68.27 % interval of ``draws``
    Monte Carlo draws of every factor at once. None where a fraction has nothing under it."""
    factors = [*true_factors, *false_factors]
    if any(isinstance(q, dict) and q["kind"] == "binomial" and not q["n"] for q in factors):
        return {"true_per_deg2": None, "false_per_deg2": None, "purity": None, "ci_lo": None, "ci_hi": None}
    t = float(np.prod([_value(q) for q in true_factors]))
    f = float(np.prod([_value(q) for q in false_factors]))
    td = np.prod([_draws(q, gen, draws) for q in true_factors], axis=0)
    fd = np.prod([_draws(q, gen, draws) for q in false_factors], axis=0)
    purity = t / (t + f)
    lo, hi = shortest_interval(td / (td + fd))
    return {
        "true_per_deg2": t,
        "false_per_deg2": f,
        "false_interval": list(shortest_interval(fd)),
        "purity": purity,
        "ci_lo": min(lo, purity),  # no false pass at all: the point is the bound 1 itself
        "ci_hi": max(hi, purity),
    }


def shortest_interval(draws: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The shortest interval holding ``level`` of the draws: a central one would leave out a bound the
    draws pile up against (no false pass: purity 1, false rate 0), where the point then lies."""
    s = np.sort(np.asarray(draws, float))
    k = max(1, int(np.ceil(level * len(s))))
    i = int(np.argmin(s[k - 1 :] - s[: len(s) - k + 1]))
    return float(s[i]), float(s[i + k - 1])


def completeness_inputs(results: Path, given: float | None) -> dict:
    """Per z range of Z_RANGES, the confirmed selection's completeness: ``given`` (fixed), else the
    search summary's natural completeness of the sky's own clusters (λ >= 20: bands trained and
    trained_poor together for 0.1<z<0.2, band all for all z) as a fraction, else the goal of 0.9."""
    path = results / "07_search" / "summary.json"
    if given is not None or not path.is_file():
        c = 0.9 if given is None else float(given)
        return {
            z: {"value": c, "source": "--completeness" if given is not None else "the goal of 0.9"} for z in Z_RANGES
        }
    bands = {b["band"]: b for b in json.loads(path.read_text())["natural"]["completeness"]["confirmed"]}
    out = {}
    for z, names in (("0.1<z<0.2", ("trained", "trained_poor")), ("all z", ("all",))):
        have = [bands[n] for n in names if n in bands] or [bands["trained"]]
        k, n = sum(b["n_found"] for b in have), sum(b["n_clusters"] for b in have)
        out[z] = {"value": fraction(k, n), "source": f"{path} natural.completeness.confirmed {'+'.join(names)}"}
    return out


def _stack(parts: list[Table]) -> Table:
    from astropy.table import vstack

    parts = [p for p in parts if len(p)]
    return vstack(parts) if parts else measure_boxes(None, [], None, {}, None)


def _per_deg2(n: int, area: float) -> dict:
    from deepcee.evaluate.blank_sky import poisson_interval

    lo, hi = poisson_interval(int(n), LEVEL)
    return {"n": int(n), "per_deg2": n / area, "interval": [lo / area, hi / area]}


def blank_sky_selection(results: Path, config: dict, positions: int, seed: int, box_arcsec=None) -> dict:
    """(a) and (b): the operating selection on the blank real test fields, and its pass rates."""
    from deepcee.core.config import with_defaults
    from deepcee.core.contracts import read_table
    from deepcee.core.cosmology import kpc_to_arcsec
    from deepcee.core.seeds import rng
    from deepcee.images.mock.real_fields import field_files, read_field
    from deepcee.redshift import photometry
    from deepcee.redshift.stage import read_calibration
    from deepcee.search.confirm import select
    from deepcee.search.merge import cross_match, load_catalogues

    scfg = with_defaults("search", config.get("search", {}))
    rcfg = with_defaults("redshift", config.get("redshift", {}))
    centre = with_defaults("train", {"predict": config.get("train", {}).get("predict", {})})["predict"]["centre"]
    ccfg, thr = scfg["confirm"], float(scfg["score_threshold"])
    blank = results / "04_evaluate" / "real_sky" / "blank"
    manifest = results / "02_images" / "real_fields" / "test.json"
    cal_path = results / "08_redshift" / "calibration.json"
    for need in (blank / "detections.ecsv", blank / "summary.json", manifest):
        if not need.is_file():
            raise DeepCeeError(f"{need}: not found (has the real-sky blank stage run in {results}?)")
    calibration = read_calibration(cal_path) if cal_path.is_file() else None
    if calibration is None and ccfg.get("min_richness") is not None:
        raise DeepCeeError(f"{cal_path}: not found, and search.confirm.min_richness needs a richness estimate")
    use_z = calibration is not None  # no calibration: no z_est, so no z range is applied
    summary = json.loads((blank / "summary.json").read_text())
    area = float(summary["area_deg2"])
    fields = {name: read_field(str(path)) for name, path in sorted(field_files(manifest).items())}
    cats = {n: photometry.measure_image(f.image, f.wcs, rcfg["photometry"], n) for n, f in fields.items()}

    # (a) the blank-sky boxes as the search's candidates, measured, confirmed and percolated
    cands = blank_candidates(read_table("blank_detections", blank / "detections.ecsv"), scfg["merge_radius_arcsec"])
    cands = cands[np.asarray(cands["score"], float) >= thr]
    home = np.asarray([_field_of(fields, float(r["ra"]), float(r["dec"])) or "" for r in cands], str)
    meas = _stack([measure_boxes(cats[f], cands[home == f], calibration, rcfg, centre) for f in fields])
    known = dict(zip(cands["id"], cands["known"]))
    meas["known"] = np.asarray([bool(known[i]) for i in meas["id"]], bool)
    sel, _ = select(meas, thr, ccfg) if len(meas) else (np.zeros(0, bool), None)
    false = ~np.asarray(meas["known"], bool)
    a = {
        "area_deg2": area,
        "fields": list(fields),
        "score_threshold": thr,
        "n_candidates": len(meas),
        "n_on_catalogued": int((~false).sum()),
        "n_outside_fields": int((home == "").sum()),
        "confirmed": _per_deg2(passing(meas, ccfg).sum(), area),
        "confirmed_percolated": _per_deg2(sel.sum(), area),
        "false_confirmed": {
            z: _per_deg2((sel & false & passing(meas, ccfg, zr, use_z)).sum(), area) for z, zr in Z_RANGES.items()
        },
        "candidates": [{k: _plain(r[k]) for k in meas.colnames} for r in meas],
    }

    # (b) seeded random boxes wholly inside a field, none within the match radius of a catalogued cluster
    det = meas[false]
    if box_arcsec is None:
        box_from = "median box of the blank-sky candidates" if len(det) else "500 kpc at z = 0.15 (no candidates)"
        box_arcsec = float(np.median(det["box_arcsec"])) if len(det) else float(kpc_to_arcsec(500.0, 0.15))
    else:
        box_from = "--box-arcsec"
    catalogues = load_catalogues(config, scfg["mcxc"])
    radius = float(config.get("catalogue", {}).get("match_radius_arcmin", 3.0))
    scale = next(iter(cats.values())).pixel_scale_arcsec
    gen = rng(seed, "bench-confirmation-positions")
    boxes, n_near = [], 0
    while len(boxes) < positions and n_near < 100 * positions:  # redraw those on a catalogued cluster
        drawn = random_positions({n: c.shape for n, c in cats.items()}, box_arcsec / scale, positions - len(boxes), gen)
        new = [{"field": f, "score": np.inf, "box_arcsec": box_arcsec} for f, _, _ in drawn]
        for row, (f, x, y) in zip(new, drawn):
            row["ra"], row["dec"] = (float(v) for v in cats[f].wcs.pixel_to_world_values(x, y))
        pts = Table(rows=[(r["ra"], r["dec"]) for r in new], names=("ra", "dec"))
        near = np.asarray(cross_match(pts, catalogues, radius)["known"], bool)
        n_near += int(near.sum())
        kept = [r for r, k in zip(new, near) if not k]
        boxes += [r | {"id": f"P{len(boxes) + j:04d}"} for j, r in enumerate(kept)]
    rand = _stack(
        [measure_boxes(cats[f], [b for b in boxes if b["field"] == f], calibration, rcfg, None) for f in fields]
    )
    b = {
        "n_positions": len(rand),
        "box_arcsec": box_arcsec,
        "box_from": box_from,
        "seed": int(seed),
        "n_redrawn_near_catalogued": n_near,
        "random": {z: _share(passing(rand, ccfg, zr, use_z)) for z, zr in Z_RANGES.items()},
        "detections": {z: _share(passing(det, ccfg, zr, use_z)) for z, zr in Z_RANGES.items()},
        "median_red_excess": {
            "random": _plain(np.nanmedian(rand["red_excess"])) if len(rand) else None,
            "detections": _plain(np.nanmedian(det["red_excess"])) if len(det) else None,
        },
    }
    detector = {
        "n_false": int(false.sum()),
        "per_deg2": int(false.sum()) / area,
        "note": "merged candidates >= search.score_threshold not on a catalogued cluster",
        "blank_stage": {k: summary[k] for k in ("threshold", "n_false", "false_per_deg2", "false_per_deg2_interval")},
    }
    return {"a": a, "b": b, "detector": detector, "z_est_measured": use_z, "confirm": dict(ccfg)}


def _plain(v):
    """A JSON-ready scalar: numpy to Python, NaN and inf to None."""
    v = v.item() if hasattr(v, "item") else v
    return None if isinstance(v, float) and not np.isfinite(v) else v


#: redMaPPer DR8's footprint, for the whole-catalogue density printed beside the region's
#: (Rykoff et al. 2014, ApJ 785, 104: "~10,000 deg² of SDSS DR8").
DR8_AREA_DEG2 = 10_000.0


def projection(blank: dict, completeness: dict, redmapper: Table, region, richness_min: float, seed: int, draws: int):
    """(c): per z range, true per deg² (redMaPPer in ``region`` x completeness) against each estimate of
    the false per deg² (detector false rate x a pass rate of (b), or (a)'s direct count)."""
    from deepcee.core.seeds import rng

    gen = rng(seed, "bench-confirmation-projection")
    area, det, b = blank["a"]["area_deg2"], blank["detector"], blank["b"]
    out = {}
    for z, zr in Z_RANGES.items():
        dens = redmapper_density(redmapper, region, zr, richness_min)
        lam, zz = np.asarray(redmapper["richness"], float), np.asarray(redmapper["z"], float)
        whole = int(((lam >= richness_min) & (zz > zr[0]) & (zz < zr[1])).sum())
        true = [rate(dens["n"], dens["area_deg2"]), completeness[z]["value"]]
        n_false = rate(det["n_false"], area)
        estimates = {
            "random positions": [n_false, fraction(b["random"][z]["passing"], b["random"][z]["n"])],
            "blank-sky detections": [n_false, fraction(b["detections"][z]["passing"], b["detections"][z]["n"])],
            "direct (a)": [rate(blank["a"]["false_confirmed"][z]["n"], area)],
        }
        out[z] = {
            "z_range": [zr[0], None if np.isinf(zr[1]) else zr[1]],
            "redmapper": dens | {"whole_catalogue_per_deg2": whole / DR8_AREA_DEG2},
            "completeness": completeness[z] | {"point": _value(completeness[z]["value"])},
            "purity": {name: project_purity(true, f, gen, draws) for name, f in estimates.items()},
        }
    return {
        "region": list(region),
        "richness_min": richness_min,
        "seed": int(seed),
        "draws": int(draws),
        "interval": "shortest 68.27 % of the draws: rates Gamma(n + 1/2) / area, fractions Beta(k + 1/2, n - k + 1/2)",
        "by_z": out,
    }


def _ci(x: dict | None, key="fraction") -> str:
    if x is None or x.get(key) is None:
        return "n/a"
    return f"{x[key]:.4f} [{x['ci_lo']:.4f}, {x['ci_hi']:.4f}]"


def print_blank(blank: dict, proj: dict) -> None:
    """The blank-sky part as one table per question."""
    a, b, det, cfg = blank["a"], blank["b"], blank["detector"], blank["confirm"]
    rich = cfg.get("min_richness")
    print(
        f"\nblank real SDSS test fields ({len(a['fields'])}, {a['area_deg2']:.4f} deg2, nothing injected); operating "
        f"selection: score >= {a['score_threshold']:g}, red excess >= {cfg['min_red_excess']}"
        + (f", richness >= {rich:g}" if rich is not None else ", no richness cut")
        + f", percolation {cfg.get('percolation_kpc')} kpc; intervals 68.27 %"
    )
    print(
        f"(a) candidates (merged boxes) >= {a['score_threshold']:g}: {a['n_candidates']} ({a['n_on_catalogued']} on a "
        f"catalogued cluster) = {det['per_deg2']:.1f} false per deg2 (the blank stage: {det['blank_stage']['n_false']} "
        f"boxes at > {det['blank_stage']['threshold']:g} %)"
    )
    lines = [("confirmed", a["confirmed"]), ("confirmed, percolated", a["confirmed_percolated"])]
    lines += [(f"confirmed, percolated, not catalogued, {z}", c) for z, c in a["false_confirmed"].items()]
    for name, c in lines:
        lo, hi = c["interval"]
        print(f"    {name:<48} {c['n']:>4}  {c['per_deg2']:7.1f} per deg2 [{lo:.1f}, {hi:.1f}] (Garwood)")
    print(
        f'(b) confirmation pass rate (Wilson)    box {b["box_arcsec"]:.0f}" ({b["box_from"]}), seed {b["seed"]}, '
        f"{b['n_redrawn_near_catalogued']} redrawn near a catalogued cluster"
        + ("" if blank["z_est_measured"] else "; no calibration: no z range applied")
    )
    zs = list(Z_RANGES)
    print(
        f"    {'':<26}{'n':>5}" + "".join(f"  {'pass, z_est ' + z if z != 'all z' else 'pass, any z':>32}" for z in zs)
    )
    for name, key in (("random positions", "random"), ("blank-sky detections", "detections")):
        rows = b[key]
        cells = "".join(f"  {rows[z]['passing']:>4} {_ci(rows[z]):>27}" for z in zs)
        print(f"    {name:<26}{rows[zs[0]]['n']:>5}{cells}")
    print(
        f"(c) projected real-sky purity at redMaPPer's density (lambda >= {proj['richness_min']:g}, RA "
        f"{proj['region'][0]:g}-{proj['region'][1]:g}, Dec {proj['region'][2]:g}-{proj['region'][3]:g}); "
        f"Monte Carlo {proj['draws']} draws, seed {proj['seed']}"
    )
    print(
        f"    {'z':<11}{'redMaPPer/deg2':>15}{'compl.':>8}{'true/deg2':>10}  {'false from':<22}"
        f"{'false/deg2 [68 %]':>24}  {'purity [68 %]':>25}"
    )
    for z, row in proj["by_z"].items():
        rm, comp = row["redmapper"], row["completeness"]
        for k, (name, p) in enumerate(row["purity"].items()):
            head = f"{z:<11}{rm['per_deg2']:>15.3f}{comp['point']:>8.3f}" if k == 0 else " " * 34
            if p["purity"] is None:
                print(f"    {head}{'':>10}  {name:<22}{'n/a':>24}  {'n/a':>25}")
                continue
            lo, hi = p["false_interval"]
            false = f"{p['false_per_deg2']:.3f} [{lo:.3f}, {hi:.3f}]"
            purity = f"{p['purity']:.3f} [{p['ci_lo']:.3f}, {p['ci_hi']:.3f}]"
            print(f"    {head}{p['true_per_deg2']:>10.3f}  {name:<22}{false:>24}  {purity:>25}")
    comp = []
    for z, row in proj["by_z"].items():
        c = row["completeness"]
        counts = f" = {c['value']['k']}/{c['value']['n']}" if isinstance(c["value"], dict) else ""
        comp.append(f"{z} {c['point']:.3f}{counts} ({c['source']})")
    print(f"    completeness of the confirmed selection: {'; '.join(comp)}")
    print(
        "    whole-catalogue redMaPPer density over ~10,000 deg2: "
        + ", ".join(f"{z} {r['redmapper']['whole_catalogue_per_deg2']:.3f}" for z, r in proj["by_z"].items())
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="config.yaml")
    ap.add_argument("--configfile", nargs="*", default=[], help="configs merged over --config")
    ap.add_argument("--results", default=None, help="the run's results folder (default: the config's results_dir)")
    ap.add_argument("--json", default=None, help="write the result here")
    ap.add_argument("--positions", type=int, default=400, help="random boxes on the blank test fields (b)")
    ap.add_argument("--seed", type=int, default=None, help="seed of the positions and the Monte Carlo (config seed)")
    ap.add_argument("--box-arcsec", type=float, default=None, help="random boxes' side (median candidate box)")
    ap.add_argument("--completeness", type=float, default=None, help="confirmed completeness (search summary, 0.9)")
    ap.add_argument(
        "--redmapper-region",
        type=float,
        nargs=4,
        default=(150.0, 220.0, 10.0, 50.0),
        metavar=("RA0", "RA1", "DEC0", "DEC1"),
        help="where redMaPPer's density is counted",
    )
    ap.add_argument("--draws", type=int, default=100_000, help="Monte Carlo draws of the purity interval")
    args = ap.parse_args(argv)
    try:
        out = run(args)
    except (DeepCeeError, OSError) as err:
        raise SystemExit(f"bench.confirmation: {err}") from None
    if args.json:
        Path(args.json).write_text(json.dumps(_jsonable(out), indent=2, allow_nan=False) + "\n")


def _jsonable(obj):
    """``obj`` with numpy scalars as Python ones and NaN or inf as null (strict JSON)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return _plain(obj)


def _check_args(args) -> None:
    """Bad arguments are one line, before anything is read."""
    ra0, ra1, d0, d1 = args.redmapper_region
    bad = [
        (args.positions < 1, f"--positions must be at least 1 (got {args.positions})"),
        (args.draws < 100, f"--draws must be at least 100 (got {args.draws})"),
        (args.box_arcsec is not None and not args.box_arcsec > 0, f"--box-arcsec must be positive ({args.box_arcsec})"),
        (
            args.completeness is not None and not 0 < args.completeness <= 1,
            f"--completeness must be in (0, 1] (got {args.completeness})",
        ),
        (
            not (ra0 < ra1 and -90 <= d0 < d1 <= 90),
            f"--redmapper-region: want RA0 < RA1, DEC0 < DEC1 ({args.redmapper_region})",
        ),
    ]
    for is_bad, message in bad:
        if is_bad:
            raise DeepCeeError(message)


def run(args) -> dict:
    """Everything the bench prints, as its JSON."""
    import time

    from deepcee.catalogue.select import read_redmapper_bundled
    from deepcee.core.config import read_config_files, with_defaults

    _check_args(args)
    t0 = time.perf_counter()
    config = read_config_files([args.config, *args.configfile])
    results = Path(args.results or config.get("results_dir", "results"))
    if not results.is_dir():
        raise DeepCeeError(f"{results}: results folder not found")
    scfg = with_defaults("search", config.get("search", {}))
    cut = scfg["confirm"]["min_red_excess"]
    if cut is None:
        raise DeepCeeError("search.confirm.min_red_excess is null: no confirmation to measure")
    rcfg = with_defaults("redshift", config.get("redshift", {}))
    real_summary = results / "04_evaluate" / "real_sky" / "summary.json"
    for need in (real_summary, results / "08_redshift" / "detections_test.ecsv"):
        if not need.is_file():
            raise DeepCeeError(f"{need}: not found (has the workflow finished in {results}?)")
    summary = json.loads(real_summary.read_text())
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
            f"({_ci(c)}); elsewhere {e['passing']} of {e['n']}"
        )
    seed = int(config.get("seed", 0) if args.seed is None else args.seed)
    blank = blank_sky_selection(results, config, args.positions, seed, args.box_arcsec)
    rm = read_redmapper_bundled(config["catalogue"]["bundled"]["redmapper"])
    lam_min = float(scfg.get("natural", {}).get("cluster_richness_min", 20))
    proj = projection(
        blank, completeness_inputs(results, args.completeness), rm, args.redmapper_region, lam_min, seed, args.draws
    )
    print_blank(blank, proj)
    out |= {"blank_sky": blank, "projection": proj, "seconds": time.perf_counter() - t0}
    print(f"({out['seconds']:.0f} s)")
    return out


if __name__ == "__main__":
    main()
