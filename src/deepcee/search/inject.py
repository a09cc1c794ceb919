"""Injection and recovery: the search's selection function, measured on clusters of known truth.

Real clusters of the trained kind are rare (about 0.2 per deg² at 0.1 < z < 0.2, λ >= 20 in the
bundled redMaPPer), so, as surveys measure their selection function, synthetic clusters of known
position, z and λ are planted in the search's own mock sky (never in training or test views:
``search_inject`` writes them for the search rules only) and what comes back is counted.

* ``plan_injections``: ``search.inject.n`` clusters at seeded positions inside the searched area
  (a spot some tile owns), stratified over the z cells of the grid. Their λ (``richness_draw``):
  ``abundance`` (the default) takes z and λ together from a random cluster of the bundled
  redMaPPer catalogue in the z cell, so the injected clusters are as rich as the sky's are (most
  near λ = 20-40, redMaPPer's own λ-z distribution); ``grid`` spreads them log-uniformly over the
  λ cells instead (a selection function map that reaches the rare rich end). They keep
  ``min_separation_arcmin`` from each other only (so that one candidate cannot find two), and
  are planted among the sky's own clusters and groups as they fall (``isolate: true`` keeps them
  that far from those too, an easier test): blends are real.
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


def abundance_pool(redmapper: Table, z_edges: np.ndarray, richness_min: float) -> list[np.ndarray]:
    """Per z cell, the (z, λ) rows of the catalogue's clusters in it with λ >= ``richness_min``."""
    z = np.asarray(redmapper["z"], float)
    lam = np.asarray(redmapper["richness"], float)
    pools = []
    for lo, hi in zip(z_edges[:-1], z_edges[1:]):
        sel = (z >= lo) & (z < hi) & (lam >= float(richness_min))
        pools.append(np.column_stack([z[sel], lam[sel]]))
    return pools


def draw_z_richness(gen, cfg: dict, n: int, redmapper: Table | None) -> list[tuple[float, float]]:
    """The (z, λ) of ``n`` injected clusters (``richness_draw``; module docstring)."""
    z_edges, lam_edges = grid_edges(cfg)
    if cfg.get("richness_draw", "abundance") == "grid":
        cells = [(i, j) for i in range(len(z_edges) - 1) for j in range(len(lam_edges) - 1)]
        order = gen.permutation(len(cells))
        out = []
        for k in range(n):
            i, j = cells[order[k % len(cells)]]
            z = gen.uniform(z_edges[i], z_edges[i + 1])
            out.append((float(z), float(np.exp(gen.uniform(np.log(lam_edges[j]), np.log(lam_edges[j + 1]))))))
        return out
    if redmapper is None or len(redmapper) == 0:
        raise DeepCeeError("search.inject.richness_draw: abundance needs the bundled redMaPPer catalogue")
    pools = abundance_pool(redmapper, z_edges, float(cfg["richness_min"]))
    usable = [i for i, p in enumerate(pools) if len(p)]
    if not usable:
        raise DeepCeeError(
            f"search.inject: no redMaPPer cluster with lambda >= {cfg['richness_min']} in z_range {cfg['z_range']}"
        )
    order = gen.permutation(len(usable))
    picks = [pools[usable[order[k % len(usable)]]] for k in range(n)]
    return [tuple(map(float, p[gen.integers(len(p))])) for p in picks]


def plan_injections(
    tiles: Table, occupied: Table, cfg: dict, seed: int, log=print, redmapper: Table | None = None
) -> Table:
    """Where, how far and how rich each injected cluster is (``tiles``: the search's tiles.ecsv,
    cells and grid; ``occupied``: ra, dec of the clusters and groups the sky already holds, kept
    clear only with ``isolate``; ``redmapper``: the catalogue the abundance draw samples). A spot
    is drawn uniformly over the area of a random tile's cell, so every planted centre is owned."""
    from deepcee.search.tiles import grid_from_meta

    n = int(cfg["n"])
    if n == 0 or len(tiles) == 0:
        return empty_injections()
    gen = rng(seed, "search-inject")
    z_edges, lam_edges = grid_edges(cfg)
    drawn = draw_z_richness(gen, cfg, n, redmapper)
    grid = grid_from_meta(tiles.meta)
    ra_lo, ra_hi, dec_lo, dec_hi = grid.cells(np.asarray(tiles["index"], dtype=np.int64))
    sin_lo, sin_hi = np.sin(np.radians(dec_lo)), np.sin(np.radians(dec_hi))
    min_sep = float(cfg["min_separation_arcmin"])
    avoid = occupied if bool(cfg.get("isolate", False)) and len(occupied) else Table(names=("ra", "dec"))
    taken_ra = list(np.asarray(avoid["ra"], float))
    taken_dec = list(np.asarray(avoid["dec"], float))
    rows = []
    for k, (z, lam) in enumerate(drawn):
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
            f"search.inject: {n - len(rows)} of {n} clusters found no spot {min_sep}' from every other "
            f"{'cluster' if cfg.get('isolate') else 'injected cluster'} in the searched area; planted the rest"
        )
    out = Table(rows=rows, names=INJECTED_COLUMNS, dtype=_INJECTED_DTYPES) if rows else empty_injections()
    out["ra"].unit = out["dec"].unit = "deg"
    out.meta.update(
        {
            "z_edges": z_edges.tolist(),
            "richness_edges": lam_edges.tolist(),
            "requested": n,
            "richness_draw": str(cfg.get("richness_draw", "abundance")),
            "isolated": bool(cfg.get("isolate", False)),
        }
    )
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
    ``headline`` ({z: [lo, hi], richness_min, poor_richness_min}): the completeness of the injected
    clusters in that range too, the trained kind (``search.inject.headline``), and apart of those
    with poor_richness_min <= λ < richness_min (``headline_poor``)."""
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
        rich_min = float(headline["richness_min"])
        poor_min = float(headline.get("poor_richness_min", 20.0))
        for key, lam_lo, lam_hi in (("headline", rich_min, np.inf), ("headline_poor", poor_min, rich_min)):
            sel = (z > z_lo) & (z < z_hi) & (lam >= lam_lo) & (lam < lam_hi)
            n_h, k_h = int(sel.sum()), int(found[sel].sum())
            lo_h, hi_h = wilson68(k_h, n_h)
            summary[key] = {
                "z": [z_lo, z_hi],
                "richness_min": lam_lo,
                "richness_max": None if np.isinf(lam_hi) else lam_hi,
                "n_injected": n_h,
                "n_found": k_h,
                "completeness": k_h / n_h if n_h else None,
                "ci_lo": lo_h if n_h else None,
                "ci_hi": hi_h if n_h else None,
            }
    return table, summary
