"""Source extraction and aperture photometry of one view's G, R, I FITS with ``sep``.

Sources are detected once per view in r (the labels' reference band) over the whole
image, so the same catalogue serves the box (the cluster) and the image's outskirts
(the background). Colours come from one fixed circular aperture in every band; the
magnitude used for cuts is a Kron-like total r magnitude. Magnitudes are Pogson
magnitudes from nanomaggies, m = 22.5 - 2.5 log10 f (SDSS's zero point).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.wcs import WCS

from deepcee.core.errors import DeepCeeError
from deepcee.images.fits import BANDS, pixel_area_arcsec2, read_view_fits

COLUMNS = ("x", "y", "mag_r", "mag_g_ap", "mag_r_ap", "mag_i_ap", "gr", "ri", "gr_err", "ri_err", "flag", "r50_arcsec")


@dataclass
class ViewCatalogue:
    """The sources of one view: FITS 0-based pixel coordinates (r grid) and photometry."""

    path: str
    shape: tuple[int, int]
    wcs: WCS
    pixel_scale_arcsec: float
    sources: dict

    def __len__(self) -> int:
        return len(self.sources["x"])


def nmgy_to_mag(flux) -> np.ndarray:
    """Pogson magnitude from nanomaggies; non-positive flux gives NaN (an undetected band)."""
    flux = np.asarray(flux, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(flux > 0, 22.5 - 2.5 * np.log10(np.where(flux > 0, flux, 1.0)), np.nan)


def _native(data: np.ndarray) -> np.ndarray:
    # sep wants C-contiguous native-endian float arrays (FITS is big-endian).
    return np.ascontiguousarray(data, dtype=np.float64)


_GRID_KEYS = (
    "CRVAL1",
    "CRVAL2",
    "CRPIX1",
    "CRPIX2",
    "CD1_1",
    "CD1_2",
    "CD2_1",
    "CD2_2",
    "CDELT1",
    "CDELT2",
    "PC1_1",
    "PC1_2",
    "PC2_1",
    "PC2_2",
)


def _other_grids(path) -> dict:
    """WCS of the g and i extensions that are NOT on the r grid (real SDSS frames); {} for one grid.

    Comparing header keywords is ~100 times cheaper than parsing three WCS per view.
    """
    from astropy.io import fits

    with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
        ref = hdul["R"].header
        out = {}
        for band in ("g", "i"):
            head = hdul[band.upper()].header
            if any(head.get(k) != ref.get(k) for k in _GRID_KEYS):
                out[band] = WCS(head, naxis=2).celestial
    return out


def measure_view(path, cfg: dict) -> ViewCatalogue:
    """Detect in r, measure g, r, i in one aperture; bad FITS is a one-line DeepCeeError.

    ``cfg``: the complete ``redshift.photometry`` section (schemas/redshift.schema.yaml).
    """
    bands = read_view_fits(path, wcs_bands=("r",))
    return measure_bands({b: bands[b][0] for b in BANDS}, bands["r"][1], cfg, path, other=_other_grids(path))


def measure_image(image: np.ndarray, wcs: WCS, cfg: dict, label: str) -> ViewCatalogue:
    """As measure_view, for an in-memory 3 x N x N (g, r, i; nMgy per pixel; FITS orientation) image on
    one grid, e.g. a search cutout (search/acquire.py's layout); ``label`` names it in errors."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[0] != len(BANDS):
        raise DeepCeeError(f"{label}: expected a {len(BANDS)} x N x N image (g, r, i), got shape {image.shape}")
    return measure_bands({b: image[k] for k, b in enumerate(BANDS)}, wcs, cfg, label)


def measure_bands(data: dict, r_wcs: WCS, cfg: dict, path, other: dict | None = None) -> ViewCatalogue:
    """The photometry of measure_view on band arrays (nMgy per pixel); ``other``: the WCS of any band
    not on the r grid (real SDSS frames)."""
    import sep

    other = other or {}
    r_data = data["r"]
    scale = float(np.sqrt(pixel_area_arcsec2(r_wcs)))
    images, rms = {}, {}
    for band in BANDS:
        pixels = _native(data[band])
        bad = ~np.isfinite(pixels)
        if bad.all():
            raise DeepCeeError(f"{path}: extension {band.upper()} holds no finite pixel")
        pixels[bad] = 0.0
        try:
            bkg = sep.Background(pixels, mask=bad, bw=64, bh=64, fw=3, fh=3)
        except Exception as err:
            raise DeepCeeError(f"{path}: background of extension {band.upper()} failed ({err})") from None
        images[band] = pixels - bkg.back()
        rms[band] = float(bkg.globalrms) if np.isfinite(bkg.globalrms) and bkg.globalrms > 0 else 1e-6
    min_area = max(3, round(float(cfg["min_area_arcsec2"]) / scale**2))
    sep.set_extract_pixstack(max(300000, 4 * r_data.size))
    try:
        obj = sep.extract(
            images["r"], float(cfg["detect_sigma"]), err=rms["r"], minarea=min_area, deblend_cont=0.005, clean=True
        )
    except Exception as err:
        raise DeepCeeError(f"{path}: source extraction failed ({err})") from None
    if len(obj) > int(cfg["max_sources"]):
        obj = obj[np.argsort(-obj["flux"])[: int(cfg["max_sources"])]]
    x, y = np.asarray(obj["x"], dtype=float), np.asarray(obj["y"], dtype=float)
    r_ap = max(1.0, float(cfg["aperture_radius_arcsec"]) / scale)
    mags, errs, flags = {}, {}, np.zeros(len(x), dtype=int)
    for band in BANDS:
        bx, by = x, y
        w = other.get(band)
        if w is not None and len(x):
            # Real SDSS frames: each band on its own grid; go through the sky.
            bx, by = w.world_to_pixel(r_wcs.pixel_to_world(x, y))
            bx, by = np.asarray(bx, float), np.asarray(by, float)
        if len(bx):
            flux, ferr, flag = sep.sum_circle(images[band], bx, by, r_ap, err=rms[band], subpix=1)
        else:
            flux = ferr = np.zeros(0)
            flag = np.zeros(0, dtype=int)
        flags |= np.asarray(flag, dtype=int)
        mags[band] = nmgy_to_mag(flux)
        with np.errstate(divide="ignore", invalid="ignore"):
            errs[band] = np.where(flux > 0, 1.0857 * ferr / np.where(flux > 0, flux, 1.0), np.nan)
    # Total r: Kron aperture (2.5 r_K), never smaller than a fixed circle (faint, compact sources).
    mag_r = np.full(len(x), np.nan)
    r50 = np.full(len(x), np.nan)
    if len(x):
        a, b, theta = np.asarray(obj["a"], float), np.asarray(obj["b"], float), np.asarray(obj["theta"], float)
        good = np.isfinite(a) & np.isfinite(b) & np.isfinite(theta)
        a = np.where(good, np.clip(a, 0.5, None), 1.0)
        b = np.where(good, np.clip(b, 0.5, None), 1.0)
        a, b = np.maximum(a, b), np.minimum(a, b)
        theta = np.where(good, np.clip(theta, -np.pi / 2, np.pi / 2), 0.0)
        kr, _ = sep.kron_radius(images["r"], x, y, a, b, theta, 6.0)
        kr = np.where(np.isfinite(kr) & (kr > 0), kr, 0.1)
        flux, _, _ = sep.sum_ellipse(images["r"], x, y, a, b, theta, 2.5 * kr, subpix=1)
        r_min = max(1.0, float(cfg["kron_min_radius_arcsec"]) / scale)
        small = kr * np.sqrt(a * b) < r_min
        if small.any():
            cflux, _, _ = sep.sum_circle(images["r"], x[small], y[small], r_min, subpix=1)
            flux = np.asarray(flux, float)
            flux[small] = cflux
        mag_r = nmgy_to_mag(flux)
        # half-light radius in r: tells a galaxy (a BCG is arcseconds across) from a star (the PSF)
        half, _ = sep.flux_radius(images["r"], x, y, 6.0 * a, 0.5, normflux=np.asarray(flux, float), subpix=5)
        r50 = np.where(np.isfinite(half) & (half > 0), half * scale, np.nan)
    sources = {
        "x": x,
        "y": y,
        "mag_r": mag_r,
        "mag_g_ap": mags["g"],
        "mag_r_ap": mags["r"],
        "mag_i_ap": mags["i"],
        "gr": mags["g"] - mags["r"],
        "ri": mags["r"] - mags["i"],
        "gr_err": np.hypot(errs["g"], errs["r"]),
        "ri_err": np.hypot(errs["r"], errs["i"]),
        "flag": flags,
        "r50_arcsec": r50,
    }
    return ViewCatalogue(
        path=str(path), shape=tuple(r_data.shape), wcs=r_wcs, pixel_scale_arcsec=scale, sources=sources
    )
