"""Purity and completeness at the sky's own cluster density: the search's headline numbers.

Injected clusters are planted many times denser than the sky holds clusters (the survey profile:
about 17 per deg² against about 3 redMaPPer clusters per deg²), so a purity that counted them as
truth would be set by how densely they were planted, not by the search. The headline purity is
therefore measured against the sky's own truth alone, as a catalogue would be judged:

* **truth**: the sky's catalogued clusters with λ >= ``cluster_richness_min`` (20, the redMaPPer
  catalogue's own cut), any z. Uncatalogued groups (λ of a few) are *not* truth: a candidate on
  one is false, and the share of the candidates that sit on a group is reported beside.
* **injected clusters are left out of both sides**: a candidate within ``exclusion_kpc`` (1 Mpc,
  about R200, as far as an injected cluster's members reach) of an injected cluster (at its z)
  exists only because something was planted there, so it is neither true nor false; what
  remains is the sky a user would search. (On the survey sky most false candidates 2-4' from an
  injected cluster had its z_est: fragments of it, not of the sky.)
* **match**: within ``radius_arcmin`` (1') or, when ``radius_kpc`` is set and the candidate has a
  z_est, that proper distance at z_est if it is smaller; **one candidate per cluster**, highest
  score first: a second candidate on a matched cluster is false.
* **chance matches**: the same one-to-one match against the truth shifted by ``shift_arcmin`` in
  ``n_shifts`` directions counts the candidates a cluster takes by chance; that rate is stated
  beside every purity (a false candidate is "true" by chance that often).
* **density**: the sky's clusters per deg² in the searched area, named with every purity.

Completeness against the sky's own clusters (λ and z bands of ``bands``) uses the same match.
Intervals are the search's one 68.27 % Wilson interval (``measure.wilson68``).
"""

from __future__ import annotations

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table

from deepcee.core.cosmology import kpc_to_arcsec
from deepcee.search.measure import wilson68

#: The truth kinds of ``MockSky.truth_in`` that are the sky's own catalogued clusters.
SKY_CLUSTER_KINDS = ("redmapper", "abell", "catalogue", "cluster")


def _coords(t: Table) -> SkyCoord:
    return SkyCoord(np.asarray(t["ra"], float) * u.deg, np.asarray(t["dec"], float) * u.deg)


def split_truth(truth: Table, richness_min: float) -> tuple[Table, Table]:
    """(the sky's clusters: catalogued, λ >= ``richness_min``; the sky's groups: everything else
    that is not injected). A truth table without ``kind`` (real imaging) is all clusters."""
    if len(truth) == 0:
        return truth, truth
    kind = np.asarray(truth["kind"], str) if "kind" in truth.colnames else np.full(len(truth), "cluster")
    lam = np.asarray(truth["richness"], float) if "richness" in truth.colnames else np.full(len(truth), np.inf)
    sky = kind != "injected"
    is_cluster = sky & np.isin(kind, SKY_CLUSTER_KINDS) & (lam >= float(richness_min))
    return truth[is_cluster], truth[sky & ~is_cluster]


def match_radii_arcsec(cands: Table, radius_arcmin: float, radius_kpc: float | None) -> np.ndarray:
    """Each candidate's match radius: ``radius_arcmin``, or ``radius_kpc`` at its z_est when smaller."""
    radii = np.full(len(cands), 60.0 * float(radius_arcmin))
    if radius_kpc is not None and len(cands) and "z_est" in cands.colnames:
        z = np.asarray(cands["z_est"], float)
        ok = np.isfinite(z) & (z > 0)
        radii[ok] = np.minimum(radii[ok], kpc_to_arcsec(float(radius_kpc), z[ok]))
    return radii


def match_one_to_one(cands: Table, truth: Table, radii_arcsec: np.ndarray) -> np.ndarray:
    """The truth row each candidate is matched to (-1: none): highest score first, each candidate
    takes the nearest not yet taken truth object within its own radius."""
    out = np.full(len(cands), -1)
    if len(cands) == 0 or len(truth) == 0:
        return out
    idx_c, idx_t, sep, _ = _coords(truth).search_around_sky(_coords(cands), float(np.max(radii_arcsec)) * u.arcsec)
    sep = sep.to_value(u.arcsec)
    ok = sep <= radii_arcsec[idx_c]
    idx_c, idx_t, sep = idx_c[ok], idx_t[ok], sep[ok]
    taken = np.zeros(len(truth), bool)
    for i in np.argsort(-np.asarray(cands["score"], float), kind="stable"):
        rows = np.flatnonzero(idx_c == i)
        for r in rows[np.argsort(sep[rows], kind="stable")]:
            if not taken[idx_t[r]]:
                taken[idx_t[r]] = True
                out[i] = idx_t[r]
                break
    return out


