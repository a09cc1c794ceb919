"""False detections on blank real sky: the trained model over the real TEST fields with nothing
injected (the blank-sky false-detection test; beyond the paper).

Each test field's footprint (``images.mock.real_fields``: ~510 x 368 px at 1.584") is covered by
square tiles of the real-sky views' side (350 px), one at each end of the field and as many
between as it takes; a box counts only in the tile that owns its centre (each tile owns the
columns nearer its own centre than any other tile's), so no part of the sky is counted twice.
The tiles are stretched and predicted exactly like the real-sky test views (same PNG scale, same
fixed network scale). Every box above the real-sky operating threshold is cross-matched to the
bundled real catalogues (redMaPPer, Abell/ACO, MCXC): a box on a catalogued cluster is not a false
detection. The rate is boxes per square degree with a Poisson (Garwood) interval.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from astropy.table import Table

from deepcee.core.contracts import rows_table, write_summary_checked, write_table
from deepcee.core.errors import DeepCeeError
from deepcee.evaluate.metrics import passes
from deepcee.images.fits import BANDS, write_view_fits
from deepcee.images.labels import png_to_fits
from deepcee.images.mock.real_fields import field_files, read_field
from deepcee.images.stretch import png_side, stretch_fits


def tile_origins(width: int, side: int) -> list[int]:
    """Left edges of the fewest ``side``-wide tiles that cover ``width`` columns, evenly spread."""
    if side > width:
        raise DeepCeeError(f"blank sky: a {side} px tile is wider than the {width} px field")
    n = max(1, math.ceil(width / side))
    if n == 1:
        return [0]
    return [int(round(k * (width - side) / (n - 1))) for k in range(n)]


def owned_columns(origins: list[int], side: int, width: int) -> list[tuple[float, float]]:
    """Each tile's owned columns [lo, hi) of the field: split half-way between tile centres."""
    centres = [o + side / 2.0 for o in origins]
    edges = [0.0] + [(a + b) / 2.0 for a, b in zip(centres, centres[1:])] + [float(width)]
    return list(zip(edges[:-1], edges[1:]))


def shifted_wcs(wcs, x0: int, y0: int):
    """The WCS of a crop whose pixel (0, 0) is the parent's (x0, y0)."""
    out = wcs.deepcopy()
    out.wcs.crpix = [wcs.wcs.crpix[0] - x0, wcs.wcs.crpix[1] - y0]
    return out


def write_tiles(fields_manifest, side: int, out_dir, limits: dict, output_size: int, pixels: int) -> list[dict]:
    """Every test field's tiles as FITS + PNG under ``out_dir``; one record each."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tiles = []
    for name, path in sorted(field_files(fields_manifest).items()):
        field = read_field(path)
        _, ny, nx = field.image.shape
        if side > ny:
            raise DeepCeeError(f"{path}: a {side} px tile is taller than the {ny} px field")
        y0 = (ny - side) // 2
        origins = tile_origins(nx, side)
        for k, (x0, own) in enumerate(zip(origins, owned_columns(origins, side, nx))):
            stem = out_dir / f"{name}_t{k}"
            crop = field.image[:, y0 : y0 + side, x0 : x0 + side]
            write_view_fits(
                f"{stem}.fits",
                {b: crop[j] for j, b in enumerate(BANDS)},
                shifted_wcs(field.wcs, x0, y0),
                meta={"SOURCE": "sdss", "FIELD": name[:68], "TILE": k},
            )
            stretch_fits(f"{stem}.fits", f"{stem}.png", limits, output_size, pixels)
            tiles.append(
                {
                    "field": name,
                    "tile": k,
                    "x0": int(x0),
                    "y0": int(y0),
                    "own": own,
                    "fits": f"{stem}.fits",
                    "png": f"{stem}.png",
                    "png_side": png_side(side, output_size, pixels),
                    "area_deg2": (own[1] - own[0]) * side * _pixel_deg2(field.wcs),
                }
            )
    return tiles


def _pixel_deg2(wcs) -> float:
    return float(abs(np.linalg.det(wcs.pixel_scale_matrix)))


def owned_boxes(predictions: Table, tiles: list[dict], side: int) -> Table:
    """The boxes whose centre lies in the columns their tile owns, with field, tile and box size."""
    by_view = {Path(t["png"]).stem: t for t in tiles}
    keep, field, tile, box = [], [], [], []
    for i, row in enumerate(predictions):
        t = by_view[str(row["view"])]
        xf, _ = png_to_fits(float(row["x"]), float(row["y"]), (side, side), t["png_side"])
        x_field = float(xf) + t["x0"]
        if t["own"][0] <= x_field + 0.5 < t["own"][1]:
            keep.append(i)
            field.append(t["field"])
            tile.append(t["tile"])
            scale = side / t["png_side"] * math.sqrt(_pixel_area_arcsec2(t))
            box.append(0.5 * ((row["x1"] - row["x0"]) + (row["y1"] - row["y0"])) * scale)
    out = predictions[keep]
    out["field"] = np.asarray(field, dtype="U64")
    out["tile"] = np.asarray(tile, dtype=int)
    out["box_arcsec"] = np.asarray(box, dtype=float)
    return out


def _pixel_area_arcsec2(tile: dict) -> float:
    from deepcee.images.fits import pixel_area_arcsec2, reference_wcs

    return pixel_area_arcsec2(reference_wcs(tile["fits"])[0])


def poisson_interval(n: int, level: float = 0.95) -> tuple[float, float]:
    """Garwood's exact central interval for a Poisson count ``n``."""
    from scipy.stats import chi2

    a = 1.0 - level
    lo = 0.0 if n == 0 else 0.5 * chi2.ppf(a / 2, 2 * n)
    hi = 0.5 * chi2.ppf(1 - a / 2, 2 * (n + 1))
    return float(lo), float(hi)


