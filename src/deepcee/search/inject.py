"""Injection and recovery: the search's selection function, measured on clusters of known truth.

Real clusters of the trained kind are rare (about 0.2 per deg² at 0.1 < z < 0.2, λ >= 20 in the
bundled redMaPPer), so, as surveys measure their selection function, synthetic clusters of known
position, z and λ are planted in the search's own mock sky (never in training or test views:
``search_inject`` writes them for the search rules only) and what comes back is counted.

* ``plan_injections``: ``search.inject.n`` clusters stratified over a z x λ grid that reaches
  beyond the trained range (λ log-uniform within its cell), at seeded positions inside the
  searched area (a pixel some tile owns), at least ``min_separation_arcmin`` from each other and
  from every cluster the sky already holds, so that none blends with another.
* They are drawn by the same code that draws catalogued clusters (``MockSky.add_clusters``, kind
  ``injected``), so the detector sees nothing that tells them apart.
* ``recovery``: completeness in z x λ cells with Wilson intervals, the recovered position offset,
  and the recovered z and λ against the truth.
"""

from __future__ import annotations

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table

from deepcee.core.errors import DeepCeeError
from deepcee.core.seeds import rng
from deepcee.search.measure import wilson68

INJECTED_COLUMNS = ("id", "ra", "dec", "z", "richness")
_INJECTED_DTYPES = ("U16", float, float, float, float)


def empty_injections() -> Table:
    return Table(names=INJECTED_COLUMNS, dtype=_INJECTED_DTYPES)


