"""The sqrt stretch on real SDSS frames: clipped, monotonic, deterministic, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from PIL import Image

from deepcee.core.config import schema_defaults
from deepcee.core.errors import DeepCeeError
from deepcee.images.stretch import resample, stretch_band, stretch_fits
from images_helpers import real_frames_mef


@pytest.fixture(scope="module")
def real_mef(tmp_path_factory):
    return real_frames_mef(tmp_path_factory.mktemp("real") / "ngc.fits", which="ngc")


def test_stretch_real_frames_clipped_and_monotonic(real_mef, tmp_path):
    png = tmp_path / "ngc.png"
    rgb = stretch_fits(real_mef, png, None, 200)
    assert rgb.dtype == np.uint8 and rgb.shape == (200, 200, 3)
    assert rgb.min() >= 0 and rgb.max() <= 255
    assert rgb.max() == 255 and rgb.min() < 40  # NGC 6976 saturates; the sky sits dark grey
    with Image.open(png) as im:
        assert im.mode == "RGB" and np.array_equal(np.asarray(im), rgb)
    # monotonic: within a channel, brighter (resampled) flux never maps to a darker value
    with fits.open(real_mef) as hdul:
        r = np.asarray(hdul["R"].data, dtype=np.float32)
    from deepcee.images.fits import pixel_area_arcsec2, read_view_fits

    factor = 0.396**2 / pixel_area_arcsec2(read_view_fits(real_mef)["r"][1])
    small = resample(r * factor, 200)[::-1]
    order = np.argsort(small.ravel(), kind="stable")
    assert np.all(np.diff(rgb[..., 1].ravel()[order].astype(int)) >= 0)


def test_stretch_band_monotonic_and_bounded():
    x = np.linspace(-1, 5, 10001, dtype=np.float32)
    y = stretch_band(x, *schema_defaults("images")["stretch"]["limits"]["r"])
    assert y.min() == 0.0 and y.max() == 1.0
    assert np.all(np.diff(y) >= 0)
    with pytest.raises(DeepCeeError):
        stretch_band(x, 1.0, 0.5)


def test_real_blank_frames_through_stretch(tmp_path):
    """Real 2048x1489 SDSS frames (RA along y) go through the same code (anisotropic resampling)."""
    mef = real_frames_mef(tmp_path / "blank.fits", which="blank")
    rgb = stretch_fits(mef, tmp_path / "blank.png", None, 128)
    assert rgb.shape == (128, 128, 3)
    # the sky-subtracted background sits low: median well below mid-grey, stars reach the top
    assert np.median(rgb) < 100 and rgb.max() == 255


def _mef(path, drop_band=None, drop_wcs=None):
    from astropy.wcs import WCS

    hdus = [fits.PrimaryHDU()]
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [10, 10]
    w.wcs.cdelt = [-1e-4, 1e-4]
    for b in "GRI":
        if b == drop_band:
            continue
        header = fits.Header() if b == drop_wcs else w.to_header()
        hdus.append(fits.ImageHDU(np.zeros((20, 20), np.float32), header=header, name=b))
    fits.HDUList(hdus).writeto(path)
    return path


@pytest.mark.parametrize("kind,match", [("band", "band i"), ("wcs", "extension R has no celestial WCS")])
def test_bad_fits_one_line_error_nothing_written(tmp_path, kind, match):
    bad = _mef(
        tmp_path / "bad.fits", drop_band="I" if kind == "band" else None, drop_wcs="R" if kind == "wcs" else None
    )
    png = tmp_path / "bad.png"
    with pytest.raises(DeepCeeError, match=match) as err:
        stretch_fits(bad, png, None, 10)
    assert "bad.fits" in str(err.value) and "\n" not in str(err.value)
    assert not png.exists() and not list(tmp_path.glob("*.part*"))


def test_not_a_fits_file(tmp_path):
    junk = tmp_path / "junk.fits"
    junk.write_text("not fits")
    with pytest.raises(DeepCeeError, match="junk.fits"):
        stretch_fits(junk, tmp_path / "j.png", None, 10)