def near_injected(cands: Table, injected: Table, exclusion_kpc: float) -> np.ndarray:
    """Which candidates lie within ``exclusion_kpc`` (at the injected cluster's z) of an injected cluster."""
    if len(cands) == 0 or len(injected) == 0:
        return np.zeros(len(cands), bool)
    reach = kpc_to_arcsec(float(exclusion_kpc), np.asarray(injected["z"], float))
    idx_c, idx_i, sep, _ = _coords(injected).search_around_sky(_coords(cands), float(reach.max()) * u.arcsec)
    hit = sep.to_value(u.arcsec) <= reach[idx_i]
    out = np.zeros(len(cands), bool)
    out[idx_c[hit]] = True
    return out


def shifted(truth: Table, shift_arcmin: float, angle_deg: float) -> Table:
    """The truth moved ``shift_arcmin`` along position angle ``angle_deg`` (chance-match control)."""
    moved = _coords(truth).directional_offset_by(angle_deg * u.deg, shift_arcmin * u.arcmin)
    out = truth.copy(copy_data=True)
    out["ra"], out["dec"] = moved.ra.deg, moved.dec.deg
    return out


def chance_match_rate(
    cands: Table, truth: Table, radii: np.ndarray, shift_arcmin: float, n_shifts: int
) -> float | None:
    """The fraction of ``cands`` that a one-to-one match takes against the truth shifted by
    ``shift_arcmin`` in ``n_shifts`` directions (mean over directions; None with no candidate)."""
    if len(cands) == 0 or n_shifts < 1:
        return None
    if len(truth) == 0:
        return 0.0
    angles = np.arange(n_shifts) * 360.0 / n_shifts
    return float(
        np.mean([np.mean(match_one_to_one(cands, shifted(truth, shift_arcmin, a), radii) >= 0) for a in angles])
    )


def _fraction(k: int, n: int) -> dict:
    lo, hi = wilson68(k, n)
    return {"value": k / n if n else None, "ci_lo": lo if n else None, "ci_hi": hi if n else None}


def purity(cands: Table, truth: Table, injected: Table, cfg: dict, area_deg2: float, truth_in_area=None) -> dict:
    """The purity of ``cands`` (the selection to judge) at the sky's own density (module docstring).

    ``cfg``: ``search.natural`` (cluster_richness_min, radius_arcmin, radius_kpc, exclusion_kpc,
    shift_arcmin, n_shifts); ``truth_in_area``: a mask over ``truth`` of the searched area, for
    the density (all of ``truth`` when None)."""
    in_area = np.ones(len(truth), bool) if truth_in_area is None else np.asarray(truth_in_area, bool)
    clusters, groups = split_truth(truth, float(cfg["cluster_richness_min"]))
    excluded = near_injected(cands, injected, float(cfg["exclusion_kpc"]))
    judged = cands[~excluded]
    radii = match_radii_arcsec(judged, float(cfg["radius_arcmin"]), cfg.get("radius_kpc"))
    matched = match_one_to_one(judged, clusters, radii)
    true = matched >= 0
    # a false candidate within its radius of a cluster is a second look; of a group, a group
    on_cluster = _within(judged, clusters, radii) & ~true
    on_group = _within(judged, groups, radii) & ~true & ~on_cluster
    n, k = len(judged), int(true.sum())
    n_clusters_area = int(np.sum(in_area & _is_in(truth, clusters)))
    chance = chance_match_rate(judged, clusters, radii, float(cfg["shift_arcmin"]), int(cfg["n_shifts"]))
    frac = _fraction(k, n)
    return {
        "n_candidates": int(len(cands)),
        "n_excluded_on_injected": int(excluded.sum()),
        "n_judged": n,
        "n_true": k,
        "n_false": n - k,
        "n_second_look": int(on_cluster.sum()),
        "n_on_group": int(on_group.sum()),
        "group_share": float(on_group.sum() / n) if n else None,
        "purity": frac["value"],
        "ci_lo": frac["ci_lo"],
        "ci_hi": frac["ci_hi"],
        "interval": "wilson 68.27%",
        "chance_match_rate": chance,
        "match_radius_arcmin": float(cfg["radius_arcmin"]),
        "match_radius_kpc": cfg.get("radius_kpc"),
        "cluster_richness_min": float(cfg["cluster_richness_min"]),
        "n_sky_clusters_in_area": n_clusters_area,
        "area_deg2": float(area_deg2),
        "sky_clusters_per_deg2": n_clusters_area / float(area_deg2) if area_deg2 else None,
        "truth": "the sky's own catalogued clusters (lambda >= "
        f"{float(cfg['cluster_richness_min']):g}, any z); candidates near injected clusters left out; "
        "groups and second looks false",
    }


