"""The GalSim mock: geometry (cluster where the WCS says), determinism, SDSS-like noise."""

from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from deepcee.core.errors import DeepCeeError
from deepcee.images.fits import read_view_fits
from deepcee.images.labels import label_view
from deepcee.images.mock import render, universe
from deepcee.images.stretch import stretch_fits
from deepcee.images.views import plan_views
from images_helpers import small_catalogue, small_images_cfg


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("mock")
    cfg = small_images_cfg()
    views = plan_views(small_catalogue(2), 2, 60.0, seed=7, shards=1)
    paths = []
    for row in views:
        p = out / f"{row['view']}.fits"
        render.render_view_to_fits(row, cfg, 7, p)
        paths.append(p)
    return cfg, views, paths


def test_fits_layout(rendered):
    cfg, views, paths = rendered
    bands = read_view_fits(paths[0])
    assert set(bands) == {"g", "r", "i"}
    for data, w in bands.values():
        assert data.shape == (160, 160) and data.dtype == np.float32
        assert w.has_celestial
    from astropy.io import fits

    with fits.open(paths[0]) as hdul:
        assert [h.name for h in hdul[1:]] == ["G", "R", "I"]
        assert all(h.header["BUNIT"] == "nanomaggy" for h in hdul[1:])


def test_label_centre_is_where_wcs_puts_cluster_and_bcg(rendered):
    cfg, views, paths = rendered
    size = cfg["stretch"]["output_size"]
    for row, path in zip(views, paths):
        lab = label_view(row, path, "x.png", size, 500.0)
        bands = read_view_fits(path)
        w = bands["r"][1]
        xf, yf = w.world_to_pixel(SkyCoord(row["ra"] * u.deg, row["dec"] * u.deg))
        # FITS 160 px -> PNG 80 px: scale 2, vertical flip
        x_exp = (xf + 0.5) / 2 - 0.5
        y_exp = size - 0.5 - (yf + 0.5) / 2
        assert abs(lab["x"] - x_exp) < 0.5 and abs(lab["y"] - y_exp) < 0.5
        # the rendered BCG light peaks at the label (within 1 FITS pixel = 0.5 training px)
        r = bands["r"][0]
        ix, iy = int(round(float(xf))), int(round(float(yf)))
        cut = r[iy - 3 : iy + 4, ix - 3 : ix + 4]
        py, px = np.unravel_index(np.argmax(cut), cut.shape)
        assert abs(px - 3) <= 1 and abs(py - 3) <= 1
        # and the offsets put the cluster off-centre by the planned amount
        assert abs((xf - 79.5) * -1.584 - row["offset_ra_arcsec"]) < 2.0
        assert abs((yf - 79.5) * 1.584 - row["offset_dec_arcsec"]) < 2.0


def test_same_seed_same_png_bytes(tmp_path):
    cfg = small_images_cfg()
    row = plan_views(small_catalogue(1), 1, 60.0, seed=3)[0]
    blobs = []
    for k in range(2):
        f = tmp_path / f"a{k}.fits"
        p = tmp_path / f"a{k}.png"
        render.render_view_to_fits(row, cfg, 3, f)
        stretch_fits(f, p, None, 80)
        blobs.append(p.read_bytes())
    assert blobs[0] == blobs[1]
    f = tmp_path / "b.fits"
    render.render_view_to_fits(row, cfg, 4, f)
    stretch_fits(f, tmp_path / "b.png", None, 80)
    assert (tmp_path / "b.png").read_bytes() != blobs[0]


def test_cluster_same_in_every_view():
    """Members come from rng(seed, 'mock-cluster', id): the same cluster in every view."""
    from deepcee.core.seeds import rng

    a = universe.cluster_objects(rng(1, "mock-cluster", "X"), 0.15, 40, 22).arrays()
    b = universe.cluster_objects(rng(1, "mock-cluster", "X"), 0.15, 40, 22).arrays()
    assert np.array_equal(a["mag_r"], b["mag_r"]) and np.array_equal(a["east"], b["east"])
    # bright members ~ richness; BCG brightest; red sequence colours
    m = a["mag_r"]
    assert np.argmin(m) == 0
    assert 0.9 < np.median(a["gr"]) < 1.2


def test_noise_matches_sdss_frames(tmp_path):
    """Blank-sky pixel noise per native pixel within 25% of the real run-2126 frames, at the median
    sky (the field-to-field sky scatter off: test_sky_brightness_scatter)."""
    from deepcee.bench.calibration import pixel_noise

    cfg = small_images_cfg(
        pixels=200,
        pixel_scale_arcsec=0.396,
        mock={"mag_limit": 16.0, "groups_per_deg2": 0, "sky_brightness_sigma_mag": 0.0},
    )
    row = plan_views(small_catalogue(1), 1, 0.0, seed=1)[0]
    img, w, _ = render.render_view(row, cfg, 1)
    real = {"g": 0.0197, "r": 0.0280, "i": 0.0403}  # MAD sigma of the bundled real frames
    for j, b in enumerate("gri"):
        assert pixel_noise(img[j]) == pytest.approx(real[b], rel=0.25)


