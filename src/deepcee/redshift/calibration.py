"""Empirical relations fitted on the training clusters: z(g−r, r−i) and λ(member count), the
latter as the inverse of the count a cluster of richness λ shows.

Both are least-squares fits with iterative sigma clipping, so a few mis-measured
training clusters (a brighter group in the box, a star) do not pull the relation.
Nothing here knows how the images were made: the only inputs are colours and counts
measured on the pixels and the catalogue's z and λ of the training clusters.
"""

from __future__ import annotations

import numpy as np

from deepcee.core.errors import DeepCeeError


def design_matrix(gr, ri, degree: int) -> np.ndarray:
    """Columns 1, gr, ri, gr², gr·ri, ri², ... up to total ``degree``."""
    gr = np.asarray(gr, dtype=float)
    ri = np.asarray(ri, dtype=float)
    cols = [gr ** (d - k) * ri**k for d in range(degree + 1) for k in range(d + 1)]
    return np.stack(cols, axis=-1)


def _nmad(x) -> float:
    x = np.asarray(x, dtype=float)
    return float(1.4826 * np.median(np.abs(x - np.median(x)))) if len(x) else float("nan")


def _clipped_lstsq(X, y, clip_sigma: float, iterations: int, what: str):
    keep = np.ones(len(y), dtype=bool)
    coef = None
    for _ in range(max(1, iterations)):
        if keep.sum() < X.shape[1] + 1:
            raise DeepCeeError(f"{what}: only {int(keep.sum())} usable training clusters for {X.shape[1]} coefficients")
        coef, *_ = np.linalg.lstsq(X[keep], y[keep], rcond=None)
        resid = y - X @ coef
        scale = _nmad(resid[keep])
        if not np.isfinite(scale) or scale <= 0:
            break
        new = np.abs(resid) <= clip_sigma * scale
        if np.array_equal(new, keep):
            break
        keep = new
    return coef, keep


def fit_redshift(gr, ri, z, cfg: dict, what: str = "redshift calibration") -> dict:
    """Fit z = P(g−r, r−i) on training clusters; a relation of too few clusters is an error.

    ``cfg``: the complete ``redshift.calibration`` section (schemas/redshift.schema.yaml).
    """
    gr, ri, z = (np.asarray(a, dtype=float) for a in (gr, ri, z))
    ok = np.isfinite(gr) & np.isfinite(ri) & np.isfinite(z)
    if ok.sum() < int(cfg["min_clusters"]):
        raise DeepCeeError(
            f"{what}: {int(ok.sum())} training clusters with a measured red sequence, "
            f"need at least {int(cfg['min_clusters'])} (redshift.calibration.min_clusters)"
        )
    degree = int(cfg["degree"])
    X = design_matrix(gr[ok], ri[ok], degree)
    coef, keep = _clipped_lstsq(X, z[ok], float(cfg["clip_sigma"]), int(cfg["clip_iterations"]), what)
    resid = (z[ok] - X @ coef) / (1 + z[ok])
    return {
        "degree": degree,
        "coefficients": [float(c) for c in coef],
        "gr_range": [float(gr[ok][keep].min()), float(gr[ok][keep].max())],
        "ri_range": [float(ri[ok][keep].min()), float(ri[ok][keep].max())],
        "z_range": [float(z[ok][keep].min()), float(z[ok][keep].max())],
        "colour_margin": float(cfg["colour_margin"]),
        "n_fit": int(keep.sum()),
        "n_clipped": int((~keep).sum()),
        "nmad_in_sample": _nmad(resid[keep]),
    }


def apply_redshift(relation: dict, gr, ri) -> tuple[np.ndarray, np.ndarray]:
    """z for colours; False in the second array where the colour lies outside the fitted range
    (beyond its margin): an extrapolated polynomial is not a measurement."""
    gr = np.atleast_1d(np.asarray(gr, dtype=float))
    ri = np.atleast_1d(np.asarray(ri, dtype=float))
    z = design_matrix(gr, ri, int(relation["degree"])) @ np.asarray(relation["coefficients"], dtype=float)
    m = float(relation.get("colour_margin", 0.0))
    (g0, g1), (r0, r1) = relation["gr_range"], relation["ri_range"]
    inside = (gr >= g0 - m) & (gr <= g1 + m) & (ri >= r0 - m) & (ri <= r1 + m) & np.isfinite(z)
    return z, inside


def fit_richness(count, richness, cfg: dict, what: str = "richness calibration") -> dict:
    """Fit the count a cluster of richness λ shows, log10 N = α + β log10 λ (N: background-subtracted
    red members, N > 0), and return its inverse, log10 λ = (log10 N − α) / β, as ``intercept`` and
    ``slope``; ``cfg`` as in fit_redshift.

    Why this direction: the noise is in N (a few members, Poisson, less a background), not in
    the catalogue's λ. Regressing λ on N instead shrinks every estimate toward the training
    clusters' mean (a slope of about 0.2 on the default run: a group of λ = 7 came out as λ ≈ 35),
    so a cut at λ >= 20, the catalogue's own definition of a cluster, would pass almost anything.
    The inverse of the forward fit is unbiased in slope: its λ estimate means λ, with the scatter
    the count allows.
    """
    n, lam = np.asarray(count, dtype=float), np.asarray(richness, dtype=float)
    ok = np.isfinite(n) & (n > 0) & np.isfinite(lam) & (lam > 0)
    if ok.sum() < int(cfg["min_clusters"]):
        raise DeepCeeError(
            f"{what}: {int(ok.sum())} training clusters with a positive member excess, "
            f"need at least {int(cfg['min_clusters'])} (redshift.calibration.min_clusters)"
        )
    x, y = np.log10(lam[ok]), np.log10(n[ok])
    X = np.stack([np.ones_like(x), x], axis=-1)
    coef, keep = _clipped_lstsq(X, y, float(cfg["clip_sigma"]), int(cfg["clip_iterations"]), what)
    alpha, beta = float(coef[0]), float(coef[1])
    common = {
        "forward": {"alpha": alpha, "beta": beta, "relation": "log10 N = alpha + beta log10 lambda"},
        "n_fit": int(keep.sum()),
        "n_clipped": int((~keep).sum()),
        "count_range": [float(n[ok][keep].min()), float(n[ok][keep].max())],
    }
    if not beta > 0:  # a tiny or degenerate training set: no λ can be read off the count
        return {
            "usable": False,
            "reason": f"the member count does not grow with richness (beta = {beta:.3f} over {int(keep.sum())} "
            "training clusters)",
            **common,
        }
    est = (y - alpha) / beta
    return {
        "usable": True,
        "intercept": -alpha / beta,
        "slope": 1.0 / beta,
        "scatter_log10_in_sample": float(np.std(est[keep] - x[keep])),
        **common,
    }


def apply_richness(relation: dict, count) -> np.ndarray:
    """λ estimate from the member excess; NaN where the excess is not positive or the relation
    is not usable (``fit_richness``)."""
    n = np.atleast_1d(np.asarray(count, dtype=float))
    if not relation.get("usable", True):
        return np.full(n.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 10 ** (relation["intercept"] + relation["slope"] * np.log10(np.where(n > 0, n, np.nan)))
    return np.where(np.isfinite(n) & (n > 0), out, np.nan)