def grid_edges(cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    """The z edges (linear) and λ edges (logarithmic) of the injection grid."""
    z = np.linspace(*map(float, cfg["z_range"]), int(cfg["z_bins"]) + 1)
    lam = np.geomspace(*map(float, cfg["richness_range"]), int(cfg["richness_bins"]) + 1)
    return z, lam


def plan_injections(tiles: Table, occupied: Table, cfg: dict, seed: int, log=print) -> Table:
    """Where, how far and how rich each injected cluster is (``tiles``: the search's tiles.ecsv,
    cells and grid; ``occupied``: ra, dec of the clusters the sky already holds). A spot is drawn
    uniformly over the area of a random tile's cell, so every planted centre is owned."""
    from deepcee.search.tiles import grid_from_meta

    n = int(cfg["n"])
    if n == 0 or len(tiles) == 0:
        return empty_injections()
    gen = rng(seed, "search-inject")
    z_edges, lam_edges = grid_edges(cfg)
    cells = [(i, j) for i in range(len(z_edges) - 1) for j in range(len(lam_edges) - 1)]
    order = gen.permutation(len(cells))
    grid = grid_from_meta(tiles.meta)
    ra_lo, ra_hi, dec_lo, dec_hi = grid.cells(np.asarray(tiles["index"], dtype=np.int64))
    sin_lo, sin_hi = np.sin(np.radians(dec_lo)), np.sin(np.radians(dec_hi))
    min_sep = float(cfg["min_separation_arcmin"])
    taken_ra = list(np.asarray(occupied["ra"], float)) if len(occupied) else []
    taken_dec = list(np.asarray(occupied["dec"], float)) if len(occupied) else []
    rows = []
    for k in range(n):
        i, j = cells[order[k % len(cells)]]
        z = gen.uniform(z_edges[i], z_edges[i + 1])
        lam = float(np.exp(gen.uniform(np.log(lam_edges[j]), np.log(lam_edges[j + 1]))))
        for _ in range(200):  # a free spot in the searched area
            c = gen.integers(len(tiles))
            ra = float(gen.uniform(ra_lo[c], ra_hi[c]) % 360.0)
            dec = float(np.degrees(np.arcsin(gen.uniform(sin_lo[c], sin_hi[c]))))
            if taken_ra and _nearest_arcmin(ra, dec, taken_ra, taken_dec) < min_sep:
                continue
            rows.append((f"INJ{k + 1:05d}", ra, dec, z, lam))
            taken_ra.append(ra)
            taken_dec.append(dec)
            break
    if len(rows) < n:
        log(
            f"search.inject: {n - len(rows)} of {n} clusters found no spot {min_sep}' from every other cluster "
            "in the searched area; planted the rest"
        )
    out = Table(rows=rows, names=INJECTED_COLUMNS, dtype=_INJECTED_DTYPES) if rows else empty_injections()
    out["ra"].unit = out["dec"].unit = "deg"
    out.meta.update({"z_edges": z_edges.tolist(), "richness_edges": lam_edges.tolist(), "requested": n})
    return out


def _nearest_arcmin(ra, dec, ras, decs) -> float:
    here = SkyCoord(ra * u.deg, dec * u.deg)
    return float(here.separation(SkyCoord(np.asarray(ras) * u.deg, np.asarray(decs) * u.deg)).min().to_value(u.arcmin))


def _column(table: Table, name: str, rows: np.ndarray) -> np.ndarray:
    return np.asarray(table[name], float)[rows] if len(rows) and name in table.colnames else np.zeros(0)


def recovery(
    injected: Table, cands: Table, threshold: float, radius_arcmin: float, headline: dict | None = None
) -> tuple[Table, dict]:
    """Completeness per z x λ cell (Wilson 68.27 % intervals) and what the found ones look like:
    the offset of the nearest candidate at or above ``threshold`` and its z and λ against truth.
    ``headline`` ({z: [lo, hi], richness_min}): the completeness of the injected clusters in that
    range too, the trained kind (``search.inject.headline``)."""
    z_edges = np.asarray(injected.meta.get("z_edges", []), float)
    lam_edges = np.asarray(injected.meta.get("richness_edges", []), float)
    if len(z_edges) < 2 or len(lam_edges) < 2:
        raise DeepCeeError("injected clusters: the table carries no z/richness grid (rerun search_inject)")
    strong = cands[np.asarray(cands["score"], float) >= threshold] if len(cands) else cands
    sep = np.full(len(injected), np.inf)
    match = np.full(len(injected), -1)
    if len(injected) and len(strong):
        ci = SkyCoord(np.asarray(injected["ra"], float) * u.deg, np.asarray(injected["dec"], float) * u.deg)
        cs = SkyCoord(np.asarray(strong["ra"], float) * u.deg, np.asarray(strong["dec"], float) * u.deg)
        idx, d, _ = ci.match_to_catalog_sky(cs)
        sep, match = d.to_value(u.arcmin), np.asarray(idx)
    found = sep <= radius_arcmin
    z, lam = np.asarray(injected["z"], float), np.asarray(injected["richness"], float)
    rows = []
    for i in range(len(z_edges) - 1):
        for j in range(len(lam_edges) - 1):
            sel = (z >= z_edges[i]) & (z < z_edges[i + 1]) & (lam >= lam_edges[j]) & (lam < lam_edges[j + 1])
            n, k = int(sel.sum()), int(found[sel].sum())
            lo, hi = wilson68(k, n)
            frac = k / n if n else np.nan
            rows.append((z_edges[i], z_edges[i + 1], lam_edges[j], lam_edges[j + 1], n, k, frac, lo, hi))
    table = Table(
        rows=rows,
        names=("z_lo", "z_hi", "richness_lo", "richness_hi", "n_injected", "n_found", "completeness", "ci_lo", "ci_hi"),
    )
    n_all, k_all = len(injected), int(found.sum())
    lo, hi = wilson68(k_all, n_all)
    got = match[found]
    offsets = sep[found] * 60.0
    z_est, lam_est = (_column(strong, name, got) for name in ("z_est", "richness_est"))
    dz = (z_est - z[found]) / (1 + z[found]) if len(z_est) else np.zeros(0)
    measured = np.isfinite(dz)
    ratio = lam_est / lam[found] if len(lam_est) else np.zeros(0)
    has_lam = np.isfinite(ratio) & (ratio > 0)
    summary = {
        "n_injected": n_all,
        "n_found": k_all,
        "completeness": k_all / n_all if n_all else None,
        "ci_lo": lo if n_all else None,
        "ci_hi": hi if n_all else None,
        "interval": "wilson 68.27%",
        "score_threshold": float(threshold),
        "match_radius_arcmin": float(radius_arcmin),
        "offset_arcsec_median": float(np.median(offsets)) if len(offsets) else None,
        "offset_arcsec_p90": float(np.percentile(offsets, 90)) if len(offsets) else None,
        "z_measured": int(measured.sum()),
        "z_bias": float(np.median(dz[measured])) if measured.any() else None,
        "z_nmad": float(1.4826 * np.median(np.abs(dz[measured] - np.median(dz[measured])))) if measured.any() else None,
        "richness_measured": int(has_lam.sum()),
        "richness_log10_ratio_median": float(np.median(np.log10(ratio[has_lam]))) if has_lam.any() else None,
    }
    if headline:
        z_lo, z_hi = map(float, headline["z"])
        sel = (z > z_lo) & (z < z_hi) & (lam >= float(headline["richness_min"]))
        n_h, k_h = int(sel.sum()), int(found[sel].sum())
        lo_h, hi_h = wilson68(k_h, n_h)
        summary["headline"] = {
            "z": [z_lo, z_hi],
            "richness_min": float(headline["richness_min"]),
            "n_injected": n_h,
            "n_found": k_h,
            "completeness": k_h / n_h if n_h else None,
            "ci_lo": lo_h if n_h else None,
            "ci_hi": hi_h if n_h else None,
        }
    return table, summary
