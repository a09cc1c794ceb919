"""BCG centring of predictions (deepcee.detector.centring) on a FITS view with a known galaxy and star."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table

from deepcee.core.config import with_defaults
from deepcee.core.errors import DeepCeeError
from deepcee.detector.centring import centre_predictions
from deepcee.images.fits import make_wcs, write_view_fits
from deepcee.images.labels import fits_to_png, png_pixel_to_sky

PIXELS, SCALE, PNG = 200, 1.584, 100  # FITS side, arcsec per pixel, PNG side
GALAXY = (112.0, 104.0)  # FITS pixels: an extended galaxy (r ~ 16.4, r50 ~ 7")
STAR = (92.0, 97.0)  # a brighter point source (r ~ 14.6), nearer the box centre


def _blob(x0, y0, sigma, flux):
    yy, xx = np.mgrid[0:PIXELS, 0:PIXELS]
    return flux * np.exp(-0.5 * ((xx - x0) ** 2 + (yy - y0) ** 2) / sigma**2) / (2 * np.pi * sigma**2)


@pytest.fixture(scope="module")
def view(tmp_path_factory):
    gen = np.random.default_rng(5)
    image = _blob(*GALAXY, 3.0, 300.0) + _blob(*STAR, 0.6, 1500.0)
    path = tmp_path_factory.mktemp("centring") / "v0.fits"
    colours = {"g": 0.5, "r": 1.0, "i": 1.3}  # red, like a BCG
    write_view_fits(
        path,
        {b: (k * image + gen.normal(0, 0.02, image.shape)).astype(np.float32) for b, k in colours.items()},
        make_wcs(150.0, 20.0, PIXELS, SCALE),
    )
    return path


def _predictions(path, boxes, views=None, sides=None):
    """Boxes (x0, y0, x1, y1) in PNG pixels, with their centres on the sky as inference writes them.

    ``sides``: each box's PNG side (default: all PNG)."""
    boxes = np.asarray(boxes, dtype=float)
    views = views or ["v0"] * len(boxes)
    sides = sides or [PNG] * len(boxes)
    x, y = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    ra, dec = [], []
    for xi, yi, v, side in zip(x, y, views, sides):
        r, d = png_pixel_to_sky(path, xi, yi, side, flipped=v.endswith("_flip"))
        ra.append(float(r))
        dec.append(float(d))
    return Table(
        {
            "view": views,
            "x": x,
            "y": y,
            "x0": boxes[:, 0],
            "y0": boxes[:, 1],
            "x1": boxes[:, 2],
            "y1": boxes[:, 3],
            "score": np.full(len(x), 0.9),
            "ra": ra,
            "dec": dec,
        }
    )


def _cfg(**over):
    return {**with_defaults("train", {})["predict"]["centre"], **over}


PHOTOMETRY = with_defaults("redshift", {})["photometry"]


def test_centre_moves_to_the_extended_galaxy_not_the_brighter_star(view):
    gx, gy = fits_to_png(GALAXY[0], GALAXY[1], (PIXELS, PIXELS), PNG)
    # a 50 px box (100 FITS px) centred 3 PNG px from the star and ~6 from the galaxy
    cx, cy = float(gx) - 6.0, float(gy) + 2.0
    table = _predictions(view, [(cx - 25, cy - 25, cx + 25, cy + 25)])
    out = centre_predictions(table, [str(view)], PNG, _cfg(), PHOTOMETRY)
    assert bool(out["on_bcg"][0])
    assert out["x"][0] == pytest.approx(float(gx), abs=0.3) and out["y"][0] == pytest.approx(float(gy), abs=0.3)
    assert out["box_ra"][0] == table["ra"][0] and out["box_dec"][0] == table["dec"][0]
    ra, dec = png_pixel_to_sky(view, out["x"][0], out["y"][0], PNG)
    assert out["ra"][0] == pytest.approx(float(ra), abs=1e-6) and out["dec"][0] == pytest.approx(float(dec), abs=1e-6)
    for c in ("x0", "y0", "x1", "y1"):  # the box itself never moves
        assert out[c][0] == table[c][0]


