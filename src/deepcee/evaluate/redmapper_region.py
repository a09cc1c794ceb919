"""The redMaPPer comparison set (paper §3.2): a contiguous sky region of redMaPPer clusters
at 0.1 < z < 0.2 that are not in the training or test sets.

The region is an RA/Dec box (``evaluate.redmapper.region``; RA may wrap through 0 when
``ra_min > ra_max``). Inside it, clusters within ``match_radius_arcmin`` of ANY cluster of
the sample (every training or test cluster) — or of any labelled training/test image
centre, when labels are given — are excluded and counted.
"""

from __future__ import annotations

import math

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table

from deepcee.core.errors import DeepCeeError
from deepcee.core.skybox import box_area_deg2, in_box


def _floats(column) -> np.ndarray:
    return np.ma.filled(np.ma.asarray(column).astype(float), np.nan)


def check_region(region: dict, key: str = "evaluate.redmapper.region") -> dict:
    for name in ("ra_min", "ra_max", "dec_min", "dec_max"):
        if name not in region:
            raise DeepCeeError(f"{key}: missing '{name}'")
    if not -90 <= region["dec_min"] < region["dec_max"] <= 90:
        raise DeepCeeError(f"{key}: need -90 <= dec_min < dec_max <= 90 (got {region['dec_min']}, {region['dec_max']})")
    if region["ra_min"] % 360.0 == region["ra_max"] % 360.0:
        raise DeepCeeError(f"{key}: ra_min and ra_max are the same meridian")
    return region


def select_region(
    redmapper: Table,
    sample: Table,
    region: dict,
    z_min: float = 0.1,
    z_max: float = 0.2,
    match_radius_arcmin: float = 3.0,
    labels: Table | None = None,
    what: str = "redmapper.ecsv",
) -> tuple[Table, dict]:
    """The comparison clusters and a summary of how they were chosen.

    Returns the selected rows of ``redmapper`` (same schema; ``nearest_sample_arcmin``
    added) and a dict of counts: in the box, in the redshift range, excluded as
    training/test clusters, kept; plus the box and its area.
    """
    check_region(region)
    for name in ("id", "ra", "dec", "z"):
        if name not in redmapper.colnames:
            raise DeepCeeError(f"{what}: missing column '{name}'")
    ra, dec, z = _floats(redmapper["ra"]), _floats(redmapper["dec"]), _floats(redmapper["z"])
    box = in_box(ra, dec, region["ra_min"], region["ra_max"], region["dec_min"], region["dec_max"])
    with np.errstate(invalid="ignore"):
        zcut = (z > z_min) & (z < z_max)
    cand = box & zcut

    # every training / test cluster: the sample, plus labelled image clusters if given
    ref_ra, ref_dec = [_floats(sample["ra"])], [_floats(sample["dec"])]
    if labels is not None and len(labels):
        ref_ra.append(_floats(labels["ra"]))
        ref_dec.append(_floats(labels["dec"]))
    ref_ra, ref_dec = np.concatenate(ref_ra), np.concatenate(ref_dec)
    nearest = np.full(len(redmapper), np.inf)
    if len(ref_ra) and cand.any():
        c = SkyCoord(ra[cand] * u.deg, dec[cand] * u.deg)
        ref = SkyCoord(ref_ra * u.deg, ref_dec * u.deg)
        _, sep, _ = c.match_to_catalog_sky(ref)
        nearest[cand] = sep.to_value(u.arcmin)
    overlap = cand & (nearest <= match_radius_arcmin)
    keep = cand & ~overlap
    out = redmapper[keep]
    out["nearest_sample_arcmin"] = nearest[keep]
    out["nearest_sample_arcmin"].unit = u.arcmin
    out.meta.update(
        {
            "description": "redMaPPer comparison region (paper §3.2)",
            "region": dict(region),
            "z_min": z_min,
            "z_max": z_max,
            "match_radius_arcmin": match_radius_arcmin,
        }
    )
    summary = {
        "region": dict(region),
        "area_deg2": box_area_deg2(region["ra_min"], region["ra_max"], region["dec_min"], region["dec_max"]),
        "z_min": z_min,
        "z_max": z_max,
        "match_radius_arcmin": match_radius_arcmin,
        "n_catalogue": int(len(redmapper)),
        "n_in_box": int(box.sum()),
        "n_in_box_and_z": int(cand.sum()),
        "n_excluded_train_or_test": int(overlap.sum()),
        "excluded_ids": [str(i) for i in redmapper["id"][overlap]],
        "n_selected": int(keep.sum()),
        "n_sample_clusters_in_box": int(
            in_box(
                _floats(sample["ra"]),
                _floats(sample["dec"]),
                region["ra_min"],
                region["ra_max"],
                region["dec_min"],
                region["dec_max"],
            ).sum()
        ),
    }
    if summary["n_selected"] == 0:
        raise DeepCeeError(
            f"evaluate.redmapper.region: no redMaPPer clusters at {z_min}<z<{z_max} left in the box "
            f"{region} after excluding training/test clusters ({summary['n_in_box_and_z']} before); move or widen it"
        )
    return out, summary


def scan_regions(
    redmapper: Table,
    sample: Table,
    area_deg2: float = 105.0,
    dec_height: float = 10.0,
    ra_step: float = 2.5,
    dec_step: float = 2.5,
    dec_range=(0.0, 60.0),
    ra_range=(100.0, 270.0),
    **kwargs,
) -> Table:
    """Count the kept clusters in every box of ``area_deg2`` on a grid (to choose a region)."""
    rows = []
    for dec0 in np.arange(dec_range[0], dec_range[1] - dec_height + 1e-9, dec_step):
        d1, d2 = float(dec0), float(dec0 + dec_height)
        width = area_deg2 / math.degrees(math.sin(math.radians(d2)) - math.sin(math.radians(d1)))
        for ra0 in np.arange(ra_range[0], ra_range[1] - width + 1e-9, ra_step):
            region = {"ra_min": float(ra0), "ra_max": float(ra0 + width), "dec_min": d1, "dec_max": d2}
            try:
                _, s = select_region(redmapper, sample, region, **kwargs)
                n = s["n_selected"]
                ex = s["n_excluded_train_or_test"]
            except DeepCeeError:
                n, ex = 0, 0
            rows.append((region["ra_min"], region["ra_max"], d1, d2, n, ex))
    return Table(rows=rows, names=("ra_min", "ra_max", "dec_min", "dec_max", "n_selected", "n_excluded"))


def as_test_set(labels: Table) -> Table:
    """Every un-flipped image of a labels table as a test image (the comparison set is never trained on)."""
    if "split" not in labels.colnames:
        raise DeepCeeError("labels: missing column 'split'")
    keep = ~np.asarray(labels["flipped"], dtype=bool) if "flipped" in labels.colnames else np.ones(len(labels), bool)
    out = labels[keep].copy()
    out.replace_column("split", np.full(len(out), "test"))
    out.meta["split_by"] = "all test (redMaPPer comparison set)"
    return out
