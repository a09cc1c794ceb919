"""SDSS imaging geometry: the camera's pixel scale, a frame's size, and whole-pixel binning.

Kept apart from ``core.cosmology`` so that the workflow's config check (run at every Snakemake
start, every Slurm job and every dry run) needs no astropy.cosmology import (about 2 s).
"""

from __future__ import annotations

#: SDSS imaging camera pixel scale (paper §2.2).
SDSS_PIXEL_SCALE_ARCSEC = 0.396
#: An SDSS frame's columns x rows of native 0.396" pixels; a field's footprint (the part all three
#: bands cover) is a few to a dozen pixels less each way.
SDSS_FRAME_PIXELS = (2048, 1489)


def binning_factor(pixel_scale_arcsec: float) -> int | None:
    """The whole number of native 0.396" pixels one ``pixel_scale_arcsec`` pixel bins (within
    0.001"), or None where it is no whole multiple (the config check refuses such a scale)."""
    factor = int(round(float(pixel_scale_arcsec) / SDSS_PIXEL_SCALE_ARCSEC))
    if factor < 1 or abs(factor * SDSS_PIXEL_SCALE_ARCSEC - pixel_scale_arcsec) > 1e-3:
        return None
    return factor