def test_no_galaxy_within_the_radius_keeps_the_box_centre(view):
    table = _predictions(view, [(0, 0, 20, 20)])  # a corner box: 0.2 x 20 px finds nothing
    out = centre_predictions(table, [str(view)], PNG, _cfg(), PHOTOMETRY)
    assert not out["on_bcg"][0]
    assert out["ra"][0] == table["ra"][0] and out["x"][0] == table["x"][0]


def test_a_star_alone_is_never_a_bcg(view):
    sx, sy = fits_to_png(STAR[0], STAR[1], (PIXELS, PIXELS), PNG)
    # a small box on the star: the galaxy (~10 PNG px away) is outside 0.2 x 20 px
    table = _predictions(view, [(float(sx) - 10, float(sy) - 10, float(sx) + 10, float(sy) + 10)])
    out = centre_predictions(table, [str(view)], PNG, _cfg(), PHOTOMETRY)
    assert not out["on_bcg"][0]


def test_flipped_view_centres_on_the_mirrored_galaxy(view):
    gx, gy = fits_to_png(GALAXY[0], GALAXY[1], (PIXELS, PIXELS), PNG)
    fx = (PNG - 1) - float(gx)  # the galaxy on the mirrored PNG
    table = _predictions(view, [(fx - 25, float(gy) - 25, fx + 25, float(gy) + 25)], views=["v0_flip"])
    out = centre_predictions(table, [str(view)], PNG, _cfg(), PHOTOMETRY)
    assert bool(out["on_bcg"][0])
    assert out["x"][0] == pytest.approx(fx, abs=0.3)


def test_box_method_and_bad_method(view):
    table = _predictions(view, [(20, 20, 70, 70)])
    out = centre_predictions(table, [str(view)], PNG, _cfg(method="box"), PHOTOMETRY)
    assert not out["on_bcg"].any() and list(out["ra"]) == list(out["box_ra"])
    with pytest.raises(DeepCeeError, match="train.predict.centre.method"):
        centre_predictions(table, [str(view)], PNG, _cfg(method="brightest"), PHOTOMETRY)


def test_each_row_its_own_image_side(view):
    """Views of one sky at two PNG sides (100 and 70 px for the same 200 px FITS): each box is
    centred with its own image's side; a per-row side equal for all rows is the int's result."""
    boxes, views, sides = [], [], []
    for name, side in (("v0", PNG), ("small", 70), ("small_flip", 70)):
        gx, gy = fits_to_png(GALAXY[0], GALAXY[1], (PIXELS, PIXELS), side)
        gx = (side - 1) - float(gx) if name.endswith("_flip") else float(gx)
        half = side / 4  # 100 FITS px
        cx, cy = gx - 0.06 * side, float(gy) + 0.02 * side
        boxes.append((cx - half, cy - half, cx + half, cy + half))
        views.append(name)
        sides.append(side)
    table = _predictions(view, boxes, views=views, sides=sides)
    out = centre_predictions(table, [str(view)] * 3, np.array(sides), _cfg(), PHOTOMETRY)
    assert out["on_bcg"].all()
    for i, (name, side) in enumerate(zip(views, sides)):
        gx, gy = fits_to_png(GALAXY[0], GALAXY[1], (PIXELS, PIXELS), side)
        gx = (side - 1) - float(gx) if name.endswith("_flip") else float(gx)
        assert out["x"][i] == pytest.approx(gx, abs=0.3 * side / PNG) and out["y"][i] == pytest.approx(
            float(gy), abs=0.3 * side / PNG
        )
        ra, dec = png_pixel_to_sky(view, out["x"][i], out["y"][i], side, flipped=name.endswith("_flip"))
        assert out["ra"][i] == pytest.approx(float(ra), abs=1e-6) and out["dec"][i] == pytest.approx(
            float(dec), abs=1e-6
        )
    # one side for every row: an int or a per-row array give the same table
    same = _predictions(view, [boxes[0], boxes[0]])
    a = centre_predictions(same, [str(view)] * 2, PNG, _cfg(), PHOTOMETRY)
    b = centre_predictions(same, [str(view)] * 2, [PNG, PNG], _cfg(), PHOTOMETRY)
    for c in ("x", "y", "ra", "dec", "on_bcg"):
        assert list(a[c]) == list(b[c]), c
    with pytest.raises(DeepCeeError, match="3 image sides for 2 rows"):
        centre_predictions(same, [str(view)] * 2, [PNG] * 3, _cfg(), PHOTOMETRY)
