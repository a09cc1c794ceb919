"""The red sequence of one detection: a background-subtracted colour peak in (g−r, r−i).

A cluster is an excess of galaxies of one colour over the field (Gladders & Yee 2000's
red-sequence method, the colour part of redMaPPer, Rykoff et al. 2014). The field is
measured on the same image, from the sources far from the detection (the "outskirts"),
scaled by area: every count and colour mean here is "inside minus area-scaled outside".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from deepcee.core.cosmology import COSMO, kpc_to_arcsec
from deepcee.redshift.photometry import ViewCatalogue

#: M*_r − 5 log10 h = −20.44 in the ^{0.1}r band (Blanton et al. 2003, ApJ 592, 819), at the
#: workflow's h = 0.71 (deepcee.core.cosmology): −20.44 + 5 log10 0.71.
M_STAR_R = -20.44 + 5.0 * np.log10(0.71)

FLAGS = ("ok", "few_galaxies", "no_background", "no_red_sequence", "outside_calibration", "no_redshift", "no_excess")


@dataclass
class Region:
    """A detection on one view in FITS 0-based pixels: box [x0, x1] × [y0, y1] and its centre."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def centre(self) -> tuple[float, float]:
        return 0.5 * (self.x0 + self.x1), 0.5 * (self.y0 + self.y1)

    @property
    def side(self) -> float:
        return 0.5 * ((self.x1 - self.x0) + (self.y1 - self.y0))


@lru_cache(maxsize=8)
def _pixel_grid(shape: tuple[int, int]):
    """Pixel centres on a grid of at most ~128 x 128 points, and the pixel area each point stands for.

    Areas of circles clipped by the image edge need ~1 % precision, not every pixel: a
    detection costs milliseconds even at the paper's 300 boxes per image.
    """
    ny, nx = shape
    step = max(1, int(np.ceil(max(nx, ny) / 128)))
    xx, yy = np.meshgrid(np.arange(step / 2 - 0.5, nx, step), np.arange(step / 2 - 0.5, ny, step))
    return xx.ravel(), yy.ravel(), float(nx * ny) / xx.size


def _area_within(shape, centre, radius_px: float) -> float:
    xx, yy, per_point = _pixel_grid(tuple(int(n) for n in shape))
    return float(np.count_nonzero(np.hypot(xx - centre[0], yy - centre[1]) <= radius_px)) * per_point


def box_members(cat: ViewCatalogue, region: Region) -> tuple[np.ndarray, float]:
    """Sources inside the box and the box's area inside the image (pixels)."""
    s = cat.sources
    inside = (s["x"] >= region.x0) & (s["x"] <= region.x1) & (s["y"] >= region.y0) & (s["y"] <= region.y1)
    ny, nx = cat.shape
    w = max(0.0, min(region.x1 + 0.5, nx - 0.5) - max(region.x0 - 0.5, -0.5))
    h = max(0.0, min(region.y1 + 0.5, ny - 0.5) - max(region.y0 - 0.5, -0.5))
    return inside, w * h


def circle_members(cat: ViewCatalogue, centre, radius_px: float) -> tuple[np.ndarray, float]:
    """Sources within ``radius_px`` of ``centre`` and the circle's area inside the image (pixels)."""
    s = cat.sources
    inside = np.hypot(s["x"] - centre[0], s["y"] - centre[1]) <= radius_px
    return inside, _area_within(cat.shape, centre, radius_px)


def outskirts(cat: ViewCatalogue, centre, inner_px: float) -> tuple[np.ndarray, float]:
    """Sources farther than ``inner_px`` from the detection (the field) and that area (pixels)."""
    s = cat.sources
    far = np.hypot(s["x"] - centre[0], s["y"] - centre[1]) > inner_px
    return far, float(cat.shape[0] * cat.shape[1]) - _area_within(cat.shape, centre, inner_px)


def galaxies(cat: ViewCatalogue, mag_limit: float) -> np.ndarray:
    """Usable sources for colours: brighter than the cut, all three colours measured, unflagged."""
    s = cat.sources
    return (
        np.isfinite(s["mag_r"])
        & (s["mag_r"] < mag_limit)
        & np.isfinite(s["gr"])
        & np.isfinite(s["ri"])
        & (s["flag"] == 0)
    )


def m_star_r(z) -> np.ndarray:
    """Apparent r of an L* galaxy at z: distance modulus + M*_r (no k-correction; the richness
    calibration against λ absorbs its slow drift over the training redshifts)."""
    z = np.asarray(z, dtype=float)
    return COSMO.distmod(np.clip(z, 1e-3, None)).value + M_STAR_R


