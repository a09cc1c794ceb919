"""Truth boxes: centre where the WCS puts the cluster (mock + real SDSS frames), flips, round trips."""

from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from deepcee.core.cosmology import kpc_to_arcsec
from deepcee.images.fits import reference_wcs
from deepcee.images.labels import flip_row, label_view, png_pixel_to_sky, sky_to_png_pixel
from images_helpers import real_frames_mef


def _view(ra, dec, z=0.15):
    return {
        "view": "V_v0",
        "cluster_id": "V",
        "ra": ra,
        "dec": dec,
        "z": z,
        "richness": 30.0,
        "bcg_rmag": np.nan,
        "offset_ra_arcsec": 0.0,
        "offset_dec_arcsec": 0.0,
    }


@pytest.fixture(scope="module")
def rm_mef(tmp_path_factory):
    """The real SDSS r frame holding RMJ091221.5+212953.7 (as G, R and I)."""
    return real_frames_mef(tmp_path_factory.mktemp("rm") / "rm.fits", which="rm")


@pytest.mark.parametrize("size", [500, 1000, 333])
def test_real_frame_label_at_wcs_position(rm_mef, size):
    ra, dec = 138.0897, 21.4983  # the redMaPPer cluster in this real frame
    lab = label_view(_view(ra, dec, 0.282), rm_mef, "x.png", size, 500.0)
    w, (ny, nx) = reference_wcs(rm_mef)
    xf, yf = w.world_to_pixel(SkyCoord(ra * u.deg, dec * u.deg))
    # independent: fractional position across the frame, PNG y measured from the top
    fx, fy = (xf + 0.5) / nx, (yf + 0.5) / ny
    assert abs(lab["x"] - (fx * size - 0.5)) < 0.5
    assert abs(lab["y"] - ((1 - fy) * size - 0.5)) < 0.5
    # round trip through the helper used by inference
    ra2, dec2 = png_pixel_to_sky(rm_mef, lab["x"], lab["y"], size)
    sep = SkyCoord(ra * u.deg, dec * u.deg).separation(SkyCoord(ra2 * u.deg, dec2 * u.deg)).arcsec
    assert sep < 1e-3


def test_real_blank_gri_frames(tmp_path):
    mef = real_frames_mef(tmp_path / "blank.fits", which="blank")
    w, (ny, nx) = reference_wcs(mef)
    centre = w.pixel_to_world(nx / 2 - 0.5, ny / 2 - 0.5)
    x, y = sky_to_png_pixel(mef, centre.ra.deg, centre.dec.deg, 400)
    assert abs(x - 199.5) < 0.5 and abs(y - 199.5) < 0.5


def test_box_size_and_clipping(rm_mef):
    size = 500
    lab = label_view(_view(138.0897, 21.4983, 0.282), rm_mef, "x.png", size, 500.0)
    w, (ny, nx) = reference_wcs(rm_mef)
    side_arcsec = float(kpc_to_arcsec(500.0, 0.282))
    assert lab["x1"] - lab["x0"] == pytest.approx(side_arcsec / 0.396 * size / nx, rel=0.01) or lab["x0"] == 0
    assert 0 <= lab["x0"] < lab["x"] < lab["x1"] <= size - 1
    assert 0 <= lab["y0"] < lab["y"] < lab["y1"] <= size - 1
    # near a corner the box is clipped to the image
    corner = w.pixel_to_world(5, 5)
    lab = label_view(_view(corner.ra.deg, corner.dec.deg, 0.282), rm_mef, "x.png", size, 500.0)
    assert lab["x0"] == 0 and lab["y1"] == size - 1


def test_flip_mirrors_box(rm_mef):
    size = 500
    lab = label_view(_view(138.0897, 21.4983, 0.282), rm_mef, "x.png", size, 500.0)
    f = flip_row(lab, size, "x_flip.png")
    assert f["flipped"] and f["view"] == "V_v0_flip"
    assert f["x"] == pytest.approx(size - 1 - lab["x"])
    assert f["x0"] == pytest.approx(size - 1 - lab["x1"]) and f["x1"] == pytest.approx(size - 1 - lab["x0"])
    assert (f["y"], f["y0"], f["y1"]) == (lab["y"], lab["y0"], lab["y1"])
    # the flipped pixel maps to the same sky position
    ra, dec = png_pixel_to_sky(rm_mef, f["x"], f["y"], size, flipped=True)
    assert ra == pytest.approx(138.0897, abs=1e-6) and dec == pytest.approx(21.4983, abs=1e-6)


def test_flipped_png_pixels_mirror(tmp_path):
    from PIL import Image

    from deepcee.images.split import flip_png

    arr = np.random.default_rng(0).integers(0, 255, (6, 7, 3), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "a.png")
    flip_png(tmp_path / "a.png", tmp_path / "a_flip.png")
    with Image.open(tmp_path / "a_flip.png") as im:
        assert np.array_equal(np.asarray(im), arr[:, ::-1])


def test_cluster_outside_image_is_an_error(rm_mef):
    from deepcee.core.errors import DeepCeeError

    with pytest.raises(DeepCeeError, match="outside the image"):
        label_view(_view(140.0, 25.0), rm_mef, "x.png", 500, 500.0)
