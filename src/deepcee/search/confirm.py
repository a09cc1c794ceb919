"""Red-sequence confirmation of the search's candidates: the operating selection.

The detector alone fires on bright field galaxies with no cluster around them (on the mock
sky's survey profile about 28 false candidates per deg² at score 0.5, most on an r < 19
galaxy with a field-like neighbourhood). Optical cluster finders confirm a candidate by its
red sequence; here the count is the one the redshift stage's colour search already makes
(``redshift.red_sequence.find_colour``): the galaxies brighter than
``redshift.red_sequence.mag_limit_r`` in the box that fall in the red-sequence colour window,
less the field's expectation from the cutout's outskirts (``red_excess``). A candidate at or
above ``search.score_threshold`` is *confirmed* when ``red_excess >= search.confirm.min_red_excess``
and it is not a second look at a richer confirmed candidate: a nearby low-z cluster spreads its
members over many tiles' boxes, so the confirmed ones are percolated as redMaPPer percolates
(richest red excess first; one within ``percolation_kpc`` at the richer one's z_est, with a z_est
agreeing within ``percolation_dz`` (1+z), takes the richer one's id as ``parent``).

Purity and the injected completeness are measured for both selections (the detector alone,
and confirmed), and over a sweep of ``min_red_excess`` (``search_confirmation.csv``), so the
trade is visible rather than chosen out of sight.
"""

from __future__ import annotations

import numpy as np
from astropy.table import Table

from deepcee.search import measure


def _at_least(cands: Table, column: str, minimum: float | None) -> np.ndarray:
    """``column >= minimum`` (everything where ``minimum`` is None; a value never measured fails)."""
    if minimum is None:
        return np.ones(len(cands), bool)
    values = np.asarray(cands[column], float) if column in cands.colnames else np.full(len(cands), np.nan)
    with np.errstate(invalid="ignore"):
        return np.isfinite(values) & (values >= float(minimum))


def confirmed(
    cands: Table, threshold: float, min_red_excess: float | None, min_richness: float | None = None
) -> np.ndarray:
    """Candidates at or above ``threshold`` whose red excess reaches ``min_red_excess`` and whose
    richness estimate at its z_est reaches ``min_richness`` (each None: not required; a candidate
    never measured is not confirmed)."""
    if not len(cands):
        return np.zeros(0, bool)
    strong = np.asarray(cands["score"], float) >= float(threshold)
    return strong & _at_least(cands, "red_excess", min_red_excess) & _at_least(cands, "richness_est", min_richness)


def percolate(cands: Table, selected: np.ndarray, radius_kpc: float | None, dz_max: float) -> np.ndarray:
    """The id of the candidate each selected one is percolated into ('' for none), as redMaPPer
    percolates: richest red excess first, a selected candidate within ``radius_kpc`` (at the
    richer one's z_est) of a kept one whose z_est agrees within ``dz_max`` (1+z) is the same
    cluster seen again. A kept candidate without a z_est takes no others (no radius to use);
    one without a z_est is taken on position alone. None: no percolation."""
    parent = np.full(len(cands), "", dtype="U32")
    sel = np.flatnonzero(np.asarray(selected, bool))
    if radius_kpc is None or len(sel) < 2:
        return parent
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    from deepcee.core.cosmology import kpc_to_arcsec

    excess = np.asarray(cands["red_excess"], float)
    z = np.asarray(cands["z_est"], float) if "z_est" in cands.colnames else np.full(len(cands), np.nan)
    ids = np.asarray(cands["id"], str)
    with_z = sel[np.isfinite(z[sel]) & (z[sel] > 0)]
    if not len(with_z):  # no kept candidate could take another
        return parent
    reach = np.full(len(cands), np.nan)
    reach[with_z] = kpc_to_arcsec(radius_kpc, z[with_z])
    pos = SkyCoord(np.asarray(cands["ra"], float)[sel] * u.deg, np.asarray(cands["dec"], float)[sel] * u.deg)
    a, b, sep, _ = pos.search_around_sky(pos, float(np.nanmax(reach)) * u.arcsec)
    a, b, sep = sel[a], sel[b], sep.to_value(u.arcsec)
    near = a != b
    neighbours: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for i in np.unique(a[near]):
        rows = near & (a == i)
        neighbours[int(i)] = (b[rows], sep[rows])
    kept_rank = np.full(len(cands), np.inf)  # the order in which candidates were kept
    n_kept = 0
    for i in sel[np.argsort(-np.nan_to_num(excess[sel], nan=-np.inf), kind="stable")]:
        js, seps = neighbours.get(int(i), (np.zeros(0, int), np.zeros(0)))
        with np.errstate(invalid="ignore"):
            agree = np.isfinite(z[js]) & (~np.isfinite(z[i]) | (np.abs(z[i] - z[js]) / (1 + z[js]) <= dz_max))
            takes = np.isfinite(kept_rank[js]) & agree & (seps < reach[js])
        if takes.any():  # the first kept one that takes it, as kept
            parent[i] = ids[js[takes][np.argmin(kept_rank[js[takes]])]]
        else:
            kept_rank[i] = n_kept
            n_kept += 1
    return parent


