"""Ground-truth boxes in training-image pixels, and the PNG pixel <-> sky mapping.

Pixel convention of ``labels.ecsv`` (and of the detector's predictions):
  * x, y are 0-based, pixel-CENTRE coordinates of the training PNG (pixel (0, 0) is the
    centre of the top-left pixel; the image spans -0.5 .. size-0.5), x to the right,
    y DOWN (the PNG row index; row 0 is the top of the image).
  * The FITS image (nx, ny pixels, 0-based astropy pixel coordinates, FITS row 0 at the
    BOTTOM) maps onto the PNG by the resampling scale s = n / size per axis and a vertical
    flip:  x_fits = (x + 0.5) s_x - 0.5,   y_fits = (size - 0.5 - y) s_y - 0.5.
  * Boxes (x0, y0, x1, y1) are clipped to [0, size - 1].
The reference band for the WCS is r (extension R); all bands share one grid.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table

from deepcee.core.cosmology import kpc_to_arcsec
from deepcee.core.errors import DeepCeeError
from deepcee.images.fits import reference_wcs

LABEL_COLUMNS = [
    "view",
    "png",
    "fits",
    "cluster_id",
    "ra",
    "dec",
    "z",
    "richness",
    "bcg_rmag",
    "offset_ra_arcsec",
    "offset_dec_arcsec",
    "x",
    "y",
    "x0",
    "y0",
    "x1",
    "y1",
    "split",
    "flipped",
]


def fits_to_png(x_fits, y_fits, shape, output_size):
    """FITS 0-based pixel coordinates -> PNG (x right, y down) 0-based pixel coordinates."""
    ny, nx = shape
    sx, sy = nx / output_size, ny / output_size
    x = (np.asarray(x_fits, dtype=float) + 0.5) / sx - 0.5
    y = output_size - 0.5 - (np.asarray(y_fits, dtype=float) + 0.5) / sy
    return x, y


def png_to_fits(x, y, shape, output_size):
    ny, nx = shape
    sx, sy = nx / output_size, ny / output_size
    xf = (np.asarray(x, dtype=float) + 0.5) * sx - 0.5
    yf = (output_size - 0.5 - np.asarray(y, dtype=float)) * sy - 0.5
    return xf, yf


def png_pixel_to_sky(fits_path, x, y, output_size, flipped: bool = False):
    """PNG pixel(s) of a view -> (ra, dec) in degrees, through the view's FITS WCS.

    ``flipped``: the coordinates are on the horizontally flipped copy (``<view>_flip.png``).
    """
    w, shape = reference_wcs(fits_path)
    x = np.asarray(x, dtype=float)
    if flipped:
        x = (output_size - 1) - x
    xf, yf = png_to_fits(x, y, shape, output_size)
    sky = w.pixel_to_world(xf, yf)
    return sky.ra.deg, sky.dec.deg


def sky_to_png_pixel(fits_path, ra, dec, output_size, flipped: bool = False):
    """(ra, dec) degrees -> PNG pixel (x, y) of a view (inverse of :func:`png_pixel_to_sky`)."""
    w, shape = reference_wcs(fits_path)
    xf, yf = w.world_to_pixel(SkyCoord(np.asarray(ra, dtype=float) * u.deg, np.asarray(dec, dtype=float) * u.deg))
    x, y = fits_to_png(xf, yf, shape, output_size)
    if flipped:
        x = (output_size - 1) - x
    return x, y


def box_half_width_px(fits_path, z, box_kpc, output_size):
    """Half the box side in PNG pixels (x, y) for a physical side ``box_kpc`` at redshift z."""
    from deepcee.images.fits import pixel_area_arcsec2

    w, shape = reference_wcs(fits_path)
    scale_arcsec = np.sqrt(pixel_area_arcsec2(w))
    side_arcsec = float(kpc_to_arcsec(box_kpc, z))
    ny, nx = shape
    return 0.5 * side_arcsec / scale_arcsec * output_size / nx, 0.5 * side_arcsec / scale_arcsec * output_size / ny


def label_view(view, fits_path, png_path, output_size, box_kpc):
    """One label row (dict) for a view, not flipped, split unset."""
    fits_path = str(fits_path)
    if not Path(fits_path).exists():
        raise DeepCeeError(f"{fits_path}: FITS for view {view['view']} not found")
    x, y = sky_to_png_pixel(fits_path, float(view["ra"]), float(view["dec"]), output_size)
    x, y = float(x), float(y)
    if not (np.isfinite(x) and np.isfinite(y)):
        raise DeepCeeError(f"{fits_path}: cluster {view['cluster_id']} does not project onto the WCS")
    if not (-0.5 <= x <= output_size - 0.5 and -0.5 <= y <= output_size - 0.5):
        raise DeepCeeError(
            f"{fits_path}: cluster {view['cluster_id']} lies outside the image "
            f"(x={x:.1f}, y={y:.1f}, size {output_size})"
        )
    hx, hy = box_half_width_px(fits_path, float(view["z"]), box_kpc, output_size)
    lim = output_size - 1
    bcg = view["bcg_rmag"]
    return {
        "view": str(view["view"]),
        "png": str(png_path),
        "fits": fits_path,
        "cluster_id": str(view["cluster_id"]),
        "ra": float(view["ra"]),
        "dec": float(view["dec"]),
        "z": float(view["z"]),
        "richness": float(view["richness"]),
        "bcg_rmag": float(bcg) if bcg is not None and not np.ma.is_masked(bcg) else np.nan,
        "offset_ra_arcsec": float(view["offset_ra_arcsec"]),
        "offset_dec_arcsec": float(view["offset_dec_arcsec"]),
        "x": x,
        "y": y,
        "x0": float(np.clip(x - hx, 0, lim)),
        "y0": float(np.clip(y - hy, 0, lim)),
        "x1": float(np.clip(x + hx, 0, lim)),
        "y1": float(np.clip(y + hy, 0, lim)),
        "split": "",
        "flipped": False,
    }


def flip_row(row: dict, output_size: int, png_path: str) -> dict:
    """The label of the horizontally flipped copy: x -> size-1-x, box mirrored."""
    lim = output_size - 1
    out = dict(row)
    out.update(
        view=f"{row['view']}_flip",
        png=str(png_path),
        flipped=True,
        x=lim - row["x"],
        x0=lim - row["x1"],
        x1=lim - row["x0"],
    )
    return out


def labels_table(rows: list[dict], meta: dict | None = None) -> Table:
    if not rows:
        raise DeepCeeError("labels: no images to label")
    table = Table(rows=[[r[c] for c in LABEL_COLUMNS] for r in rows], names=LABEL_COLUMNS)
    for col in ("ra", "dec"):
        table[col].unit = u.deg
    for col in ("offset_ra_arcsec", "offset_dec_arcsec"):
        table[col].unit = u.arcsec
    table["bcg_rmag"].unit = u.mag
    table.meta.update(meta or {})
    table.meta["pixel_convention"] = (
        "x, y, boxes: 0-based pixel-centre coordinates of the training PNG, "
        "x right, y down (PNG row 0 = top = last FITS row); boxes clipped to "
        "[0, size-1]; flipped rows are <view>_flip.png with x -> size-1-x"
    )
    return table
