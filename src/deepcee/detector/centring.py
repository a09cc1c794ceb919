"""Where a detection puts its cluster: the box centre (the paper) or the brightest galaxy near it.

The paper takes the centre of the predicted box as the cluster's position (§3.1) and reports
its standard error. A box regressed from coarse feature maps is a coarse position; optical
cluster catalogues (redMaPPer, Rykoff et al. 2014; WHL12) put a cluster on its brightest
cluster galaxy (BCG) instead. ``method: bcg`` does the same with the detector's box as the
prior:

  * sources are extracted once per view from the g, r, i FITS (``deepcee.redshift.photometry``,
    the redshift stage's sep photometry and settings);
  * candidates are galaxies within ``search_radius`` box sides of the box centre (0.2 of a
    500 kpc box = 100 kpc, the paper's match radius), brighter than ``max_rmag`` in the Kron r
    magnitude, with a half-light radius above ``min_r50_arcsec`` (stars are PSF-sized: a
    1.4" FWHM gives ~1" measured on the CPU default's 1.584" pixels; BCGs are several arcsec);
  * the candidate with the brightest 2.5" aperture r magnitude wins: a Kron aperture of a
    faint neighbour deblended out of the BCG's envelope takes the BCG's light, its central
    aperture does not;
  * no candidate: the box centre stays.

The box itself (x0, y0, x1, y1) is never changed; ``box_ra``/``box_dec`` keep the box centre, so
the paper's way is always measured beside this one (the evaluation's summary reports both).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from deepcee.core.errors import DeepCeeError
from deepcee.images.labels import fits_to_png, png_to_fits
from deepcee.redshift.photometry import ViewCatalogue, measure_view

METHODS = ("box", "bcg")


def bcg_candidates(cat: ViewCatalogue, cfg: dict) -> np.ndarray:
    """Indices of the sources that could be a BCG: measured, unflagged, bright and extended."""
    s = cat.sources
    with np.errstate(invalid="ignore"):
        ok = (
            np.isfinite(s["mag_r"])
            & np.isfinite(s["mag_r_ap"])
            & (s["flag"] == 0)
            & (s["mag_r"] < float(cfg["max_rmag"]))
            & (s["r50_arcsec"] > float(cfg["min_r50_arcsec"]))
        )
    return np.flatnonzero(ok)


def choose_bcg(cat: ViewCatalogue, candidates: np.ndarray, x: float, y: float, side: float, cfg: dict) -> int:
    """The source index of the BCG of a box centred on FITS pixel (x, y) of side ``side`` px; -1: none."""
    if not len(candidates):
        return -1
    s = cat.sources
    d = np.hypot(s["x"][candidates] - x, s["y"][candidates] - y)
    near = candidates[d <= float(cfg["search_radius"]) * side]
    if not len(near):
        return -1
    return int(near[np.argmin(s["mag_r_ap"][near])])


def centre_predictions(
    table,
    fits_paths: list[str],
    output_size: int | Sequence[int] | np.ndarray,
    cfg: dict,
    photometry_cfg: dict,
    measure: Callable[[str, dict], ViewCatalogue] = measure_view,
):
    """Predictions with their centre (x, y, ra, dec) moved to the BCG where ``cfg['method']`` is bcg.

    ``fits_paths``: the FITS of each row (its view's). ``output_size``: the PNG side, one for
    every row (an int) or each row's own image side (one per row). Adds ``box_ra``, ``box_dec``
    (the box centre) and ``on_bcg``. Views named ``*_flip`` are the mirrored PNG of their FITS.
    """
    method = str(cfg["method"])
    if method not in METHODS:
        raise DeepCeeError(f"config key 'train.predict.centre.method': '{method}' is not one of {', '.join(METHODS)}")
    out = table.copy(copy_data=True)
    out["box_ra"] = np.asarray(table["ra"], dtype=float)
    out["box_dec"] = np.asarray(table["dec"], dtype=float)
    out["box_ra"].unit = out["box_dec"].unit = "deg"
    on_bcg = np.zeros(len(out), dtype=bool)
    sizes = np.asarray(output_size, dtype=float)
    if sizes.ndim == 0:
        sizes = np.full(len(out), float(sizes))
    elif sizes.shape != (len(out),):
        raise DeepCeeError(f"centre_predictions: {sizes.size} image sides for {len(out)} rows")
    if method == "bcg" and len(out):
        views = np.asarray(out["view"], dtype=str)
        fits_paths = np.asarray(fits_paths, dtype=str)
        x, y = np.array(out["x"], dtype=float), np.array(out["y"], dtype=float)
        ra, dec = np.array(out["ra"], dtype=float), np.array(out["dec"], dtype=float)
        for view in np.unique(views):
            rows = np.flatnonzero(views == view)
            path = str(fits_paths[rows[0]])
            if not path:
                continue  # no FITS (bare PNGs): nothing to measure, the box centre stays
            cat = measure(path, photometry_cfg)
            candidates = bcg_candidates(cat, cfg)
            if not len(candidates):
                continue
            flipped = view.endswith("_flip")
            side = sizes[rows]  # each row's own PNG side
            px = np.asarray(out["x"][rows], dtype=float)
            px = (side - 1) - px if flipped else px
            xf, yf = png_to_fits(px, np.asarray(out["y"][rows], dtype=float), cat.shape, side)
            x0f, y0f = png_to_fits(
                np.asarray(out["x0"][rows], float), np.asarray(out["y0"][rows], float), cat.shape, side
            )
            x1f, y1f = png_to_fits(
                np.asarray(out["x1"][rows], float), np.asarray(out["y1"][rows], float), cat.shape, side
            )
            sides = 0.5 * (np.abs(x1f - x0f) + np.abs(y1f - y0f))
            picks = np.array([choose_bcg(cat, candidates, a, b, c, cfg) for a, b, c in zip(xf, yf, sides)])
            hit = picks >= 0
            if not hit.any():
                continue
            bx, by = cat.sources["x"][picks[hit]], cat.sources["y"][picks[hit]]
            sky = cat.wcs.pixel_to_world(bx, by)
            nx, ny = fits_to_png(bx, by, cat.shape, side[hit])
            nx = (side[hit] - 1) - nx if flipped else nx
            idx = rows[hit]
            x[idx], y[idx] = nx, ny
            ra[idx], dec[idx] = sky.ra.deg, sky.dec.deg
            on_bcg[idx] = True
        out["x"], out["y"], out["ra"], out["dec"] = x, y, ra, dec
        out["x"].unit = out["y"].unit = "pix"
        out["ra"].unit = out["dec"].unit = "deg"
    out["on_bcg"] = on_bcg
    out.meta["centre"] = {"method": method, **{k: v for k, v in cfg.items() if k != "method"}}
    out.meta["description"] = str(out.meta.get("description", "")) + (
        "; x, y, ra, dec: the cluster centre (the box centre, or with on_bcg the brightest galaxy"
        " near it: deepcee.detector.centring); box_ra, box_dec: the box centre"
    )
    return out