def _within(cands: Table, objects: Table, radii: np.ndarray) -> np.ndarray:
    """Which candidates have any of ``objects`` within their own radius."""
    if len(cands) == 0 or len(objects) == 0:
        return np.zeros(len(cands), bool)
    _, d, _ = _coords(cands).match_to_catalog_sky(_coords(objects))
    return d.to_value(u.arcsec) <= radii


def _is_in(truth: Table, subset: Table) -> np.ndarray:
    """Which rows of ``truth`` are rows of ``subset`` (by id, or by position without ids)."""
    if len(subset) == 0:
        return np.zeros(len(truth), bool)
    if "id" in truth.colnames and "id" in subset.colnames:
        return np.isin(np.asarray(truth["id"], str), np.asarray(subset["id"], str))

    def key(t):
        return [f"{r:.6f} {d:.6f}" for r, d in zip(np.asarray(t["ra"], float), np.asarray(t["dec"], float))]

    return np.isin(key(truth), key(subset))


def completeness(clusters: Table, cands: Table, cfg: dict, bands) -> list[dict]:
    """Of the sky's own ``clusters`` (in the searched area), the fraction that a candidate of
    ``cands`` takes in the one-to-one match, per band ({name, z: [lo, hi], richness: [lo, hi]})."""
    radii = match_radii_arcsec(cands, float(cfg["radius_arcmin"]), cfg.get("radius_kpc"))
    matched = match_one_to_one(cands, clusters, radii)
    found = np.zeros(len(clusters), bool)
    found[matched[matched >= 0]] = True
    z = np.asarray(clusters["z"], float) if len(clusters) else np.zeros(0)
    lam = np.asarray(clusters["richness"], float) if len(clusters) else np.zeros(0)
    out = []
    for band in bands:
        z_lo, z_hi = map(float, band["z"])
        l_lo, l_hi = (float(v) if v is not None else np.inf for v in band["richness"])
        sel = (z > z_lo) & (z < z_hi) & (lam >= l_lo) & (lam < l_hi)
        n, k = int(sel.sum()), int(found[sel].sum())
        frac = _fraction(k, n)
        out.append(
            {
                "band": band["name"],
                "z": [z_lo, z_hi],
                "richness": [l_lo, None if np.isinf(l_hi) else l_hi],
                "n_clusters": n,
                "n_found": k,
                "completeness": frac["value"],
                "ci_lo": frac["ci_lo"],
                "ci_hi": frac["ci_hi"],
            }
        )
    return out


def describe(block: dict) -> str:
    """One line that names the population a purity was measured on (for logs and the README)."""
    if not block["n_judged"]:
        return f"at the sky's own density: no candidate judged ({block['n_excluded_on_injected']} near injected)"
    density = block["sky_clusters_per_deg2"]
    chance = block["chance_match_rate"]
    return (
        f"at the sky's own density ({density:.2f} clusters per deg2, lambda >= {block['cluster_richness_min']:g}): "
        f"{block['purity']:.3f} [{block['ci_lo']:.3f}, {block['ci_hi']:.3f}] = {block['n_true']}/{block['n_judged']} "
        f"within {block['match_radius_arcmin']:g}' one-to-one ({block['n_on_group']} on groups, "
        f"{block['n_second_look']} second looks; {block['n_excluded_on_injected']} near injected left out; "
        f"chance matches {chance:.3f})"
    )


def add_purity_columns(table: Table, cands: Table, truth: Table, injected: Table, cfg: dict, area, in_area) -> Table:
    """``search_purity.csv``: beside each threshold's injected-density purity, the natural one
    (``natural_*``: judged, true, on groups, purity and its interval)."""
    score = np.asarray(cands["score"], float) if len(cands) else np.zeros(0)
    rows = [purity(cands[score >= t], truth, injected, cfg, area, in_area) for t in table["threshold"]]
    out = table.copy()
    for col, key, dtype in (
        ("natural_n_judged", "n_judged", int),
        ("natural_n_true", "n_true", int),
        ("natural_n_on_group", "n_on_group", int),
        ("natural_purity", "purity", float),
        ("natural_ci_lo", "ci_lo", float),
        ("natural_ci_hi", "ci_hi", float),
    ):
        out[col] = np.asarray([np.nan if r[key] is None else r[key] for r in rows], dtype)
    out.meta["natural_clusters_per_deg2"] = rows[0]["sky_clusters_per_deg2"] if rows else None
    return out


def sweep_judge(truth: Table, injected: Table, cfg: dict, area, in_area):
    """For ``confirm.sweep``: the natural purity of each cut's confirmed candidates as columns."""

    def judge(selected: Table) -> dict:
        p = purity(selected, truth, injected, cfg, area, in_area)
        return {
            "natural_n_judged": p["n_judged"],
            "natural_purity": p["purity"],
            "natural_ci_lo": p["ci_lo"],
            "natural_ci_hi": p["ci_hi"],
        }

    return judge
