"""The blind search: one mock sky, tiles, ownership + merge, acquisition layouts, a resumable sharded run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from deepcee.core.config import with_defaults
from deepcee.core.errors import DeepCeeError
from deepcee.core.skybox import box_area_deg2, in_box, ra_centre, ra_intervals, ra_mean, ra_width, unwrap_ra
from deepcee.images.fits import make_wcs
from deepcee.images.mock.sky import MockSky, abell_only_positions
from deepcee.search import acquire, measure
from deepcee.search.merge import cross_match, merge_detections
from deepcee.search.tiles import (
    PAPER_FIELD_ARCSEC,
    StripGrid,
    Tile,
    cell_half_extent,
    plan_tiles,
    tan_offsets,
)

GRID = StripGrid.for_tile(PAPER_FIELD_ARCSEC, 340)

REPO = Path(__file__).resolve().parents[1]


def _sky(**mock):
    rm = Table({"id": ["RM1"], "ra": [150.01], "dec": [2.0], "z": [0.15], "richness": [80.0]})
    return MockSky(7, {"mag_limit": 20.5, **mock}, rm, None)


# --------------------------------------------------------------------------- the one sky
def test_overlapping_cutouts_agree_noise_aside():
    """Two cutouts of different centres show the same objects on their common pixels."""
    sky = _sky()
    w1 = make_wcs(150.0, 2.0, 64, 6.0)
    w2 = make_wcs(150.0, 2.0, 64, 6.0)
    w2.wcs.crpix = [w1.wcs.crpix[0] - 20, w1.wcs.crpix[1] + 13]  # same tangent plane, shifted 20 x 13 px
    a, info = sky.render(w1, (64, 64), 6.0, noise=False)
    b, _ = sky.render(w2, (64, 64), 6.0, noise=False)
    assert info["cluster"] > 10 and info["field"] > 10
    # pixel (x, y) of the first is (x - 20, y + 13) of the second
    common_a = a[:, 0:51, 20:64]
    common_b = b[:, 13:64, 0:44]
    assert np.abs(common_a).max() > 1.0  # the cluster's BCG is in the overlap
    np.testing.assert_allclose(common_a, common_b, rtol=1e-5, atol=1e-5)
    # noise is a property of the cutout: on, the same pixels differ
    n1, _ = sky.render(w1, (64, 64), 6.0, noise_key="a")
    n2, _ = sky.render(w1, (64, 64), 6.0, noise_key="b")
    assert not np.allclose(n1, n2)


def test_rotated_and_mirrored_cutouts_show_the_same_sky():
    """Any TAN WCS: a cutout turned by 90 degrees, or with east to the right, is the same picture turned."""
    sky = _sky()
    s = 6.0 / 3600
    base = make_wcs(150.0, 2.0, 64, 6.0)
    a, _ = sky.render(base, (64, 64), 6.0, noise=False)
    turned = make_wcs(150.0, 2.0, 64, 6.0)
    turned.wcs.cd = np.array([[0.0, -s], [-s, 0.0]])
    mirrored = make_wcs(150.0, 2.0, 64, 6.0)
    mirrored.wcs.cd = np.array([[s, 0.0], [0.0, s]])
    b, _ = sky.render(turned, (64, 64), 6.0, noise=False)
    c, _ = sky.render(mirrored, (64, 64), 6.0, noise=False)
    peak = float(np.abs(a).max())
    np.testing.assert_allclose(np.rot90(a, 3, axes=(1, 2)), b, atol=1e-4 * peak)
    np.testing.assert_allclose(a[:, :, ::-1], c, atol=1e-4 * peak)


def test_cells_are_deterministic_and_keyed_by_seed():
    sky1, sky2 = _sky(), _sky()
    c = int(
        sky1.hp.lonlat_to_healpix(
            150.0 * __import__("astropy.units").units.deg, 2.0 * __import__("astropy.units").units.deg
        )
    )
    o1, o2 = sky1.cell_objects(c), sky2.cell_objects(c)
    np.testing.assert_array_equal(o1.cols["ra"], o2.cols["ra"])
    other = MockSky(8, {"mag_limit": 20.5}, None, None).cell_objects(c)
    assert len(other) != len(o1) or not np.array_equal(other.cols["ra"], o1.cols["ra"])
    # every object of a cell has its centre in the cell (groups: their BGG)
    inside = (
        sky1.hp.lonlat_to_healpix(
            o1.cols["ra"] * __import__("astropy.units").units.deg,
            o1.cols["dec"] * __import__("astropy.units").units.deg,
        )
        == c
    )
    assert inside[o1.cols["label"] == "field"].all()


def test_abell_only_positions_drop_redmapper_matches():
    aco = Table({"aco": [1, 2], "ra": [10.0, 20.0], "dec": [0.0, 0.0]})
    rm = Table({"ra": [10.01], "dec": [0.0]})
    only = abell_only_positions(aco, rm, 3.0)
    assert list(only["aco"]) == [2]


# --------------------------------------------------------------------------- tiles
def test_every_point_of_the_sky_is_owned_by_exactly_one_tile_that_holds_it():
    """Ownership is exact: a point lies in the cell of its owner (so in no other cell: cells of a
    strip are disjoint RA intervals, strips disjoint Dec intervals), over the whole sphere, the
    poles, RA 0/360 and cell edges included; and every owned point is within the room the tile
    leaves for the largest box."""
    gen = np.random.default_rng(11)
    n = 400_000
    ra = np.concatenate([gen.uniform(0, 360, n), [0.0, 359.9999999, 360.0, 0.0, 12.0]])
    dec = np.concatenate([np.degrees(np.arcsin(gen.uniform(-1, 1, n))), [-90.0, 90.0, 0.0, GRID.dec_lo[7], 89.99]])
    # cell edges exactly: every strip's lower edge, at a cell's lower RA edge
    j = np.arange(GRID.n_strips)
    ra = np.concatenate([ra, 360.0 / GRID.counts[j] * (GRID.counts[j] // 3)])
    dec = np.concatenate([dec, GRID.dec_lo[j]])
    owner = GRID.owner(ra, dec)
    assert ((owner >= 0) & (owner < GRID.n_cells)).all()
    ra_lo, ra_hi, dec_lo, dec_hi = GRID.cells(owner)
    r = np.mod(ra, 360.0)
    assert ((r >= ra_lo) & (r < ra_hi) & (dec >= dec_lo) & (dec <= dec_hi)).all()
    x, y = tan_offsets(*GRID.centres(owner), ra, dec)
    room = PAPER_FIELD_ARCSEC / 2 - 340 / 2
    assert np.maximum(np.abs(x), np.abs(y)).max() <= room - 4.0  # the margin kept for the mosaics' turn
    # the cells tile the sphere: their areas add up to it
    assert GRID.area_deg2(np.arange(GRID.n_cells)) == pytest.approx(4 * np.pi * (180 / np.pi) ** 2, rel=1e-9)


def test_tiles_are_at_the_geometric_floor():
    """At most 70 tiles per deg2 (63.4 would be ideal squares of 452"; the cells are 440" for the
    margin): over the sphere, in every strip within 80 deg of the equator (nearer the poles the
    cells become wedges: 69 per deg2 at 84 deg), and in a listed region."""
    assert GRID.tiles_per_deg2 <= 70
    j = np.flatnonzero(np.abs(GRID.dec_hi) < 80)
    area = 360 * np.degrees(np.sin(np.radians(GRID.dec_hi[j])) - np.sin(np.radians(GRID.dec_lo[j])))
    assert (GRID.counts[j] / area).max() <= 70
    ext = cell_half_extent(GRID.dec_lo, GRID.dec_hi, 360.0 / GRID.counts)
    assert ext.max() <= GRID.own_arcsec / 2 + 1.0
    tiles, info = plan_tiles({"region": {"ra_min": 150.0, "ra_max": 152.0, "dec_min": 2.0, "dec_max": 4.0}})
    assert info["tiles_per_deg2"] <= 70 and len({t.index for t in tiles}) == len(tiles)
    assert info["area_deg2"] >= box_area_deg2(150.0, 152.0, 2.0, 4.0)  # the cells touching it hold the box
    assert (GRID.owner([t.ra for t in tiles], [t.dec for t in tiles]) == [t.index for t in tiles]).all()


def test_every_point_of_a_box_is_owned_by_a_listed_tile():
    box = {"ra_min": 359.2, "ra_max": 0.6, "dec_min": -1.3, "dec_max": 0.4}
    tiles, _ = plan_tiles({"region": box})
    gen = np.random.default_rng(5)
    ra = np.mod(359.2 + gen.uniform(0, 1.4, 20_000), 360.0)
    dec = gen.uniform(-1.3, 0.4, 20_000)
    assert np.isin(GRID.owner(ra, dec), [t.index for t in tiles]).all()


def test_large_regions_stream_with_progress_and_say_their_cost_first():
    lines = []
    tiles, info = plan_tiles(
        {"region": {"ra_min": 100.0, "ra_max": 110.0, "dec_min": 0.0, "dec_max": 10.0}, "max_tiles": 10_000},
        log=lines.append,
    )
    assert lines[0].startswith("search tiles: about 6,6") and "projected" in lines[0]
    progress = [x for x in lines if "strips," in x]
    assert len(progress) >= 5 and lines[-1] == f"search tiles: all 83 strips listed, {len(tiles):,} tiles"
    assert 6500 < len(tiles) < 7000


def test_region_errors_are_one_line():
    with pytest.raises(DeepCeeError, match="search.region: ra_min and ra_max") as err:
        plan_tiles({"region": {"ra_min": 5, "ra_max": 5, "dec_min": 0, "dec_max": 1}})
    assert "\n" not in str(err.value)
    with pytest.raises(DeepCeeError, match="search.region"):
        plan_tiles({"region": {"ra_min": 5, "ra_max": 6, "dec_min": 1, "dec_max": 0}})
    with pytest.raises(DeepCeeError, match="moc"):
        plan_tiles({"moc": "/nonexistent/moc.fits"})


def test_region_through_ra_zero():
    """(359.5, 0.5) is the 1 deg box through RA 0: tiles either side of RA 0, none on the far
    side, the cells touching it, which own all of it."""
    box = {"ra_min": 359.5, "ra_max": 0.5, "dec_min": 10.0, "dec_max": 10.5}
    tiles, info = plan_tiles({"region": box})
    ra = np.array([t.ra for t in tiles])
    assert len(tiles) > 20
    assert ((ra >= 359.3) | (ra < 0.7)).all() and (ra >= 359.5).any() and (ra < 0.5).any()
    assert box_area_deg2(**box) <= info["area_deg2"] <= 2 * box_area_deg2(**box)
    # catalogue clusters either side of RA 0 are in the searched area (completeness counts them)
    rm = Table({"id": ["W", "E", "FAR"], "ra": [359.9, 0.1, 180.0], "dec": [10.1, 10.1, 10.1]})
    assert list(in_box(rm["ra"], rm["dec"], **box)) == [True, True, False]
    assert list(measure.clusters_in_area(rm, _tiles_table(tiles, info))["id"]) == ["W", "E"]


def _tiles_table(tiles, info) -> Table:
    t = Table({"index": np.asarray([x.index for x in tiles], np.int64), "ra": [x.ra for x in tiles]})
    t["dec"] = [x.dec for x in tiles]
    t.meta.update(info)
    return t


def test_ra_helpers_across_zero():
    def off_zero(ra):  # signed distance from RA 0, in degrees
        return (ra + 180.0) % 360.0 - 180.0

    assert off_zero(ra_centre(359.5, 0.5)) == pytest.approx(0.0, abs=1e-9)
    assert ra_centre(10.0, 20.0) == pytest.approx(15.0)
    assert ra_width(359.5, 0.5) == pytest.approx(1.0) and ra_width(0.0, 360.0) == pytest.approx(360.0)
    assert off_zero(ra_mean([359.9, 0.1])) == pytest.approx(0.0, abs=1e-6)
    assert np.ptp(unwrap_ra([359.9, 0.1])) == pytest.approx(0.2)  # one patch about the mean
    assert np.allclose(unwrap_ra([359.9, 0.1], 0.0), [-0.1, 0.1])
    assert ra_intervals(-0.5, 0.5) == [(359.5, 360.0), (0.0, 0.5)]
    assert ra_intervals(10.0, 20.0) == [(10.0, 20.0)]


def test_skymap_of_a_region_through_ra_zero(tmp_path, monkeypatch):
    """The sky map plots RA unwrapped about the region (one patch, not two 360 deg apart)."""
    from deepcee.core import figures

    saved = []
    monkeypatch.setattr(figures, "save_figure", lambda fig, *paths: saved.append(fig))
    tiles = Table({"ra": [359.8, 359.9, 0.0, 0.1], "dec": [10.0, 10.1, 10.0, 10.1]})
    cands = Table({"ra": [359.95, 0.05], "dec": [10.05, 10.05], "score": [0.9, 0.2], "known": [True, False]})
    clusters = Table({"ra": [0.05], "dec": [10.05]})
    measure.plot_skymap(tiles, cands, clusters, 0.5, [tmp_path / "skymap.png"])
    ax = saved[0].axes[0]
    left, right = ax.get_xlim()
    assert left > right and left - right < 1.0  # east to the left, one ~0.3 deg patch
    assert ax.xaxis.get_major_formatter()(-0.1, 0) == "359.9"


def test_moc_region(tmp_path):
    from astropy import units as u
    from mocpy import MOC

    moc = MOC.from_cone(lon=150.0 * u.deg, lat=2.0 * u.deg, radius=0.1 * u.deg, max_depth=9)
    path = tmp_path / "moc.fits"
    moc.save(str(path), format="fits")
    tiles, info = plan_tiles({"moc": str(path)})
    assert info["source"].startswith("moc") and len(tiles) >= 10
    seps = np.hypot(*tan_offsets(150.0, 2.0, [t.ra for t in tiles], [t.dec for t in tiles]))
    assert seps.max() < 0.1 * 3600 + 600 + 320  # the cone, an order-9 MOC cell, half a cell's diagonal
    gen = np.random.default_rng(2)
    ra, dec = (150 + gen.uniform(-0.1, 0.1, (2, 4000)))[0], 2 + gen.uniform(-0.1, 0.1, 4000)
    inside = moc.contains_lonlat(ra * u.deg, dec * u.deg)
    assert np.isin(GRID.owner(ra[inside], dec[inside]), [t.index for t in tiles]).all()


# --------------------------------------------------------------------------- ownership + merge
def _detections_around(ra, dec, tiles_index, shift_arcsec, gen):
    """One cluster seen by several tiles, each reporting it ``shift_arcsec`` towards its own centre
    (the worst case: every tile whose cell touches the cluster claims it), with its own score."""
    rows = []
    for p, ra_t, dec_t in zip(tiles_index, *GRID.centres(np.asarray(tiles_index))):
        x, y = tan_offsets(ra, dec, ra_t, dec_t)
        norm = float(np.hypot(x, y))
        ra_d = ra + shift_arcsec * x / norm / 3600 / np.cos(np.radians(dec))
        dec_d = dec + shift_arcsec * y / norm / 3600
        owner = int(GRID.owner([ra_d], [dec_d])[0])
        rows.append((f"t{p}", p, float(gen.uniform(0.6, 0.99)), ra_d, dec_d, 250.0, owner, owner == p))
    return Table(rows=rows, names=("tile", "tile_index", "score", "ra", "dec", "box_arcsec", "owner", "owned"))


def test_cluster_on_a_tile_corner_gives_one_candidate():
    """A cluster exactly on a cell corner (where strips meet, so three or four tiles' corner) is
    kept once and merged once."""
    j = int(np.searchsorted(GRID.dec_lo, 2.0))
    k = GRID.counts[j] // 2
    ra, dec = float(360.0 / GRID.counts[j] * k), float(GRID.dec_lo[j])
    gen = np.random.default_rng(3)
    # the tiles covering it: the cells at the corner and their neighbours
    d = np.linspace(-600, 600, 13) / 3600
    near = np.unique(GRID.owner(ra + d[:, None] + 0 * d, dec + 0 * d[:, None] + d))
    det = _detections_around(ra, dec, near, 3.0, gen)
    assert det["owned"].sum() >= 3  # every cell at the corner keeps its own detection
    cands = merge_detections(det, 60.0)
    assert len(cands) == 1
    assert cands["n_detections"][0] == det["owned"].sum()
    assert len(cands["tiles"][0].split(";")) == len(near)
    # a second cluster 10' away stays separate
    det2 = _detections_around(ra + 10 / 60, dec, near[:3], 4.0, gen)
    det2["owned"] = True
    from astropy.table import vstack

    assert len(merge_detections(vstack([det, det2]), 60.0)) == 2


def test_cross_match_flags_known_and_new():
    cands = Table({"ra": [10.0, 50.0], "dec": [0.0, 0.0], "score": [0.9, 0.8]})
    cats = {
        "redmapper": Table({"id": ["RM1"], "ra": [10.01], "dec": [0.0], "z": [0.15], "richness": [40.0]}),
        "mcxc": Table({"id": ["M1"], "ra": [80.0], "dec": [0.0], "z": [0.1], "richness": [3.0]}),
    }
    out = cross_match(cands, cats, 3.0)
    assert list(out["known"]) == [True, False]
    assert out["redmapper_id"][0] == "RM1" and out["redmapper_z"][0] == pytest.approx(0.15)
    assert 0.5 < out["redmapper_sep_arcmin"][0] < 0.7 and np.isnan(out["mcxc_z"][0])


def test_completeness_and_purity_with_intervals():
    clusters = Table(
        {
            "ra": [10.0, 20.0, 30.0, 40.0],
            "dec": [0.0] * 4,
            "richness": [25.0, 25.0, 60.0, 60.0],
            "z": [0.1, 0.1, 0.3, 0.3],
        }
    )
    cands = Table({"ra": [10.0, 30.0, 70.0], "dec": [0.0, 0.0, 0.0], "score": [0.9, 0.4, 0.95]})
    t = measure.completeness(clusters, cands, 0.5, 3.0, "richness", [20, 30, 100])
    assert list(t["n_clusters"]) == [2, 2] and list(t["n_found"]) == [1, 0]
    assert t["ci_lo"][0] < 0.5 < t["ci_hi"][0]
    p = measure.purity_curve(cands, clusters, 3.0, [0.0, 0.5])
    assert list(p["n_candidates"]) == [3, 2] and list(p["n_real"]) == [2, 1]


# --------------------------------------------------------------------------- acquisition (offline)
def test_mock_tiles_are_cut_from_the_same_sky():
    sky = _sky()
    tiles, info = plan_tiles({"region": {"ra_min": 149.95, "ra_max": 150.05, "dec_min": 1.95, "dec_max": 2.05}})
    out = list(acquire.mock_tiles(sky, tiles[:2], 64, PAPER_FIELD_ARCSEC / 64, GRID, block_tiles=8, noise=False))
    assert len(out) == 2
    for tile, img, wcs in out:
        assert img.shape == (3, 64, 64)
        x, y = wcs.world_to_pixel_values(tile.ra, tile.dec)
        assert abs(x - 31.5) <= 0.5 and abs(y - 31.5) <= 0.5


def _service_hdu(pixels, scale, ra, dec, value, bitpix=-32, **cards):
    """An answer in the layout SkyView and hips2fits return: a primary HDU with a TAN header.

    ``bitpix=16``: integers through BSCALE (as the CDS SDSS9 HiPS FITS tiles are stored);
    ``bitpix=8``: an 8-bit rendering."""
    header = make_wcs(ra, dec, pixels, scale).to_header()
    header.update(cards)
    if bitpix == 16:  # as received: int16 on the wire, BSCALE/BZERO in the header
        import io

        hdu = fits.PrimaryHDU(np.full((pixels, pixels), value, np.float64), header=header)
        hdu.scale("int16", bscale=1e-4, bzero=0.0)
        buf = io.BytesIO()
        hdu.writeto(buf)
        buf.seek(0)
        return fits.open(buf)
    dtype = np.uint8 if bitpix == 8 else np.float32
    return fits.HDUList([fits.PrimaryHDU(np.full((pixels, pixels), value, dtype), header=header)])


def test_hips2fits_tile_offline_cached_retried_converted(tmp_path, monkeypatch):

    monkeypatch.setattr(acquire, "_WARNED", set())
    calls, lines = [], []

    def query(hips, ra, dec, pixels, fov, timeout):
        calls.append(hips)
        if len(calls) == 1:
            raise ConnectionError("flaky")
        return _service_hdu(pixels, fov / pixels, ra, dec, 0.01, bitpix=16)

    tile = Tile(1, 150.0, 2.0)
    cfg = with_defaults("search", {"hips2fits": {"cache_dir": str(tmp_path), "backoff_s": 0.0}})["hips2fits"]
    with pytest.raises(DeepCeeError, match="nmgy_per_unit.g"):  # no BUNIT, no stated conversion: refused
        acquire.hips_tile(tile, 32, 1.584, cfg, query=query, sleep=lambda s: None, log=lines.append)
    cfg["nmgy_per_unit"] = {"g": 16.0, "r": 16.0, "i": 16.0}
    img, wcs = acquire.hips_tile(tile, 32, 1.584, cfg, query=query, sleep=lambda s: None, log=lines.append)
    assert calls[:2] == ["CDS/P/SDSS9/g", "CDS/P/SDSS9/g"] and set(calls) == {
        "CDS/P/SDSS9/g",
        "CDS/P/SDSS9/r",
        "CDS/P/SDSS9/i",
    }
    # the stated conversion is applied to the physical (BSCALE-applied) values, and said so once per band
    assert img.shape == (3, 32, 32) and img[1, 0, 0] == pytest.approx(0.16, rel=1e-3)
    assert len(lines) == 3 and all(ln.startswith("WARNING: CDS/P/SDSS9/") and "\n" not in ln for ln in lines)
    assert "nmgy_per_unit.r" in lines[1]
    n = len(calls)
    img2, _ = acquire.hips_tile(tile, 32, 1.584, cfg, query=query, sleep=lambda s: None, log=lines.append)
    assert len(calls) == n and len(lines) == 3  # served from the cache, not re-scaled, not re-warned
    assert np.array_equal(img2, img)
    with pytest.raises(DeepCeeError, match="hips2fits"):
        acquire.fetch_hips_band(
            150.0,
            3.0,
            "CDS/P/SDSS9/g",
            32,
            1.584,
            cache_dir=tmp_path,
            retries=2,
            query=lambda *a: (_ for _ in ()).throw(TimeoutError("down")),
            sleep=lambda s: None,
        )


def test_hips2fits_units_nanomaggy_bunit_taken_and_8bit_refused(tmp_path):

    cfg = with_defaults("search", {"hips2fits": {"cache_dir": str(tmp_path / "a"), "backoff_s": 0.0}})["hips2fits"]
    lines = []

    def nmgy(hips, ra, dec, pixels, fov, timeout):
        return _service_hdu(pixels, fov / pixels, ra, dec, 0.02, BUNIT="nanomaggy")

    img, _ = acquire.hips_tile(Tile(1, 150.0, 2.0), 16, 1.584, cfg, query=nmgy, log=lines.append)
    assert img[2, 3, 3] == pytest.approx(0.02) and lines == []  # stated in the answer: no factor, no warning

    def rendering(hips, ra, dec, pixels, fov, timeout):
        return _service_hdu(pixels, fov / pixels, ra, dec, 200, bitpix=8)

    cfg["cache_dir"] = str(tmp_path / "b")
    with pytest.raises(DeepCeeError, match="8-bit") as err:
        acquire.hips_tile(Tile(2, 151.0, 2.0), 16, 1.584, cfg, query=rendering, log=lines.append)
    assert "\n" not in str(err.value) and not list((tmp_path / "b").glob("*.fits"))


def test_skyview_tile_offline(tmp_path, monkeypatch):
    from astroquery.skyview import SkyView

    def get_images(position, survey, pixels, **kw):
        return [_service_hdu(pixels, 1.584, position.ra.deg, position.dec.deg, 0.5)]

    monkeypatch.setattr(SkyView, "get_images", get_images)
    img, wcs = acquire.skyview_tile(
        Tile(1, 150.0, 2.0),
        16,
        1.584,
        with_defaults("search", {"skyview": {"cache_dir": str(tmp_path)}})["skyview"],
    )
    assert img.shape == (3, 16, 16) and float(img[2, 3, 3]) == pytest.approx(0.5)
    assert len(list(tmp_path.glob("*.fits"))) == 3


# --------------------------------------------------------------------------- a sharded run, killed and resumed
def _tiny_model(path):
    import torch

    from deepcee.detector.model import build_detector

    det = {"backbone": "mobilenet_v3_large_fpn", "weights": "none", "image_size": None}
    model = build_detector(det, 64, load_weights=False)
    torch.save({"model": model.state_dict(), "detector": det, "image_size": 64, "step": 0}, path)


@pytest.mark.timeout(600)
def test_killed_sharded_search_redoes_only_unfinished_shards(tmp_path):
    from deepcee.bench.workflow import copy_workflow

    wf = copy_workflow(REPO, tmp_path / "wf")
    _tiny_model(tmp_path / "model.pt")
    (tmp_path / "search.yaml").write_text(
        # 80 x 9.9" (25 x SDSS's 0.396", as the real fields are binned) = the search's 792" tile
        "images: {pixels: 80, pixel_scale_arcsec: 9.9, stretch: {output_size: 64},\n"
        "  mock: {mag_limit: 19.0, real_view_pixels: 48}}\n"
        f"search: {{model: {tmp_path / 'model.pt'}, shards: 3, batch_size: 2, threads: 1, noise: false,\n"
        "  region: {ra_min: 126.43, ra_max: 126.53, dec_min: 4.44, dec_max: 4.53}}\n"
    )
    shards = [wf / "results/07_search/shards" / f"shard_{k}.ecsv" for k in range(3)]
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        *[str(s.relative_to(wf)) for s in shards],
        "--cores",
        "1",
        "--configfile",
        "config.yaml",
        str(tmp_path / "search.yaml"),
        "--nolock",
    ]
    env = {**os.environ, "PYTHONPATH": str(wf / "src")}
    log = tmp_path / "first_run.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=wf, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 400
        # kill as soon as Snakemake has recorded one finished shard job
        while "(Rule: search_shard)" not in log.read_text() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.3)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert "(Rule: search_shard)" in log.read_text(), log.read_text()[-2000:]
    done_before = {s: s.stat().st_mtime_ns for s in shards if s.exists()}
    assert len(done_before) < 3, "the run finished before it was killed; nothing to resume"
    for s in done_before:  # what a killed run leaves is whole (written atomically)
        assert len(Table.read(s, format="ascii.ecsv").colnames) >= 10
    rerun = subprocess.run([*cmd, "--rerun-incomplete"], cwd=wf, env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-3000:]
    for s in shards:
        assert s.exists()
        t = Table.read(s, format="ascii.ecsv")
        assert set(t.colnames) >= {"tile", "ra", "dec", "score", "owned"}
    for s, mtime in done_before.items():
        assert s.stat().st_mtime_ns == mtime, f"{s.name} was redone"


def test_shard_inference_same_with_and_without_workers(tmp_path):
    """The DataLoader's workers split whole blocks; the detections do not depend on how many there are."""
    import torch

    from deepcee.detector.inference import load_model
    from deepcee.search.stage import run_shard

    _tiny_model(tmp_path / "model.pt")
    torch.manual_seed(0)
    model, _ = load_model(tmp_path / "model.pt")
    tiles, _ = plan_tiles({"region": {"ra_min": 149.9, "ra_max": 150.1, "dec_min": 1.9, "dec_max": 2.1}})
    tiles = tiles[:6]
    images = with_defaults(
        "images", {"pixels": 64, "pixel_scale_arcsec": PAPER_FIELD_ARCSEC / 64, "stretch": {"output_size": 64}}
    )
    cfg = {"batch_size": 4, "score_min": 0.0, "mock_block_tiles": 1}
    runs = []
    for workers in (0, 2):
        scfg = with_defaults("search", {**cfg, "workers": workers})
        table, stats = run_shard(model, tiles, GRID, scfg, images, sky=_sky(), progress=False, log=lambda *a: None)
        assert stats["n_tiles"] == 6 and stats["tiles_per_s"] > 0
        runs.append(table)
    assert len(runs[0]) == len(runs[1]) > 0
    assert set(runs[0]["tile"]) == {t.name for t in tiles}
    # the same boxes per tile: compared as sorted values, since batches of other sizes change the
    # untrained model's near-equal scores in the last bits, and with them any order by score
    for name in {t.name for t in tiles}:
        a, b = (r[r["tile"] == name] for r in runs)
        assert len(a) == len(b)
        for col in ("ra", "dec"):
            np.testing.assert_allclose(np.sort(a[col]), np.sort(b[col]), atol=1e-6)
    # the owning tile is the one whose cell holds the box centre
    assert (runs[0]["owned"] == (runs[0]["owner"] == runs[0]["tile_index"])).all()
    assert (runs[0]["owner"] == GRID.owner(runs[0]["ra"], runs[0]["dec"])).all()


# --------------------------------------------------------------------------- a redshift per candidate
def _calibration(z0=0.15):
    """A relation that gives z0 for any colour it is asked about (the wiring, not the science, is tested)."""
    return {
        "redshift": {
            "degree": 1,
            "coefficients": [z0, 0.0, 0.0],
            "gr_range": [0.0, 3.0],
            "ri_range": [-1.0, 2.0],
            "colour_margin": 0.0,
        },
        "richness": {"intercept": 0.0, "slope": 1.0},
    }


def _candidates():
    """One candidate on the mock cluster (matched to it), one on empty sky (no groups, a sparse field), one
    under the threshold."""
    return Table(
        {
            "id": ["DCS00001", "DCS00002", "DCS00003"],
            "ra": [150.01, 150.4, 150.01],
            "dec": [2.0, 2.4, 2.0],
            "score": [0.9, 0.8, 0.2],
            "box_arcsec": [300.0, 300.0, 300.0],
            "redmapper_id": ["RM1", "", "RM1"],
            "redmapper_z": [0.15, np.nan, 0.15],
            "redmapper_richness": [80.0, np.nan, 80.0],
        }
    )


def test_candidates_get_a_redshift_or_a_flag():
    from deepcee.search.candidate_redshifts import BELOW_THRESHOLD, estimate_candidates, redshift_summary

    images = with_defaults("images", {"pixels": 200, "pixel_scale_arcsec": PAPER_FIELD_ARCSEC / 200})
    scfg = with_defaults("search", {"score_threshold": 0.5})
    rcfg = with_defaults("redshift", {"richness": {"radius_kpc": 400.0}})
    cands = _candidates()
    done = estimate_candidates(
        cands,
        _calibration(),
        rcfg,
        scfg,
        images,
        sky=_sky(groups_per_deg2=0.0, galaxy_density_scale=0.05),
        log=lambda *a: None,
    )
    assert done["n_measured"] == 2  # the 0.2 candidate gets no cutout
    on, empty, low = cands
    assert on["z_flag"] == "ok" and on["z_est"] == pytest.approx(0.15)
    assert on["richness_flag"] == "ok" and on["richness_est"] > 0
    assert empty["z_flag"] in ("few_galaxies", "no_red_sequence") and np.isnan(empty["z_est"])
    assert np.isnan(empty["richness_est"]) and empty["richness_flag"] != "ok"
    assert low["z_flag"] == low["richness_flag"] == BELOW_THRESHOLD and np.isnan(low["z_est"])

    s = redshift_summary(cands, "cal.json", rcfg, scfg, done)
    assert s["n_measured"] == 2 and s["n_z_ok"] == 1 and s["n_redmapper_matched"] == 1
    assert s["redmapper"]["n"] == 1 and s["redmapper"]["bias"] == pytest.approx(0.0, abs=1e-9)
    assert s["redmapper"]["outlier_fraction"] == 0.0
    assert s["redmapper"]["sigma_nmad"] is None  # a spread of one cluster is not quoted


def test_red_excess_confirms_the_cluster_not_the_empty_sky_without_a_calibration():
    """The red excess is measured for the confirmation even with no redshift calibration: the
    candidate on the mock cluster has its red sequence, the one on a sparse empty field has none."""
    from deepcee.search.candidate_redshifts import NO_CALIBRATION, estimate_candidates
    from deepcee.search.confirm import confirmed

    images = with_defaults("images", {"pixels": 200, "pixel_scale_arcsec": PAPER_FIELD_ARCSEC / 200})
    scfg = with_defaults("search", {"score_threshold": 0.5})
    cands = _candidates()
    estimate_candidates(
        cands,
        None,
        with_defaults("redshift"),
        scfg,
        images,
        sky=_sky(groups_per_deg2=0.0, galaxy_density_scale=0.05),
        log=lambda *a: None,
    )
    on, empty, low = cands
    assert on["red_excess"] >= scfg["confirm"]["min_red_excess"]
    assert not (empty["red_excess"] >= scfg["confirm"]["min_red_excess"])  # NaN (too few galaxies) or small
    assert np.isnan(low["red_excess"]) and on["z_flag"] == NO_CALIBRATION
    assert list(confirmed(cands, 0.5, scfg["confirm"]["min_red_excess"])) == [True, False, False]
    assert list(confirmed(cands, 0.5, None)) == [True, True, False]  # confirmation off: the detector alone


def test_candidates_without_a_calibration_are_flagged_not_measured():
    from deepcee.search.candidate_redshifts import NO_CALIBRATION, estimate_candidates

    cands = _candidates()
    unconfirmed = {**with_defaults("search"), "confirm": {"min_red_excess": None}}  # nothing to measure
    done = estimate_candidates(
        cands,
        None,
        with_defaults("redshift"),
        unconfirmed,
        with_defaults("images"),
        sky=None,
        log=lambda *a: None,
    )
    assert done["n_measured"] == 0
    assert list(cands["z_flag"][:2]) == [NO_CALIBRATION] * 2 and np.isnan(cands["z_est"]).all()


def test_projected_tile_count_matches_the_plan_and_caps_a_large_search():
    """The tiling job projects the tile count from the footprint's area (no tile listed) and refuses
    a footprint above search.max_tiles with the count and hours, before making any tile."""
    from deepcee.search.tiles import projected_tiles

    box = {"ra_min": 149.0, "ra_max": 151.0, "dec_min": 1.0, "dec_max": 3.0}
    tiles, info = plan_tiles({"region": box})
    estimate, area, hours = projected_tiles({"region": box}, GRID)
    # the cells touching the box hold a rim of sky beyond it: a 2 x 2 deg box gains ~2 x 440"
    assert estimate <= len(tiles) <= 1.25 * estimate and area <= info["area_deg2"] <= 1.25 * area
    assert info["projected_hours"] == pytest.approx(len(tiles) / 1.5 / 3600)
    huge = {"ra_min": 100.0, "ra_max": 260.0, "dec_min": 0.0, "dec_max": 60.0}  # ~8,000 deg2
    with pytest.raises(DeepCeeError, match=r"about 5\d\d,\d{3} tiles \(67\.\d per deg2\), about \d[\d,]*\.\d h") as err:
        plan_tiles({"region": huge})
    assert "raise search.max_tiles" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(DeepCeeError, match="above search.max_tiles \\(200\\)"):
        plan_tiles({"region": box, "max_tiles": 200})


def test_candidates_export_for_topcat_and_aladin(tmp_path):
    """FITS and VOTable carry each column's unit, UCD and description; the footprint MOC holds
    exactly the tiles' owned cells."""
    from astropy import units as u
    from astropy.io.votable import parse_single_table
    from mocpy import MOC

    from deepcee.core.contracts import rows_table, table_contract
    from deepcee.search.export import COLUMNS, write_fits, write_footprint_moc, write_votable

    names = table_contract("candidates").colnames
    assert set(names) <= set(COLUMNS)  # every contract column has a UCD and a description
    row = {"id": "c1", "ra": 150.0, "dec": 2.0, "score": 0.9, "tiles": "a;b", "known": True, "z_flag": "ok"}
    cands = rows_table("candidates", [[row.get(n, 1.0 if n not in ("id", "tiles", "z_flag") else "") for n in names]])
    write_fits(cands, tmp_path / "c.fits")
    write_votable(cands, tmp_path / "c.vot")
    header = fits.getheader(tmp_path / "c.fits", "CANDIDATES")
    i = names.index("ra") + 1
    assert header[f"TUNIT{i}"] == "deg" and header[f"TUCD{i}"] == "pos.eq.ra;meta.main" and header[f"TCOMM{i}"]
    fields = {f.name: f for f in parse_single_table(tmp_path / "c.vot").fields}
    assert fields["dec"].ucd == "pos.eq.dec;meta.main" and str(fields["dec"].unit) == "deg"
    assert all(fields[n].description for n in names)
    tiles, info = plan_tiles({"region": {"ra_min": 149.95, "ra_max": 150.05, "dec_min": 1.95, "dec_max": 2.05}})
    table = _tiles_table(tiles, info)
    area = write_footprint_moc(table, tmp_path / "f.fits")
    # the MOC's depth-15 (6.4") cells along the edges: ~1.5 % more for this 0.06 deg2 patch
    assert info["area_deg2"] <= area <= 1.03 * info["area_deg2"]
    moc = MOC.from_fits(str(tmp_path / "f.fits"))
    assert moc.contains_lonlat(150.0 * u.deg, 2.0 * u.deg)[0]
    gen = np.random.default_rng(4)
    ra, dec = gen.uniform(149.5, 150.5, 5000), gen.uniform(1.5, 2.5, 5000)
    owned = np.isin(GRID.owner(ra, dec), table["index"])
    inside = moc.contains_lonlat(ra * u.deg, dec * u.deg)
    assert (owned == inside).mean() > 0.99 and inside[owned].mean() > 0.995


def test_injections_land_in_the_searched_area_apart_and_over_the_grid():
    """The grid draw with isolation (the easier test): every cell once, 6' from the sky's clusters."""
    from astropy.coordinates import SkyCoord

    from deepcee.search.inject import plan_injections

    region = {"ra_min": 150.0, "ra_max": 150.6, "dec_min": 2.0, "dec_max": 2.6}
    tiles = _tiles_table(*plan_tiles({"region": region}))
    occupied = Table({"ra": [150.3], "dec": [2.3]})
    cfg = {"n": 9, "z_range": [0.05, 0.35], "richness_range": [10, 150], "z_bins": 3, "richness_bins": 3}
    cfg.update({"min_separation_arcmin": 6.0, "richness_draw": "grid", "isolate": True})
    planted = plan_injections(tiles, occupied, cfg, seed=7, log=lambda m: None)
    assert len(planted) == 9 and len(set(planted["id"])) == 9
    assert np.isin(GRID.owner(planted["ra"], planted["dec"]), tiles["index"]).all()
    c = SkyCoord(list(planted["ra"]) + [150.3], list(planted["dec"]) + [2.3], unit="deg")
    seps = c[:, None].separation(c[None, :]).arcmin
    assert seps[~np.eye(len(c), dtype=bool)].min() >= 6.0
    # 9 clusters over 3 x 3 cells: one in each
    zi = np.searchsorted(planted.meta["z_edges"], planted["z"]) - 1
    li = np.searchsorted(planted.meta["richness_edges"], planted["richness"]) - 1
    assert len(set(zip(zi, li))) == 9
    again = plan_injections(tiles, occupied, cfg, seed=7, log=lambda m: None)
    assert list(again["ra"]) == list(planted["ra"])  # seeded


def test_wilson68_gives_floats_for_counts_and_nan_for_empty_cells():
    """One interval for every completeness and purity: 68.27 % Wilson, NaN where nothing was judged."""
    lo, hi = measure.wilson68(5, 10)
    assert isinstance(lo, float) and lo < 0.5 < hi and hi - 0.5 == pytest.approx(0.5 - lo, rel=1e-9)
    assert np.isnan(measure.wilson68(0, 0)).all()
    lo, hi = measure.wilson68(np.array([0, 3, 0]), np.array([4, 3, 0]))
    assert lo[0] == 0.0 and 0 < hi[0] < 1 and hi[1] == 1.0 and np.isnan([lo[2], hi[2]]).all()


def test_recovery_counts_cells_with_wilson_intervals():
    from deepcee.search.inject import recovery

    injected = Table(
        {"id": ["a", "b", "c"], "ra": [10.0, 10.5, 11.0], "dec": [1.0, 1.0, 1.0], "z": [0.1, 0.1, 0.3]},
    )
    injected["richness"] = [20.0, 20.0, 100.0]
    injected.meta.update({"z_edges": [0.05, 0.2, 0.35], "richness_edges": [10.0, 50.0, 150.0]})
    cands = Table({"ra": [10.0 + 30 / 3600, 11.0], "dec": [1.0, 1.0], "score": [0.9, 0.3]})
    cands["z_est"] = [0.11, 0.3]
    cands["richness_est"] = [25.0, 90.0]
    cells, summary = recovery(injected, cands, threshold=0.5, radius_arcmin=3.0)
    low = cells[(cells["z_lo"] == 0.05) & (cells["richness_lo"] == 10.0)][0]
    assert (low["n_injected"], low["n_found"]) == (2, 1) and low["ci_lo"] < 0.5 < low["ci_hi"]
    high = cells[(cells["z_lo"] == 0.2) & (cells["richness_lo"] == 50.0)][0]
    assert (high["n_injected"], high["n_found"]) == (1, 0)  # its candidate is below the threshold
    assert summary["n_found"] == 1 and summary["offset_arcsec_median"] == pytest.approx(30.0, abs=0.5)
    assert summary["z_bias"] == pytest.approx(0.01 / 1.1, rel=1e-6)
    headline = recovery(injected, cands, 0.5, 3.0, {"z": [0.05, 0.2], "richness_min": 15})[1]["headline"]
    assert (headline["n_injected"], headline["n_found"]) == (2, 1) and headline["ci_lo"] < 0.5 < headline["ci_hi"]


def test_purity_sets_group_detections_apart_by_richness():
    """A candidate on a cluster (catalogued or injected) is true, one on an uncatalogued group is
    counted apart with the group's richness, the rest are false; purity = true / (true + false)."""
    truth = Table(
        {
            "id": ["RM1", "INJ1", "G1", "G2"],
            "ra": [10.0, 11.0, 12.0, 13.0],
            "dec": [0.0] * 4,
            "kind": ["redmapper", "injected", "group", "group"],
            "richness": [40.0, 60.0, 7.0, 11.0],
        }
    )
    cands = Table({"ra": [10.01, 11.0, 12.02, 14.0, 13.0], "dec": [0.0] * 5, "score": [0.9, 0.8, 0.7, 0.6, 0.2]})
    cls, lam = measure.classify(cands, truth, 3.0)
    assert list(cls) == ["cluster", "cluster", "group", "none", "group"]
    assert lam[2] == 7.0 and np.isnan(lam[0])
    p = measure.purity_curve(cands, truth, 3.0, [0.5])[0]
    assert (p["n_real"], p["n_group"], p["n_false"]) == (2, 1, 1)
    assert p["purity"] == pytest.approx(2 / 3) and p["purity_all"] == pytest.approx(0.5)
    assert p["ci_lo"] < 2 / 3 < p["ci_hi"]
    groups = measure.group_detections(cands, truth, 3.0, 0.5, np.ones(4, bool))
    assert groups["n_detected"] == [0, 1, 0, 0, 0] and groups["n_in_area"] == [0, 1, 0, 1, 0]
    # on real imaging the truth has no kinds: every match is a catalogue cluster
    real = measure.purity_curve(cands, truth[["ra", "dec"]], 3.0, [0.5])[0]
    assert (real["n_real"], real["n_group"]) == (3, 0)


def test_candidates_are_centred_on_their_bcg_with_the_detectors_option():
    """train.predict.centre.method bcg: a box centred 40" off the mock cluster moves to its BCG (the
    catalogue position in the mock); box_ra/box_dec keep the box centre; method box moves nothing.
    No foreground galaxies or bright stars here: a 14th-magnitude foreground galaxy 12" from the
    box centre takes it otherwise (the brightest-galaxy rule's known failure, seed 7)."""
    from deepcee.search.candidate_redshifts import estimate_candidates

    images = with_defaults("images", {"pixels": 400, "pixel_scale_arcsec": PAPER_FIELD_ARCSEC / 400})
    centre = with_defaults("train", {})["predict"]["centre"]
    sky = _sky(groups_per_deg2=0.0, galaxy_density_scale=0.05, foreground_per_deg2=0.0, bright_stars_per_deg2=0)
    for method in ("bcg", "box"):
        cands = _candidates()
        cands["ra"][0] += 40 / 3600
        start = (float(cands["ra"][0]), float(cands["dec"][0]))
        done = estimate_candidates(
            cands,
            None,
            with_defaults("redshift"),
            with_defaults("search", {"score_threshold": 0.5}),
            images,
            sky=sky,
            log=lambda *a: None,
            centre={**centre, "method": method},
        )
        assert (cands["box_ra"][0], cands["box_dec"][0]) == start
        if method == "bcg":
            assert cands["on_bcg"][0] and done["n_on_bcg"] >= 1
            offset = np.hypot((cands["ra"][0] - 150.01) * np.cos(np.radians(2.0)), cands["dec"][0] - 2.0) * 3600
            assert offset < 3.0  # on the BCG, a pixel or so (1.98" pixels)
        else:
            assert not cands["on_bcg"].any() and (cands["ra"][0], cands["dec"][0]) == start


def test_cut_mcxc_file_is_one_line_naming_it(tmp_path):
    """A user's MCXC file cut short (no PROVENANCE record) or empty: one line naming the file."""
    import gzip

    from deepcee.search.merge import read_mcxc

    bundled = Path(__file__).resolve().parents[1] / "resources" / "mcxc-clusterdb" / "mcxc.csv.gz"
    assert len(read_mcxc(bundled)) > 1000  # the bundled one reads, and matches its record
    cut = tmp_path / "mcxc.csv.gz"
    cut.write_bytes(bundled.read_bytes()[:2000])
    with pytest.raises(DeepCeeError, match=r"mcxc\.csv\.gz: truncated or damaged compressed file"):
        read_mcxc(cut)
    empty = tmp_path / "empty.csv.gz"
    empty.write_bytes(gzip.compress(b"MCXC,RAdeg,DEdeg,z,M500\n"))
    with pytest.raises(DeepCeeError, match=r"empty\.csv\.gz: no rows"):
        read_mcxc(empty)
