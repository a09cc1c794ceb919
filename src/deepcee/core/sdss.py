"""SDSS imaging geometry (the camera's pixel scale, a frame's size, whole-pixel binning) and the
names of the bundled field folders.

Kept apart from ``core.cosmology`` so that the workflow's config check and rules/common.smk (read
at every Snakemake start, every Slurm job and every dry run) import neither astropy.cosmology nor
astropy's FITS and coordinates (together about 4 s).
"""

from __future__ import annotations

from pathlib import Path

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


#: The coarsest pixel the real-galaxy library is measured at (images/mock/galaxy_library.py): at
#: 4 native pixels a galaxy still has a shape and each field a stellar locus; coarser views sum its stamps.
LIBRARY_MAX_SCALE_ARCSEC = 1.584


def library_pixel_scale(view_scale_arcsec: float) -> float | None:
    """The pixel scale the galaxy library is measured at for views of ``view_scale_arcsec``: the
    coarsest whole number of native pixels up to ``LIBRARY_MAX_SCALE_ARCSEC`` that bins to the
    views' pixel by a whole number (6.336" views: 1.584"; 1.584": itself); None for a scale that
    is no whole multiple of the native pixel."""
    factor = binning_factor(view_scale_arcsec)
    if factor is None:
        return None
    most = int(round(LIBRARY_MAX_SCALE_ARCSEC / SDSS_PIXEL_SCALE_ARCSEC))
    k = max(k for k in range(1, most + 1) if factor % k == 0)
    return round(k * SDSS_PIXEL_SCALE_ARCSEC, 6)


def field_folders(value) -> list[str]:
    """A config value naming one field folder or a list of them, as a list (order kept)."""
    if value is None:
        return []
    if isinstance(value, (str, Path)):
        return [str(value)]
    return [str(v) for v in value]


def field_name(folder: str | Path) -> str:
    """The short name of a field folder: ``sdss-frames-run1035-camcol6-field17-gri`` -> itself (the
    folder name is unique in resources/ and says run, camcol and field)."""
    return Path(folder).name
