"""SkyView acquisition, offline: astroquery's SkyView.get_images is replaced by a fake that
serves cutouts of the bundled REAL SDSS g, r, i images (real headers and WCS)."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.nddata import Cutout2D
from astropy.wcs import WCS

from deepcee.core.config import with_defaults
from deepcee.core.errors import DeepCeeError
from deepcee.images.fits import fetch_skyview_view, read_view_fits
from deepcee.images.labels import label_view
from images_helpers import NGC

SURVEY_FILES = {s: NGC / f"reprojected_sdss_{s[-1]}.fits.bz2" for s in ("SDSSg", "SDSSr", "SDSSi")}


class FakeSkyView:
    def __init__(self, fail_times=0, missing=()):
        self.calls = []
        self.fail_times = fail_times
        self.missing = set(missing)

    def get_images(self, position, survey, pixels, width, height, **kw):
        self.calls.append((survey[0], pixels))
        if len(self.calls) <= self.fail_times:
            raise ConnectionError("simulated network failure")
        if survey[0] in self.missing:
            return []
        with fits.open(SURVEY_FILES[survey[0]]) as hdul:
            data, header = hdul[0].data.astype(np.float32), hdul[0].header
        w = WCS(header)
        cut = Cutout2D(data, position, (pixels, pixels), wcs=w, mode="partial", fill_value=np.nan)
        h = header.copy()
        h.update(cut.wcs.to_header())
        return [fits.HDUList([fits.PrimaryHDU(cut.data, header=h)])]


@pytest.fixture
def fake(monkeypatch):
    from astroquery.skyview import SkyView

    f = FakeSkyView()
    monkeypatch.setattr(SkyView, "get_images", f.get_images)
    return f


def _cfg(tmp_path, **sv):
    return with_defaults(
        "images",
        {
            "pixels": 300,
            "pixel_scale_arcsec": 1.18,
            "skyview": {"cache_dir": str(tmp_path / "cache"), "retries": 3, "backoff_s": 0.0, **sv},
        },
    )


def _view():
    # the reprojected NGC 6976 field centre (real SDSS data), cluster 40" east of centre
    return {
        "view": "N_v0",
        "cluster_id": "N",
        "ra": 313.1702 + 40 / 3600 / np.cos(np.radians(-5.693)),
        "dec": -5.6930,
        "z": 0.15,
        "richness": 30.0,
        "bcg_rmag": np.nan,
        "offset_ra_arcsec": 40.0,
        "offset_dec_arcsec": 0.0,
        "centre_ra": 313.1702,
        "centre_dec": -5.6930,
    }


def test_skyview_view_written_and_cached(fake, tmp_path):
    out = tmp_path / "fits" / "N_v0.fits"
    fetch_skyview_view(_view(), _cfg(tmp_path), out)
    bands = read_view_fits(out)
    assert all(d.shape == (300, 300) for d, _ in bands.values())
    with fits.open(out) as hdul:
        assert [h.name for h in hdul[1:]] == ["G", "R", "I"] and hdul["R"].header["BUNIT"] == "nanomaggy"
    assert len(fake.calls) == 3
    # real pixels: the r cutout equals the real image around the centre
    assert np.nanmax(bands["r"][0]) > 1.0
    # label through the real (rotated) WCS: 40" from the centre = 40/1.18 px x 500/300 in PNG px
    lab = label_view(_view(), out, "x.png", 500, 500.0)
    assert np.hypot(lab["x"] - 249.5, lab["y"] - 249.5) == pytest.approx(40 / 1.188 * 500 / 300, abs=1.0)
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    xf, yf = bands["r"][1].world_to_pixel(SkyCoord(_view()["ra"] * u.deg, _view()["dec"] * u.deg))
    assert lab["x"] == pytest.approx((xf + 0.5) * 500 / 300 - 0.5, abs=0.5)
    assert lab["y"] == pytest.approx(500 - 0.5 - (yf + 0.5) * 500 / 300, abs=0.5)
    # second time: from the cache, no network call
    fetch_skyview_view(_view(), _cfg(tmp_path), tmp_path / "again.fits")
    assert len(fake.calls) == 3


def test_skyview_retries_then_one_line(monkeypatch, tmp_path):
    from astroquery.skyview import SkyView

    f = FakeSkyView(fail_times=100)
    monkeypatch.setattr(SkyView, "get_images", f.get_images)
    out = tmp_path / "x.fits"
    with pytest.raises(DeepCeeError) as err:
        fetch_skyview_view(_view(), _cfg(tmp_path), out, sleep=lambda s: None)
    msg = str(err.value)
    assert "after 3 tries" in msg and "images.source: mock" in msg and "snakemake --cores 1" in msg
    assert "cluster N" in msg and "band g" in msg and "\n" not in msg
    assert len(f.calls) == 3 and not out.exists()


def test_skyview_transient_failure_recovers(monkeypatch, tmp_path):
    from astroquery.skyview import SkyView

    f = FakeSkyView(fail_times=2)
    monkeypatch.setattr(SkyView, "get_images", f.get_images)
    sleeps = []
    fetch_skyview_view(_view(), _cfg(tmp_path, backoff_s=1.0), tmp_path / "x.fits", sleep=sleeps.append)
    assert sleeps == [1.0, 2.0]  # exponential backoff


def test_skyview_missing_band(monkeypatch, tmp_path):
    from astroquery.skyview import SkyView

    f = FakeSkyView(missing={"SDSSi"})
    monkeypatch.setattr(SkyView, "get_images", f.get_images)
    out = tmp_path / "x.fits"
    with pytest.raises(DeepCeeError, match=r"cluster N: SkyView returned no image for band i"):
        fetch_skyview_view(_view(), _cfg(tmp_path), out)
    assert not out.exists()
