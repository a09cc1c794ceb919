"""RA/Dec boxes whose RA range may wrap through 0 (``ra_min > ra_max``).

One meaning for every box of the workflow (``evaluate.redmapper.region``, ``search.region``):
the box is ``[ra_min, ra_max) x [dec_min, dec_max)`` with RA taken modulo 360, running east
from ``ra_min``; so (359.5, 0.5) is the 1 deg wide box through RA 0 and (0, 360) the full ring.
"""

from __future__ import annotations

import math

import numpy as np


def ra_width(ra_min: float, ra_max: float) -> float:
    """Degrees of RA from ra_min east to ra_max (360 for the full ring, 0 only when equal)."""
    return (ra_max - ra_min) % 360.0 or (360.0 if ra_max != ra_min else 0.0)


def ra_centre(ra_min: float, ra_max: float) -> float:
    """The RA halfway from ra_min east to ra_max, in [0, 360)."""
    return (ra_min + ra_width(ra_min, ra_max) / 2.0) % 360.0


def in_ra_range(ra, ra_min: float, ra_max: float) -> np.ndarray:
    """Boolean mask: RA (any turn) inside [ra_min, ra_max) going east, wrapping through 0."""
    ra = np.mod(np.asarray(ra, dtype=float), 360.0)
    lo, hi = ra_min % 360.0, ra_max % 360.0
    return (ra >= lo) & (ra < hi) if lo < hi else (ra >= lo) | (ra < hi)


def in_box(ra, dec, ra_min: float, ra_max: float, dec_min: float, dec_max: float) -> np.ndarray:
    """Boolean mask: inside [ra_min, ra_max) x [dec_min, dec_max) (RA modulo 360)."""
    dec = np.asarray(dec, dtype=float)
    return in_ra_range(ra, ra_min, ra_max) & (dec >= dec_min) & (dec < dec_max)


def box_area_deg2(ra_min: float, ra_max: float, dec_min: float, dec_max: float) -> float:
    """Solid angle of an RA/Dec box in square degrees (RA wraps when ra_min > ra_max)."""
    return ra_width(ra_min, ra_max) * math.degrees(math.sin(math.radians(dec_max)) - math.sin(math.radians(dec_min)))


def ra_mean(ra) -> float:
    """Circular mean of RAs in degrees (0 for none): 359.9 and 0.1 average to 0, not 180."""
    rad = np.radians(np.asarray(ra, dtype=float))
    if rad.size == 0:
        return 0.0
    return float(np.degrees(np.arctan2(np.sin(rad).mean(), np.cos(rad).mean())) % 360.0)


def unwrap_ra(ra, centre: float | None = None) -> np.ndarray:
    """RA within 180 deg of ``centre`` (default: the points' circular mean), so a patch across 0
    plots as one patch: 359.9 becomes -0.1 beside 0.1. Take the result modulo 360 to label it."""
    ra = np.asarray(ra, dtype=float)
    centre = ra_mean(ra) if centre is None else centre
    return np.mod(ra - centre + 180.0, 360.0) - 180.0 + centre


def ra_intervals(ra_lo: float, ra_hi: float) -> list[tuple[float, float]]:
    """An RA range from ra_lo east to ra_hi (either may be unwrapped, e.g. -0.5 to 0.5) as
    non-wrapping intervals inside [0, 360], for code that only takes ``lo <= ra <= hi``."""
    if ra_hi - ra_lo >= 360.0:
        return [(0.0, 360.0)]
    lo, hi = ra_lo % 360.0, ra_hi % 360.0
    if lo <= hi:
        return [(lo, hi)]
    return [(lo, 360.0), (0.0, hi)]
