"""Per-view multi-band FITS: one layout whatever the source (SkyView or the mock).

``<view>.fits`` = an empty primary HDU + image extensions named ``G``, ``R``, ``I``,
float32, ``BUNIT = 'nanomaggy'`` (flux per pixel; m = 22.5 - 2.5 log10 f), each with a
full celestial WCS. All three bands share one pixel grid (SkyView resamples every
survey onto the grid requested; the mock renders onto it).

``source: skyview`` downloads ``SDSSg``, ``SDSSr``, ``SDSSi`` (SDSS DR9 via NASA
SkyView, paper §2.2 footnote 7) with astroquery, caches every band on disk, retries
with exponential backoff, and says what to do when the network is not there.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS

from deepcee.core.errors import DeepCeeError
from deepcee.core.files import atomic_path
from deepcee.core.network import RetriesExhausted, with_retries

BANDS = ("g", "r", "i")
EXTNAMES = {"g": "G", "r": "R", "i": "I"}


# --------------------------------------------------------------------------- writing / reading


def make_wcs(ra: float, dec: float, pixels: int, pixel_scale_arcsec: float) -> WCS:
    """A north-up, east-left TAN WCS centred on (ra, dec), like a SkyView cutout."""
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [ra, dec]
    w.wcs.crpix = [(pixels + 1) / 2.0, (pixels + 1) / 2.0]
    w.wcs.cd = np.array([[-pixel_scale_arcsec / 3600.0, 0.0], [0.0, pixel_scale_arcsec / 3600.0]])
    w.wcs.radesys = "ICRS"
    w.wcs.equinox = 2000.0
    return w


def write_view_fits(path: str | Path, images: dict, wcs: WCS | dict, meta: dict | None = None) -> None:
    """Write ``images[band]`` (2-D arrays) as the G, R, I MEF, atomically.

    ``wcs`` is one WCS for all bands, or a dict band -> WCS/Header.
    """
    primary = fits.PrimaryHDU()
    for key, value in (meta or {}).items():
        primary.header[key[:8].upper()] = value
    hdus = [primary]
    for band in BANDS:
        if band not in images:
            raise DeepCeeError(f"{path}: band {band} missing, nothing written")
        w = wcs[band] if isinstance(wcs, dict) else wcs
        header = w.to_header() if isinstance(w, WCS) else fits.Header(w)
        hdu = fits.ImageHDU(np.asarray(images[band], dtype=np.float32), header=header, name=EXTNAMES[band])
        hdu.header["BUNIT"] = "nanomaggy"
        hdu.header["FILTER"] = band
        hdus.append(hdu)
    with atomic_path(path) as tmp:
        fits.HDUList(hdus).writeto(tmp, overwrite=True)


def _celestial_wcs(header: fits.Header, path, ext: str) -> WCS:
    try:
        w = WCS(header, naxis=2)
    except Exception as err:  # astropy raises several types for broken headers
        raise DeepCeeError(f"{path}: extension {ext} has an unreadable WCS ({err.__class__.__name__})") from None
    if not w.has_celestial or w.celestial.naxis != 2:
        raise DeepCeeError(f"{path}: extension {ext} has no celestial WCS")
    return w.celestial


def read_view_fits(path: str | Path, wcs_bands=BANDS) -> dict:
    """``{band: (float32 array, WCS or None)}`` for g, r, i; bad files raise a one-line error.

    A full WCS is parsed for ``wcs_bands`` only (parsing costs ~10 ms a band); the other
    bands are still checked for celestial CTYPEs.
    """
    path = Path(path)
    if not path.exists():
        raise DeepCeeError(f"{path}: FITS file not found")
    try:
        hdul = fits.open(path, memmap=False)
    except Exception as err:
        raise DeepCeeError(f"{path}: not a readable FITS file ({err.__class__.__name__})") from None
    out = {}
    with hdul:
        names = {h.name.upper(): h for h in hdul}
        shape = None
        for band in BANDS:
            ext = EXTNAMES[band]
            if ext not in names:
                raise DeepCeeError(f"{path}: band {band} (extension {ext}) missing")
            hdu = names[ext]
            if hdu.data is None or np.ndim(hdu.data) != 2:
                raise DeepCeeError(f"{path}: extension {ext} holds no 2-D image")
            if band in wcs_bands:
                w = _celestial_wcs(hdu.header, path, ext)
            else:
                w = None
                ctypes = [str(hdu.header.get(f"CTYPE{k}", "")) for k in (1, 2)]
                if not (any(c.startswith("RA") for c in ctypes) and any(c.startswith("DEC") for c in ctypes)):
                    raise DeepCeeError(f"{path}: extension {ext} has no celestial WCS")
            data = np.asarray(hdu.data, dtype=np.float32)
            if shape is not None and data.shape != shape:
                raise DeepCeeError(f"{path}: extension {ext} shape {data.shape} differs from {shape}")
            shape = data.shape
            out[band] = (data, w)
    return out


def reference_wcs(path: str | Path) -> tuple[WCS, tuple[int, int]]:
    """The WCS of the R extension (the labels' reference band) and the image shape (ny, nx).

    Cached per file version (path, size, mtime): a label needs it twice, a prediction once per box set.
    """
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        raise DeepCeeError(f"{path}: not a readable FITS file (missing)") from None
    return _reference_wcs(str(path), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=256)
def _reference_wcs(path_text: str, _size: int, _mtime_ns: int) -> tuple[WCS, tuple[int, int]]:
    path = Path(path_text)
    try:
        with fits.open(path, memmap=False) as hdul:
            if "R" not in [h.name.upper() for h in hdul]:
                raise DeepCeeError(f"{path}: band r (extension R) missing")
            hdu = hdul["R"]
            if hdu.header.get("NAXIS", 0) != 2:
                raise DeepCeeError(f"{path}: extension R holds no 2-D image")
            shape = (int(hdu.header["NAXIS2"]), int(hdu.header["NAXIS1"]))
            return _celestial_wcs(hdu.header, path, "R"), shape
    except OSError as err:
        raise DeepCeeError(f"{path}: not a readable FITS file ({err.__class__.__name__})") from None


def pixel_area_arcsec2(w: WCS) -> float:
    """Pixel area in arcsec^2 at the reference pixel."""
    from astropy.wcs.utils import proj_plane_pixel_area

    return float(proj_plane_pixel_area(w.celestial)) * 3600.0**2


# --------------------------------------------------------------------------- SkyView


def _cache_file(cache_dir: Path, survey: str, ra: float, dec: float, pixels: int, width_arcsec: float) -> Path:
    key = f"{survey}|{ra:.7f}|{dec:.7f}|{pixels}|{width_arcsec:.4f}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return cache_dir / f"{survey}_{ra:.5f}_{dec:+.5f}_{pixels}_{digest}.fits"


def fetch_skyview_band(
    ra: float,
    dec: float,
    survey: str,
    pixels: int,
    pixel_scale_arcsec: float,
    *,
    cache_dir: str | Path = ".cache/skyview",
    retries: int = 4,
    backoff_s: float = 2.0,
    timeout_s: float = 120.0,
    label: str = "",
    band: str = "",
    sleep: Callable[[float], None] = time.sleep,
) -> fits.ImageHDU:
    """One SkyView cutout (``pixels`` square at ``pixel_scale_arcsec``), cached on disk.

    Retries ``retries`` times with exponential backoff (``backoff_s * 2**k``); then one
    line saying how to proceed offline.
    """
    from astroquery.skyview import SkyView

    cache_dir = Path(cache_dir)
    width = pixels * pixel_scale_arcsec
    cached = _cache_file(cache_dir, survey, ra, dec, pixels, width)
    if cached.exists():
        with fits.open(cached, memmap=False) as hdul:
            return fits.ImageHDU(np.asarray(hdul[0].data, dtype=np.float32), header=hdul[0].header)
    position = SkyCoord(ra * u.deg, dec * u.deg)

    def ask():
        SkyView.TIMEOUT = timeout_s
        return SkyView.get_images(
            position=position,
            survey=[survey],
            pixels=pixels,
            width=width * u.arcsec,
            height=width * u.arcsec,
            coordinates="J2000",
            projection="Tan",
        )

    try:
        result = with_retries(ask, retries, backoff_s, sleep)
    except RetriesExhausted as err:
        raise DeepCeeError(
            f"cluster {label}: SkyView download of band {band} ({survey}) failed after {retries} tries "
            f"({err.summary}); pre-fetch on a node with network "
            f"(snakemake --cores 1 images_download) or set images.source: mock"
        ) from None
    if not result or result[0] is None or result[0][0].data is None:
        raise DeepCeeError(f"cluster {label}: SkyView returned no image for band {band} ({survey})")
    hdu = result[0][0]
    data = np.asarray(hdu.data, dtype=np.float32)
    if data.shape != (pixels, pixels) or not np.isfinite(data).any():
        raise DeepCeeError(
            f"cluster {label}: SkyView returned an empty or mis-sized image for band "
            f"{band} ({survey}, shape {data.shape})"
        )
    with atomic_path(cached) as tmp:
        fits.PrimaryHDU(data, header=hdu.header).writeto(tmp)
    return fits.ImageHDU(data, header=hdu.header)


def fetch_skyview_view(view: dict, cfg: dict, out_path: str | Path, **kwargs) -> None:
    """Download g, r, i for one view and write the MEF (nothing written unless all bands came)."""
    sv = cfg["skyview"]
    surveys = sv["surveys"]
    images, headers = {}, {}
    for band in BANDS:
        hdu = fetch_skyview_band(
            float(view["centre_ra"]),
            float(view["centre_dec"]),
            surveys[band],
            int(cfg["pixels"]),
            float(cfg["pixel_scale_arcsec"]),
            cache_dir=sv["cache_dir"],
            retries=int(sv["retries"]),
            backoff_s=float(sv["backoff_s"]),
            timeout_s=float(sv["timeout_s"]),
            label=str(view["cluster_id"]),
            band=band,
            **kwargs,
        )
        images[band] = hdu.data
        header = WCS(hdu.header, naxis=2).celestial
        if not header.has_celestial:
            raise DeepCeeError(f"cluster {view['cluster_id']}: SkyView image for band {band} has no WCS")
        headers[band] = header
    write_view_fits(out_path, images, headers, meta={"SOURCE": "skyview", "VIEW": str(view["view"])})