def test_sdss_blank_background(tmp_path):
    from images_helpers import prepared_fields

    cfg = small_images_cfg(mock={"background": "sdss_blank", "mag_limit": 20.0, "real_view_pixels": 140})
    row = plan_views(small_catalogue(1), 1, 30.0, seed=2)[0]
    img, w, info = render.render_view(row, cfg, 2, real_fields=prepared_fields(tmp_path))
    assert img.shape == (3, 140, 140) and np.isfinite(img).all()
    assert "field" not in info  # the real frame is the field
    with pytest.raises(DeepCeeError, match="no prepared real field"):
        render.render_view(row, cfg, 2)


def test_truth_table_lists_every_drawn_object(tmp_path):
    """The render's truth: the target's members sit at its redshift around its position; each
    group has one redshift and one central; stars have z = 0; counts agree with the render's tallies."""
    from astropy.table import Table

    from deepcee.images.stage import acquire_shard
    from deepcee.images.views import write_views

    cfg = small_images_cfg(mock={"mag_limit": 21.0, "exact_mag": 18.5, "groups_per_deg2": 400.0})
    views = plan_views(small_catalogue(2), 1, 30.0, seed=3, shards=1)
    row = views[0]
    _img, _w, info = render.render_view(row, cfg, 5)
    truth = info["truth"]
    assert list(truth.colnames) == list(render.TRUTH_COLUMNS)
    counts = {m: int(np.sum(truth["member"] == m)) for m in set(truth["member"])}
    assert counts["target"] == info["cluster"] and counts["field"] == info["field"] and counts["star"] == info["stars"]
    target = truth[truth["member"] == "target"]
    assert np.all(target["z"] == pytest.approx(float(row["z"])))
    assert int(np.sum(target["central"])) == 1  # the BCG
    bcg = target[target["central"]][0]
    sep = SkyCoord(bcg["ra"] * u.deg, bcg["dec"] * u.deg).separation(SkyCoord(row["ra"] * u.deg, row["dec"] * u.deg))
    assert sep.arcsec < 0.01
    groups = truth[truth["member"] == "group"]
    assert len(groups) and np.all(groups["group"] >= 1)
    for number in set(groups["group"]):
        one = groups[groups["group"] == number]
        assert len(set(one["z"])) == 1 and int(np.sum(one["central"])) <= 1  # a BGG off the view is not drawn
    assert np.all(truth[truth["member"] == "star"]["z"] == 0.0)
    # through the stage: one ECSV per shard, all views in it
    write_views(views, tmp_path / "views.ecsv")
    acquire_shard(
        tmp_path / "views.ecsv", 0, tmp_path / "fits", tmp_path / "m.json", cfg, 5, truth_path=tmp_path / "truth.ecsv"
    )
    written = Table.read(tmp_path / "truth.ecsv", format="ascii.ecsv")
    assert set(written["view"]) == {str(v) for v in views["view"]}
    assert int(np.sum(written["view"] == str(row["view"]))) == len(truth)


def test_sky_brightness_scatter_and_correlated_noise():
    """The one sky's fields differ in sky brightness with the quartiles of docs/mock-numbers.md §1
    (sigma 0.245 mag: interquartile range 0.33 mag), one value per field cell, and a share of the
    noise is smooth: lag-1 autocorrelation near the real fields' ~0.045, white without it."""
    from deepcee.images.mock.draw import noise_normals
    from deepcee.images.mock.sky import MockSky

    sky = MockSky(7, {"sky_brightness_sigma_mag": 0.245})
    mags = -2.5 * np.log10([sky.sky_factor(c) for c in range(4000)])
    q1, q3 = np.percentile(mags, [25, 75])
    assert q3 - q1 == pytest.approx(0.33, abs=0.03)
    assert sky.sky_factor(12) == sky.sky_factor(12)
    assert MockSky(7, {"sky_brightness_sigma_mag": 0.0}).sky_factor(12) == 1.0

    def lag(img, d):
        return np.corrcoef(img[:, :-d].ravel(), img[:, d:].ravel())[0, 1]

    smooth = noise_normals(np.random.default_rng(1), (3, 300, 300), 0.05, 2.0)
    white = noise_normals(np.random.default_rng(1), (3, 300, 300), 0.0, 2.0)
    assert np.array_equal(white, np.random.default_rng(1).standard_normal((3, 300, 300), dtype=np.float32))
    for b in range(3):
        assert smooth[b].std() == pytest.approx(1.0, abs=0.02)
        assert 0.035 < lag(smooth[b], 1) < 0.06 and lag(smooth[b], 3) > 0.01
        assert abs(lag(white[b], 1)) < 0.02
