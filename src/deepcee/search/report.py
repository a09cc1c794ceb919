"""The search_catalogue rule: shards -> candidates.ecsv, summary.json, figures and tables."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from astropy.table import Table

from deepcee.core.config import with_defaults
from deepcee.core.contracts import read_table, write_summary, write_table
from deepcee.core.files import atomic_path
from deepcee.redshift.stage import read_calibration
from deepcee.search import confirm, measure, natural
from deepcee.search.candidate_redshifts import estimate_candidates, redshift_summary
from deepcee.search.inject import empty_injections, recovery
from deepcee.search.merge import cross_match, load_catalogues, merge_detections, read_shards
from deepcee.search.stage import _sky_config, read_injections, truth_around_tiles


def build_catalogue(
    config: dict,
    tiles_path,
    shard_paths,
    stats_paths,
    mcxc_path,
    out: dict,
    log=print,
    calibration_path=None,
    injected_path=None,
) -> dict:
    """Merge, cross-match and measure; ``out`` names candidates, summary, the figures and tables.

    ``calibration_path``: the redshift stage's calibration.json, which gives the candidates at or
    above ``search.score_threshold`` a redshift and a richness (None: they are flagged instead).
    """
    scfg = with_defaults("search", config["search"])  # complete in the workflow already
    rcfg = with_defaults("redshift", config["redshift"])
    t0 = time.perf_counter()
    tiles = read_table("tiles", tiles_path)
    det = read_shards(shard_paths)
    cands = merge_detections(det, float(scfg["merge_radius_arcsec"]))
    t_merge = time.perf_counter() - t0
    cats = load_catalogues(config, mcxc_path)
    radius = float(scfg["match_radius_arcmin"])
    real_data = scfg["source"] != "mock"
    sky = None
    if not real_data:
        from deepcee.images.mock.sky import sky_from_config

        sky = sky_from_config(_sky_config(config))
    injected = read_injections(injected_path) if injected_path is not None else empty_injections()
    if sky is not None and len(injected):
        sky.add_clusters(injected, kind="injected")  # as the shards drew them
    calibration = None if calibration_path is None else read_calibration(calibration_path)
    # centres (BCG or box) and z, λ first: the cross-matches then use the cluster's position
    centre_cfg = config["train"]["predict"]["centre"]
    measured = estimate_candidates(
        cands, calibration, rcfg, scfg, config["images"], sky=sky, log=log, centre=centre_cfg
    )
    cands = cross_match(cands, cats, radius)
    thr = float(scfg["score_threshold"])
    min_red_excess = scfg["confirm"]["min_red_excess"]
    cands["confirmed"], cands["parent"] = confirm.select(cands, thr, scfg["confirm"])
    cands.meta.update(
        {
            "source": scfg["source"],
            "tiles_per_deg2": float(tiles.meta.get("tiles_per_deg2") or 0.0),
            "score_min": float(scfg["score_min"]),
            "description": "Deep-CEE blind search candidates: one per cluster after tile ownership "
            "and a sky merge (src/deepcee/search/merge.py)",
        }
    )
    write_table("candidates", cands, out["candidates"])

    # every measure against truth matches within the natural radius (1'); ``radius`` is the catalogue cross-match's
    ncfg = scfg["natural"]
    truth_radius = float(ncfg["radius_arcmin"])
    in_area = measure.clusters_in_area(cats["redmapper"], tiles)
    by_rich = measure.completeness(in_area, cands, thr, truth_radius, "richness", measure.RICHNESS_BINS)
    by_z = measure.completeness(in_area, cands, thr, truth_radius, "z", measure.Z_BINS)
    overall = measure.completeness(in_area, cands, thr, truth_radius, "richness", [0, 1e9])
    if real_data:
        truth = Table(
            {
                "ra": np.asarray(cands["ra"], float)[np.asarray(cands["known"], bool)],
                "dec": np.asarray(cands["dec"], float)[np.asarray(cands["known"], bool)],
            }
        )
    else:
        truth = truth_around_tiles(sky, tiles)
    area = float(tiles.meta.get("area_deg2", np.nan))
    truth_in_area = measure.in_area(truth, tiles)
    purity = measure.purity_curve(cands, truth, truth_radius, scfg["purity_thresholds"])
    purity = natural.add_purity_columns(purity, cands, truth, injected, ncfg, area, truth_in_area)
    at_thr = measure.purity_curve(cands, truth, truth_radius, [thr])[0]

    for name, table in (("completeness_richness", by_rich), ("completeness_z", by_z), ("purity", purity)):
        with atomic_path(out[name]) as tmp:
            table.write(tmp, format="ascii.csv", overwrite=True)
    measure.plot_completeness(by_rich, by_z, out["fig_completeness"])
    measure.plot_purity(purity, out["fig_purity"], real_data)
    measure.plot_skymap(tiles, cands, in_area, thr, out["fig_skymap"])
    measure.new_candidates_table(cands, out["new_csv"], out["new_tex"], int(scfg["table_rows"]), thr)
    injection = None
    if "injection_completeness" in out:
        if not len(injected):  # none planted (real imaging, or search.inject.n: 0): the grid, all empty
            from deepcee.search.inject import grid_edges

            z_edges, lam_edges = grid_edges(scfg["inject"])
            injected.meta.update({"z_edges": z_edges.tolist(), "richness_edges": lam_edges.tolist()})
        cells, injection = recovery(injected, cands, thr, truth_radius, scfg["inject"]["headline"])
        # an injected.ecsv without these keys predates the abundance draw: it was drawn on the grid, isolated
        injection["richness_draw"] = str(injected.meta.get("richness_draw", "grid")) if len(injected) else None
        injection["isolated"] = bool(injected.meta.get("isolated", True)) if len(injected) else None
        with atomic_path(out["injection_completeness"]) as tmp:
            cells.write(tmp, format="ascii.csv", overwrite=True)
        measure.plot_injection(cells, out["fig_injection"])

    confirmation = _confirmation(cands, truth, injected, in_area, thr, truth_radius, scfg, out, area, truth_in_area)
    sky_clusters = natural.split_truth(truth[truth_in_area], float(ncfg["cluster_richness_min"]))[0]
    strong_sel = np.asarray(cands["score"], float) >= thr if len(cands) else np.zeros(0, bool)
    confirmed_sel = np.asarray(cands["confirmed"], bool) if len(cands) else np.zeros(0, bool)
    natural_block = {
        "detector": natural.purity(cands[strong_sel], truth, injected, ncfg, area, truth_in_area),
        "confirmed": natural.purity(cands[confirmed_sel], truth, injected, ncfg, area, truth_in_area),
        "completeness": {
            "detector": natural.completeness(sky_clusters, cands[strong_sel], ncfg, ncfg["completeness_bands"]),
            "confirmed": natural.completeness(sky_clusters, cands[confirmed_sel], ncfg, ncfg["completeness_bands"]),
        },
        "real_data": real_data,
    }

    stats = [json.loads(Path(p).read_text()) for p in stats_paths]
    timings = {
        k: float(sum(s.get(k, 0.0) or 0.0 for s in stats)) for k in ("acquire_s", "stretch_s", "infer_s", "wall_s")
    }
    timings["merge_s"] = t_merge
    timings["redshift_s"] = float(measured["seconds"])
    timings["tiles_per_s"] = len(tiles) / timings["wall_s"] if timings["wall_s"] > 0 else None
    strong = np.asarray(cands["score"], float) >= thr
    known = np.asarray(cands["known"], bool)
    on_injected = measure.on_objects(cands, injected, radius)
    o = overall[0]
    summary = {
        "source": scfg["source"],
        "area_deg2": float(tiles.meta.get("area_deg2", np.nan)),
        "n_tiles": len(tiles),
        "tiles_per_deg2": float(tiles.meta.get("tiles_per_deg2") or 0.0),
        "shards": int(scfg["shards"]),
        "score_threshold": thr,
        "merge_radius_arcsec": float(scfg["merge_radius_arcsec"]),
        "match_radius_arcmin": radius,
        "truth_match_radius_arcmin": truth_radius,
        "sky_seed": int(config["seed"] if scfg.get("sky_seed") is None else scfg["sky_seed"]),
        "n_detections": len(det),
        "n_owned": int(np.sum(det["owned"])) if len(det) else 0,
        "n_candidates": len(cands),
        "n_candidates_above_threshold": int(strong.sum()),
        "n_known": int((strong & known).sum()),
        # a found injected cluster is matched by no catalogue, but it is not a new cluster
        "n_new": int((strong & ~known & ~on_injected).sum()),
        "n_injected_found": int((strong & ~known & on_injected).sum()),
        "completeness": {
            "n_clusters": int(o["n_clusters"]),
            "n_found": int(o["n_found"]),
            "fraction": None if o["n_clusters"] == 0 else float(o["completeness"]),
            "ci_lo": None if o["n_clusters"] == 0 else float(o["ci_lo"]),
            "ci_hi": None if o["n_clusters"] == 0 else float(o["ci_hi"]),
            "interval": "wilson 68.27%",
        },
        "purity": {
            "threshold": thr,
            "n_candidates": int(at_thr["n_candidates"]),
            "n_real": int(at_thr["n_real"]),
            "n_group": int(at_thr["n_group"]),
            "n_false": int(at_thr["n_false"]),
            "purity": None if at_thr["n_candidates"] == at_thr["n_group"] else float(at_thr["purity"]),
            "ci_lo": None if at_thr["n_candidates"] == at_thr["n_group"] else float(at_thr["ci_lo"]),
            "ci_hi": None if at_thr["n_candidates"] == at_thr["n_group"] else float(at_thr["ci_hi"]),
            "purity_all": None if at_thr["n_candidates"] == 0 else float(at_thr["purity_all"]),
            "interval": "wilson 68.27%",
            "truth": "catalogue-matched (lower bound)"
            if real_data
            else "aside, at the injected density: mock sky clusters (catalogued and injected); uncatalogued "
            "groups counted apart (the headline is natural.detector)",
            "clusters_per_deg2": len(truth[truth_in_area & (np.asarray(truth["kind"], str) != "group")]) / area
            if "kind" in truth.colnames and area
            else None,
            "n_truth_objects": len(truth),
            "groups": None
            if real_data
            else measure.group_detections(cands, truth, radius, thr, measure.in_area(truth, tiles)),
        },
        "injection": injection,
        "confirmation": confirmation,
        "natural": natural_block,
        "timings": timings,
        "redshift": redshift_summary(cands, calibration_path, rcfg, scfg, measured),
    }
    write_summary(
        out["summary"],
        {k: summary[k] for k in ("n_tiles", "n_candidates", "n_known", "n_new")},
        config=config["search"],
        contract="search_summary",
        **summary,
    )
    c = summary["completeness"]
    p, q = summary["purity"], confirmation["purity"]
    for name, block in (("detector", natural_block["detector"]), ("confirmed", natural_block["confirmed"])):
        log(f"search purity ({name}) {natural.describe(block)}")
    log(
        f"aside, at the injected density (score >= {thr:g}): {p['n_real']} true, {p['n_false']} false, "
        f"{p['n_group']} on groups; confirmed (red excess >= {min_red_excess}): {q['n_real']} true, "
        f"{q['n_false']} false, {q['n_group']} on groups"
    )
    log(
        f"search: {len(tiles)} tiles, {len(det)} boxes, {len(cands)} candidates ({int(strong.sum())} >= {thr}: "
        f"{summary['n_known']} known, {summary['n_new']} new); redMaPPer {c['n_found']}/{c['n_clusters']}"
    )
    return summary


def _confirmation(
    cands, truth, injected, in_area, thr: float, radius: float, scfg: dict, out: dict, area: float, truth_in_area
) -> dict:
    """The confirmed candidates (``search/confirm.py``) measured as the detector's are: purity,
    redMaPPer and injected completeness; the sweep over ``min_red_excess`` and its figure."""
    selected = np.asarray(cands["confirmed"], bool) if len(cands) else np.zeros(0, bool)
    chosen = cands[selected]
    known = np.asarray(cands["known"], bool)
    on_injected = measure.on_objects(cands, injected, radius)
    rm = measure.completeness(in_area, chosen, thr, radius, "richness", [0, 1e9])[0]
    block = {
        "min_red_excess": scfg["confirm"]["min_red_excess"],
        "min_richness": scfg["confirm"].get("min_richness"),
        "percolation_kpc": scfg["confirm"]["percolation_kpc"],
        "n_percolated": int(np.sum(np.asarray(cands["parent"], str) != "")) if len(cands) else 0,
        "n_confirmed": int(selected.sum()),
        "n_known": int((selected & known).sum()),
        "n_new": int((selected & ~known & ~on_injected).sum()),
        "purity": confirm.purity_at(cands, truth, radius, selected),
        "completeness": {
            "n_clusters": int(rm["n_clusters"]),
            "n_found": int(rm["n_found"]),
            "fraction": None if rm["n_clusters"] == 0 else float(rm["completeness"]),
        },
        "injection": None,
    }
    headline = scfg["inject"]["headline"]
    if len(injected):
        _, rec = recovery(injected, chosen, thr, radius, headline)
        block["injection"] = {k: rec[k] for k in ("n_injected", "n_found", "completeness", "ci_lo", "ci_hi")}
        block["injection"]["headline"] = rec.get("headline")
        block["injection"]["headline_poor"] = rec.get("headline_poor")
    if "confirmation" in out:
        cut = block["min_red_excess"]
        values = sorted({*map(float, scfg["confirm"]["sweep"]), *([float(cut)] if cut is not None else [])})
        judge = natural.sweep_judge(truth, injected, scfg["natural"], area, truth_in_area)
        table = confirm.sweep(cands, truth, injected, thr, radius, values, headline, scfg["confirm"], judge)
        with atomic_path(out["confirmation"]) as tmp:
            table.write(tmp, format="ascii.csv", overwrite=True)
        measure.plot_confirmation(table, block["min_red_excess"], out["fig_confirmation"])
    return block