def select(cands: Table, threshold: float, cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    """The operating selection (``search.confirm``): (confirmed mask, parent ids). Confirmed means
    at or above ``threshold``, a red excess of at least ``min_red_excess``, a richness estimate of
    at least ``min_richness`` (the catalogue's own cluster definition, λ >= 20, where set) and not
    percolated into a richer confirmed candidate."""
    passing = confirmed(cands, threshold, cfg["min_red_excess"], cfg.get("min_richness"))
    parent = percolate(cands, passing, cfg.get("percolation_kpc"), float(cfg.get("percolation_dz", 0.05)))
    return passing & (parent == ""), parent


def purity_at(cands: Table, truth: Table, radius_arcmin: float, selected: np.ndarray) -> dict:
    """Purity of the ``selected`` candidates: ``measure.purity_curve`` over them alone (true /
    (true + false), groups apart, Wilson 68 %), as a summary block (None where nothing is judged)."""
    row = measure.purity_curve(cands[np.asarray(selected, bool)], truth, radius_arcmin, [-np.inf])[0]
    counts = {k: int(row[k]) for k in ("n_candidates", "n_real", "n_group", "n_false")}
    judged = counts["n_real"] + counts["n_false"]
    return {
        **counts,
        **{k: float(row[k]) if judged else None for k in ("purity", "ci_lo", "ci_hi")},
        "purity_all": float(row["purity_all"]) if counts["n_candidates"] else None,
        "interval": "wilson 68.27%",
    }


def sweep(
    cands,
    truth,
    injected,
    threshold: float,
    radius_arcmin: float,
    values,
    headline: dict | None,
    cfg: dict | None = None,
    judge=None,
) -> Table:
    """Per ``min_red_excess`` value: the confirmed candidates' purity and the injected clusters
    recovered by them (all, and the headline kind), each with its Wilson 68 % interval; ``cfg``
    (``search.confirm``) gives the percolation each cut is followed by (None: none); ``judge``
    (selected candidates -> {column: value}) adds columns of its own, e.g. the purity at the
    sky's own density (``natural.sweep_judge``)."""
    from deepcee.search.inject import recovery

    rows = []
    for value in values:
        sel, _ = select(cands, threshold, {**(cfg or {"percolation_kpc": None}), "min_red_excess": value})
        p = purity_at(cands, truth, radius_arcmin, sel)
        row = {"min_red_excess": float(value), **{k: p[k] for k in ("n_candidates", "n_real", "n_group", "n_false")}}
        row.update({"purity": p["purity"], "purity_ci_lo": p["ci_lo"], "purity_ci_hi": p["ci_hi"]})
        if judge is not None:
            row.update(judge(cands[sel]))
        if len(injected):
            _, rec = recovery(injected, cands[sel], threshold, radius_arcmin, headline)
            h = rec.get("headline") or {}
            row.update(
                {
                    "injected_found": rec["n_found"],
                    "injected_completeness": rec["completeness"],
                    "headline_n": h.get("n_injected", 0),
                    "headline_found": h.get("n_found", 0),
                    "headline_completeness": h.get("completeness"),
                    "headline_ci_lo": h.get("ci_lo"),
                    "headline_ci_hi": h.get("ci_hi"),
                }
            )
        rows.append(row)
    names = list(rows[0]) if rows else ["min_red_excess"]
    counts = {"n_candidates", "n_real", "n_group", "n_false", "injected_found", "headline_n", "headline_found"}
    counts |= {k for k in names if k.endswith("_n_judged")}
    return Table(
        {
            k: np.asarray([r[k] for r in rows], int)
            if k in counts
            else np.asarray([np.nan if r.get(k) is None else r[k] for r in rows], float)
            for k in names
        }
    )
