"""Helpers shared by the image-stage tests: tiny configs, a small catalogue, real-frame MEFs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from deepcee.core.config import with_defaults
from deepcee.images.fits import write_view_fits

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
BLANK = RESOURCES / "sdss-frames-run2126-camcol1-gri"
NGC = RESOURCES / "sdss-gri-ngc6976-reprojected"
RM_FRAME = RESOURCES / "sdss-frame-r-redmapper-cluster" / "frame-r-ra138.090-dec21.498-redshift0.282.fits.bz2"


def small_images_cfg(**over):
    cfg = {
        "source": "mock",
        "views_per_cluster": 2,
        "max_offset_arcsec": 60.0,
        "pixels": 160,
        "pixel_scale_arcsec": 1.584,
        "shards": 2,
        "mock": {"mag_limit": 21.0, "exact_mag": 18.5},
        "stretch": {"output_size": 80},
        "labels": {"box_kpc": 500.0},
        "split": {"by": "view", "test_fraction": 0.25},
        "augment": {"hflip": True},
    }
    cfg.update(over)
    return with_defaults("images", cfg)  # the rest from schemas/images.schema.yaml, as in the workflow


def small_catalogue(n=4):
    rows = []
    for k in range(n):
        rows.append(
            (
                f"T{k}",
                f"TEST{k}",
                150.0 + 0.7 * k,
                10.0 + 0.3 * k,
                0.11 + 0.025 * k,
                25.0 + 10 * k,
                25.0 + 10 * k,
                np.nan,
                f"A{k}",
                "test",
            )
        )
    from deepcee.core.contracts import rows_table

    return rows_table("catalogue", rows)  # the normalised catalogue, units included


def real_frames_mef(path, which="blank"):
    """A G/R/I MEF built from bundled real SDSS frames, each band with its own real header/WCS."""
    images, wcss = {}, {}
    for band in ("g", "r", "i"):
        if which == "blank":
            f = BLANK / f"rand_img-{band}-ra174.034-dec3.910-redshift0.294.fits.bz2"
        elif which == "ngc":
            f = NGC / f"reprojected_sdss_{band}.fits.bz2"
        else:  # the redMaPPer-cluster r frame for every band
            f = RM_FRAME
        with fits.open(f) as hdul:
            images[band] = np.asarray(hdul[0].data, dtype=np.float32)
            wcss[band] = WCS(hdul[0].header).celestial
    write_view_fits(path, images, wcss)
    return path


def prepared_fields(out_dir, folders=(BLANK,), pixel_scale_arcsec=1.584) -> dict:
    """Real fields aligned and binned for the render (images.mock.real_fields): name -> FITS."""
    from deepcee.images.mock.real_fields import prepare_fields

    return {f["field"]: f["fits"] for f in prepare_fields(list(folders), pixel_scale_arcsec, out_dir)}