def find_colour(cat: ViewCatalogue, region: Region, cfg: dict) -> dict:
    """The red-sequence colour inside ``region`` with the field subtracted.

    ``cfg``: the complete ``redshift.red_sequence`` section (schemas/redshift.schema.yaml).
    Returns ``gr``, ``ri`` (NaN when not measured), ``flag`` (one of FLAGS), the box
    counts ``n_box``, ``n_background_expected`` and ``excess`` in the colour window.
    """
    out = {"gr": np.nan, "ri": np.nan, "n_box": 0, "n_background_expected": np.nan, "excess": np.nan, "flag": "ok"}
    s = cat.sources
    good = galaxies(cat, float(cfg["mag_limit_r"]))
    in_box, box_area = box_members(cat, region)
    far, far_area = outskirts(cat, region.centre, float(cfg["background_inner"]) * region.side)
    inn = good & in_box
    bg = good & far
    out["n_box"] = int(inn.sum())
    if out["n_box"] < int(cfg["min_galaxies"]) or box_area <= 0:
        out["flag"] = "few_galaxies"
        return out
    if far_area < float(cfg["min_background_fraction"]) * cat.shape[0] * cat.shape[1]:
        out["flag"] = "no_background"
        return out
    ratio = box_area / far_area
    gi, ri_ = s["gr"][inn], s["ri"][inn]
    gb, rb = s["gr"][bg], s["ri"][bg]
    # 1. the peak of the excess density on a colour grid (Gaussian kernel)
    k = float(cfg["kernel_mag"])
    ggrid = np.arange(cfg["gr_range"][0], cfg["gr_range"][1] + 1e-9, k / 2)
    rgrid = np.arange(cfg["ri_range"][0], cfg["ri_range"][1] + 1e-9, k / 2)

    def density(g, r):
        if len(g) == 0:
            return np.zeros((len(rgrid), len(ggrid)))
        wg = np.exp(-0.5 * ((ggrid[None, :] - g[:, None]) / k) ** 2)
        wr = np.exp(-0.5 * ((rgrid[None, :] - r[:, None]) / k) ** 2)
        return wr.T @ wg

    excess_map = density(gi, ri_) - ratio * density(gb, rb)
    j, i = np.unravel_index(int(np.argmax(excess_map)), excess_map.shape)
    cg, cr = float(ggrid[i]), float(rgrid[j])
    # 2. iterate a background-subtracted mean within a fixed colour window
    hg, hr = float(cfg["halfwidth_gr"]), float(cfg["halfwidth_ri"])
    excess = 0.0
    nb_expected = 0.0
    for _ in range(int(cfg["iterations"])):
        win_in = ((gi - cg) / hg) ** 2 + ((ri_ - cr) / hr) ** 2 <= 1.0
        win_bg = ((gb - cg) / hg) ** 2 + ((rb - cr) / hr) ** 2 <= 1.0
        nb_expected = ratio * win_bg.sum()
        excess = win_in.sum() - nb_expected
        if excess < float(cfg["min_excess"]):
            break
        ng = (gi[win_in].sum() - ratio * gb[win_bg].sum()) / excess
        nr = (ri_[win_in].sum() - ratio * rb[win_bg].sum()) / excess
        # keep the mean within the window it was measured in (guards against a noisy background)
        ng = float(np.clip(ng, cg - hg, cg + hg))
        nr = float(np.clip(nr, cr - hr, cr + hr))
        done = abs(ng - cg) < 1e-4 and abs(nr - cr) < 1e-4
        cg, cr = ng, nr
        if done:
            break
    out["excess"] = float(excess)
    out["n_background_expected"] = float(nb_expected)
    if excess < float(cfg["min_excess"]):
        out["flag"] = "no_red_sequence"
        return out
    out["gr"], out["ri"] = cg, cr
    return out


def count_members(
    cat: ViewCatalogue,
    region: Region,
    gr: float,
    ri: float,
    z: float,
    radius_kpc: float,
    luminosity_cut: float,
    cfg: dict,
) -> dict:
    """Red-sequence galaxies brighter than ``luminosity_cut`` L* at z within ``radius_kpc``, field subtracted.

    Returns ``count`` (background-subtracted, may be ≤ 0), ``n_raw``, ``n_background_expected``,
    ``coverage`` (fraction of the circle inside the image) and ``mag_cut``; ``cfg`` as in find_colour.
    """
    s = cat.sources
    mag_cut = float(m_star_r(z) - 2.5 * np.log10(luminosity_cut))
    radius_px = float(kpc_to_arcsec(radius_kpc, z)) / cat.pixel_scale_arcsec
    colour_ok = (
        np.isfinite(s["gr"])
        & np.isfinite(s["ri"])
        & (
            ((s["gr"] - gr) / float(cfg["halfwidth_gr"])) ** 2 + ((s["ri"] - ri) / float(cfg["halfwidth_ri"])) ** 2
            <= 1.0
        )
    )
    sel = colour_ok & np.isfinite(s["mag_r"]) & (s["mag_r"] < mag_cut) & (s["flag"] == 0)
    centre = region.centre
    inside, area_in = circle_members(cat, centre, radius_px)
    inner = max(float(cfg["background_inner"]) * region.side, 1.1 * radius_px)
    far, far_area = outskirts(cat, centre, inner)
    out = {
        "count": np.nan,
        "n_raw": int((sel & inside).sum()),
        "n_background_expected": np.nan,
        "coverage": min(1.0, area_in / (np.pi * radius_px**2)),
        "mag_cut": mag_cut,
        "radius_px": radius_px,
        "flag": "ok",
    }
    if far_area < float(cfg["min_background_fraction"]) * cat.shape[0] * cat.shape[1]:
        out["flag"] = "no_background"
        return out
    nb = area_in / far_area * float((sel & far).sum())
    out["n_background_expected"] = nb
    out["count"] = out["n_raw"] - nb
    return out