def blank_sky(
    predictions: Table,
    tiles: list[dict],
    side: int,
    threshold: float,
    catalogues: dict,
    match_radius_arcmin: float,
    score_rule: str = "greater",
    thresholds=(),
    level: float = 0.95,
) -> tuple[Table, dict]:
    """(kept boxes with their catalogue match, summary) for the operating ``threshold`` (per cent)."""
    from deepcee.search.merge import cross_match

    boxes = owned_boxes(predictions, tiles, side)
    boxes = cross_match(boxes, catalogues, match_radius_arcmin)
    ids = np.full(len(boxes), "", dtype="U32")
    for name in catalogues:
        col = np.asarray(boxes[f"{name}_id"], dtype=str)
        ids = np.where((ids == "") & (col != ""), col, ids)
    boxes["catalogue_id"] = ids
    area = float(sum(t["area_deg2"] for t in tiles))
    fields = sorted({t["field"] for t in tiles})

    def count(t, rows=boxes):
        above = passes(np.asarray(rows["score"], float), t, score_rule)
        return int(above.sum()), int((above & ~np.asarray(rows["known"], bool)).sum())

    n_boxes, n_false = count(threshold)
    lo, hi = poisson_interval(n_false, level)
    per_field = []
    for f in fields:
        rows = boxes[np.asarray(boxes["field"]) == f]
        a = float(sum(t["area_deg2"] for t in tiles if t["field"] == f))
        nb, nf = count(threshold, rows)
        per_field.append({"field": f, "area_deg2": a, "n_boxes": nb, "n_false": nf, "false_per_deg2": nf / a})
    curve = []
    for t in thresholds:
        nb, nf = count(float(t))
        c_lo, c_hi = poisson_interval(nf, level)
        curve.append(
            {"threshold": float(t), "n_false": nf, "false_per_deg2": nf / area, "interval": [c_lo / area, c_hi / area]}
        )
    summary = {
        "threshold": float(threshold),
        "score_rule": score_rule,
        "area_deg2": area,
        "n_tiles": len(tiles),
        "n_boxes": n_boxes,
        "n_false": n_false,
        "n_known": n_boxes - n_false,
        "false_per_deg2": n_false / area,
        "false_per_deg2_interval": [lo / area, hi / area],
        "level": level,
        "match_radius_arcmin": float(match_radius_arcmin),
        "fields": per_field,
        "by_threshold": curve,
    }
    return boxes, summary


def run_blank_sky(
    model_path,
    fields_manifest,
    real_sky_summary,
    out_dir,
    out_detections,
    out_summary,
    config: dict,
    mcxc_path,
    threads: int | None = None,
    log=print,
) -> dict:
    """The rule's whole job: tiles, predictions, ownership, cross-match, summary (``config``: the
    workflow config, of which images, train.predict, evaluate and catalogue are read)."""
    import json

    import torch

    from deepcee.core.config import with_defaults
    from deepcee.detector.inference import load_model, predict_images
    from deepcee.detector.training import resolve_device
    from deepcee.search.merge import load_catalogues

    images = config["images"]
    side = int(images["mock"]["real_view_pixels"])
    tiles = write_tiles(
        fields_manifest,
        side,
        out_dir,
        images["stretch"]["limits"],
        int(images["stretch"]["output_size"]),
        int(images["pixels"]),
    )
    predict = with_defaults("train", {"predict": config["train"].get("predict", {})})["predict"]
    if threads:
        torch.set_num_threads(int(threads))
    device = resolve_device(str(predict["device"]))
    model, _ = load_model(model_path, device)
    table = predict_images(
        model,
        [t["png"] for t in tiles],
        [t["fits"] for t in tiles],
        batch_size=int(predict["batch_size"]),
        device=device,
        precision=predict["precision"],
        progress=False,
    )
    real = json.loads(Path(real_sky_summary).read_text())
    evaluate = config["evaluate"]
    boxes, summary = blank_sky(
        table,
        tiles,
        side,
        float(real["chosen_threshold"]),
        load_catalogues(config, mcxc_path),
        float(config["catalogue"]["match_radius_arcmin"]),
        evaluate["score_rule"],
        evaluate["thresholds"],
        float(evaluate["bootstrap"]["level"]),
    )
    keep = boxes[np.asarray(boxes["score"], float) >= float(config["search"]["score_min"])]
    out = rows_table(
        "blank_detections",
        [
            (
                r["field"],
                int(r["tile"]),
                r["x"],
                r["y"],
                r["score"],
                r["ra"],
                r["dec"],
                r["box_arcsec"],
                bool(r["known"]),
                r["catalogue_id"],
            )
            for r in keep
        ],
    )
    out.meta.update({"threshold_percent": summary["threshold"], "area_deg2": summary["area_deg2"]})
    write_table("blank_detections", out, out_detections)
    write_summary_checked("blank_sky_summary", out_summary, summary)
    lo, hi = summary["false_per_deg2_interval"]
    log(
        f"blank real sky: {summary['area_deg2']:.4f} deg2 over {len(summary['fields'])} fields, "
        f"{summary['n_tiles']} tiles; "
        f"{summary['n_false']} false detections above {summary['threshold']:g}% = {summary['false_per_deg2']:.1f} "
        f"per deg2 [{lo:.1f}, {hi:.1f}]"
    )
    return summary
