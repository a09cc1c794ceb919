"""The paper's colour images: per-band flux limits + square-root stretch, i,r,g -> R,G,B.

Paper §2.2: the i, r, g images are "set to the same scaling and aspect ratios", stacked to
RGB and stretched "with a square root function" between "lower and upper flux limits".
We use ``astropy.visualization.ManualInterval(lower, upper)`` then ``SqrtStretch`` per band.

Units of the limits: nanomaggies per native SDSS pixel (0.396"), i.e. the pixel values are
first scaled by (0.396" / pixel side)^2 using the FITS WCS, so the same limits work for a
2000 px 0.396"/px SkyView cutout and a binned 1.584"/px mock view.

Resampling to the training size (paper: 2000 -> 1000 px) averages the float images
(PIL BOX filter on mode 'F', i.e. area-weighted mean, surface brightness kept) BEFORE the
stretch. Orientation: PNG row 0 is the TOP of the image = the LAST FITS row (FITS y grows
upward when displayed), so north is up for a north-up WCS.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.visualization import ManualInterval, SqrtStretch
from PIL import Image

from deepcee.core.config import schema_defaults
from deepcee.core.errors import DeepCeeError
from deepcee.core.files import write_png
from deepcee.core.sdss import SDSS_PIXEL_SCALE_ARCSEC
from deepcee.images.fits import pixel_area_arcsec2, read_view_fits

#: default limits (nMgy per native SDSS pixel); lower = -0.5 sigma of a typical r sky pixel
RGB_ORDER = ("i", "r", "g")  # R, G, B


def resample(data: np.ndarray, size: int) -> np.ndarray:
    """Area-average (or interpolate up) a 2-D float image to ``size`` x ``size``."""
    if data.shape == (size, size):
        return data.astype(np.float32, copy=False)
    ny, nx = data.shape
    if ny % size == 0 and nx % size == 0:
        fy, fx = ny // size, nx // size
        return data.reshape(size, fy, size, fx).mean(axis=(1, 3), dtype=np.float64).astype(np.float32)
    img = Image.fromarray(np.ascontiguousarray(data, dtype=np.float32), mode="F")
    return np.asarray(img.resize((size, size), resample=Image.Resampling.BOX), dtype=np.float32)


def stretch_band(data: np.ndarray, lower: float, upper: float) -> np.ndarray:
    """ManualInterval + SqrtStretch -> float in [0, 1] (NaNs -> 0)."""
    if not upper > lower:
        raise DeepCeeError(f"stretch limits: upper ({upper}) must exceed lower ({lower})")
    values = np.nan_to_num(np.asarray(data, dtype=np.float32), nan=lower)
    scaled = ManualInterval(lower, upper)(values, clip=True)
    return SqrtStretch()(scaled, clip=True)


def to_rgb(bands: dict, limits: dict, output_size: int, native_factor: float = 1.0) -> np.ndarray:
    """``bands[b]`` 2-D arrays (FITS orientation) -> uint8 (size, size, 3) with PNG row 0 on top."""
    channels = []
    for b in RGB_ORDER:
        lo, hi = limits[b]
        small = resample(np.asarray(bands[b], dtype=np.float32) * np.float32(native_factor), output_size)
        channels.append(stretch_band(small, lo, hi))
    rgb = np.stack(channels, axis=-1)[::-1]  # FITS row 0 (bottom) -> PNG last row
    return np.clip(np.round(rgb * 255.0), 0, 255).astype(np.uint8)


def native_factor(w) -> float:
    """Scale that turns flux per pixel into flux per native SDSS pixel."""
    return SDSS_PIXEL_SCALE_ARCSEC**2 / pixel_area_arcsec2(w)


def png_side(fits_side: int, output_size: int, pixels: int) -> int:
    """The PNG side of a FITS view ``fits_side`` pixels wide: resampled by the stage's one factor
    ``output_size / pixels`` (500 / 500 in the default), so a 350 px view over a real field
    becomes a 350 px PNG at the same scale as the 500 px synthetic views."""
    return max(1, int(round(int(fits_side) * int(output_size) / int(pixels))))


def stretch_fits(
    fits_path: str | Path, png_path: str | Path, limits: dict | None, output_size: int, pixels: int | None = None
) -> np.ndarray:
    """FITS view -> PNG (and the RGB array).

    ``output_size`` is the PNG side of a ``pixels``-wide view; a view of another width keeps that
    ratio (``png_side``). Without ``pixels`` every view becomes ``output_size`` wide.
    """
    if limits is None:  # callers outside the workflow: schemas/images.schema.yaml's stretch.limits
        limits = schema_defaults("images")["stretch"]["limits"]
    bands = read_view_fits(fits_path, wcs_bands=("r",))
    if pixels is not None:
        output_size = png_side(bands["r"][0].shape[1], output_size, pixels)
    factor = native_factor(bands["r"][1])
    rgb = to_rgb({b: bands[b][0] for b in bands}, limits, output_size, factor)
    write_png(png_path, rgb)
    return rgb
