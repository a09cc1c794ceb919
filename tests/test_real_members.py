"""Real-galaxy cluster members (images/mock/real_members.py) and the real-sky member kinds
(images.views.with_member_kinds, images.mock.render.member_kind).

Built on a small in-memory library of Gaussian "galaxies" (no SDSS field is read), so each rule
of the matching and the drawing is checked on numbers known in advance."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table

from deepcee.core.errors import DeepCeeError
from deepcee.core.sdss import library_pixel_scale
from deepcee.images.mock.galaxy_library import COLUMNS, GalaxyLibrary, write_library
from deepcee.images.mock.real_members import (
    RealMemberSettings,
    add_stamp,
    bin_stamp,
    draw_real_members,
    library_scale_factor,
    match_members,
    oriented,
    role_galaxies,
)
from deepcee.images.mock.render import member_kind
from deepcee.images.views import with_member_kinds


def _blob(size: int, flux: float, xc: float, yc: float, sigma: float = 1.5) -> np.ndarray:
    y, x = np.mgrid[:size, :size]
    g = np.exp(-((x - xc) ** 2 + (y - yc) ** 2) / (2 * sigma**2)).astype(np.float32)
    g *= flux / g.sum()
    return np.stack([0.5 * g, g, 1.5 * g])


def _library(entries, scale=1.584) -> GalaxyLibrary:
    """entries: (field, role, kind, mag_r, g_r, r_i) each; stamps 11 px with the centroid at (5, 5)."""
    rows = []
    gri, seg = [], []
    for k, (field, role, kind, mag, gr, ri) in enumerate(entries):
        flux = 10 ** (-0.4 * (mag - 22.5))
        row = dict.fromkeys(COLUMNS, 0.0)
        row.update(id=k, field=field, role=role, kind=kind, mag_r=mag, g_r=gr, r_i=ri, flux_r=flux)
        row.update(stamp_size=11, stamp_xc=5.0, stamp_yc=5.0, npix=20, sep_flag=0)
        rows.append(row)
        gri.append(_blob(11, flux, 5.0, 5.0))
        seg.append(np.ones((11, 11), dtype=bool))
    table = Table(rows=[[r[c] for c in COLUMNS] for r in rows], names=COLUMNS)
    table.meta = {
        "pixel_scale_arcsec": scale,
        "fields": [{"field": f, "role": r} for f, r in sorted({(e[0], e[1]) for e in entries})],
    }
    return GalaxyLibrary(table, gri, seg)


def _test_library():
    entries = []
    for field in ("fieldA", "fieldB"):
        for mag in (16.0, 17.0, 18.0, 19.0, 20.0, 20.5):
            entries.append((field, "test", "galaxy", mag, 0.95, 0.40))  # red
            entries.append((field, "test", "galaxy", mag + 0.1, 0.50, 0.20))  # blue
        entries.append((field, "test", "star", 17.0, 0.6, 0.2))
    entries.append(("fieldT", "train", "galaxy", 16.0, 0.95, 0.40))
    return _library(entries)


def test_library_scale_is_the_coarsest_whole_binning_up_to_1_584():
    assert library_pixel_scale(1.584) == pytest.approx(1.584)
    assert library_pixel_scale(6.336) == pytest.approx(1.584)  # configs/ci.yaml's views sum 4 x 4 library pixels
    assert library_pixel_scale(1.188) == pytest.approx(1.188)
    assert library_pixel_scale(2.376) == pytest.approx(1.188)  # 6 native pixels: 3 divides, 4 does not
    assert library_pixel_scale(0.396) == pytest.approx(0.396)
    assert library_pixel_scale(1.0) is None
    assert library_scale_factor(1.584, 6.336) == 4
    with pytest.raises(DeepCeeError, match="whole number"):
        library_scale_factor(1.584, 2.0)


def test_binning_keeps_the_flux_and_moves_the_centroid_to_the_binned_pixels():
    stamp = _blob(11, 100.0, 5.0, 5.0)
    binned, x, y = bin_stamp(stamp, 5.0, 5.0, 4)
    assert binned.shape == (3, 3, 3)
    assert binned.sum(axis=(1, 2)) == pytest.approx(stamp.sum(axis=(1, 2)), rel=1e-5)
    assert (x, y) == pytest.approx((0.875, 0.875))  # (5 + 0.5) / 4 - 0.5


@pytest.mark.parametrize("turns", [0, 1, 2, 3])
@pytest.mark.parametrize("mirrored", [False, True])
def test_a_turned_and_mirrored_stamp_carries_its_centroid(turns, mirrored):
    stamp = np.zeros((3, 7, 9), dtype=np.float32)
    stamp[:, 2, 6] = 1.0  # row 2, column 6
    out, x, y = oriented(stamp, 6.0, 2.0, turns, mirrored)
    rows, cols = np.nonzero(out[1])
    assert (cols[0], rows[0]) == (x, y)


def test_a_stamp_lands_with_its_centroid_on_the_pixel_and_is_clipped_at_the_edge():
    img = np.zeros((3, 20, 20), dtype=np.float32)
    stamp = np.zeros((3, 5, 5), dtype=np.float32)
    stamp[:, 2, 2] = 1.0
    stamp[:, 0, 0] = 0.5
    add_stamp(img, stamp, 10.0, 7.0, 2.0, 2.0, 2.0)
    assert img[1, 7, 10] == 2.0 and img[1, 5, 8] == 1.0
    add_stamp(img, stamp, 0.0, 19.0, 2.0, 2.0, 1.0)  # most of it outside: the rest is dropped
    assert img[1, 19, 0] == 1.0 and img.sum() == pytest.approx(3 * (2.0 + 1.0 + 1.0 + 0.0))


def test_members_match_in_magnitude_and_colour_never_twice_never_from_the_own_field():
    galaxies = role_galaxies(_test_library(), "test", 1.584)
    assert set(galaxies.field) == {"fieldA", "fieldB"}  # the train entry and the stars stay out
    settings = RealMemberSettings(candidates=1)
    mags = np.array([16.0, 17.05, 19.0, 19.0])
    gr = np.array([0.95, 0.95, 0.95, 0.5])
    ri = np.array([0.40, 0.40, 0.40, 0.20])
    index, scale = match_members(galaxies, mags, gr, ri, np.random.default_rng(1), settings, exclude_field="fieldA")
    assert len(set(index)) == 4
    assert set(galaxies.field[index]) == {"fieldB"}
    assert galaxies.mag_r[index[0]] == 16.0 and galaxies.g_r[index[0]] == 0.95  # the BCG: the brightest red
    assert galaxies.g_r[index[3]] == 0.5  # the blue member: a blue entry
    assert np.all(scale <= settings.max_flux_scale)


def test_a_member_brighter_than_the_library_allows_is_drawn_fainter_not_amplified():
    galaxies = role_galaxies(_test_library(), "test", 1.584)
    settings = RealMemberSettings(max_flux_scale=1.5, candidates=1)
    img = np.zeros((3, 60, 60), dtype=np.float32)
    drawn, mags, ids = draw_real_members(
        img, galaxies, [30.0], [30.0], [14.0], [0.95], [0.4], np.random.default_rng(0), settings
    )
    assert drawn[0] and ids[0] >= 0
    assert mags[0] == pytest.approx(16.0 - 2.5 * np.log10(1.5))  # the brightest entry, scaled up by 1.5 only
    assert img[1].sum() == pytest.approx(1.5 * 10 ** (-0.4 * (16.0 - 22.5)), rel=1e-4)
    assert img[0].sum() / img[1].sum() == pytest.approx(0.5, rel=1e-4)  # the entry's own colour


def test_members_fainter_than_the_limit_are_left_to_galsim():
    galaxies = role_galaxies(_test_library(), "test", 1.584)
    img = np.zeros((3, 60, 60), dtype=np.float32)
    drawn, mags, _ = draw_real_members(
        img,
        galaxies,
        [10.0, 40.0],
        [10.0, 40.0],
        [18.0, 21.5],
        [0.95, 0.95],
        [0.4, 0.4],
        np.random.default_rng(0),
        RealMemberSettings(mag_limit=21.0),
    )
    assert drawn.tolist() == [True, False] and mags[1] == 21.5


def test_training_views_never_draw_test_galaxies():
    library = _test_library()
    train = role_galaxies(library, "train", 1.584)
    assert set(train.field) == {"fieldT"}
    with pytest.raises(DeepCeeError, match="no test galaxies"):
        role_galaxies(_library([("fieldT", "train", "galaxy", 16.0, 0.9, 0.4)]), "test", 1.584)


def test_member_kind_comes_from_the_view_then_from_the_setting():
    assert member_kind({"view": "a", "members": "scattered"}, {"members": "real"}, 1) == "scattered"
    assert member_kind({"view": "a"}, {"members": "real"}, 1) == "real"
    with pytest.raises(DeepCeeError, match="unknown members kind"):
        member_kind({"view": "a", "members": "painted"}, {"members": "galsim"}, 1)
    mixed = {"members": "mixed", "real_members": {"fraction": 0.3}}
    kinds = [member_kind({"view": f"v{i}"}, mixed, 7) for i in range(2000)]
    assert kinds == [member_kind({"view": f"v{i}"}, mixed, 7) for i in range(2000)]  # drawn per view, stable
    assert 0.25 < kinds.count("real") / 2000 < 0.35


def test_each_real_sky_view_is_planned_once_per_kind_over_one_crop():
    views = Table({"view": ["c1_v0", "c2_v0"], "cluster_id": ["c1", "c2"], "shard": [0, 1]})
    out = with_member_kinds(views, ["galsim", "real", "blank"])
    assert list(out["view"]) == ["c1_v0", "c2_v0", "c1_v0-real", "c2_v0-real", "c1_v0-blank", "c2_v0-blank"]
    assert list(out["source_view"]) == ["c1_v0", "c2_v0"] * 3
    assert list(out["members"]) == ["galsim"] * 2 + ["real"] * 2 + ["blank"] * 2
    assert list(out["shard"]) == [0, 1] * 3
    with pytest.raises(DeepCeeError, match="distinct"):
        with_member_kinds(views, ["galsim", "galsim"])


def test_a_real_sky_view_of_each_kind_over_the_same_crop(tmp_path):
    """The four kinds of one view render over one crop: blank is the crop alone, galsim and
    scattered hold the same light, real swaps the bright members for library galaxies."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    from deepcee.core.config import with_defaults
    from deepcee.images.fits import BANDS, make_wcs, write_view_fits
    from deepcee.images.mock.render import render_view

    library = _test_library()
    write_library(library, tmp_path / "lib.ecsv", tmp_path / "stamps.npz")
    rng = np.random.default_rng(3)
    field = {b: rng.normal(0, 0.01, (120, 150)).astype(np.float32) for b in BANDS}
    wcs = make_wcs(150.0, 20.0, 150, 1.584)
    write_view_fits(tmp_path / "fieldC.fits", field, wcs, meta={"SOURCE": "sdss"})
    images = with_defaults("images", {"pixel_scale_arcsec": 1.584})
    images["mock"].update(background="sdss_blank", real_view_pixels=100)
    centre = SkyCoord(150.0 * u.deg, 20.0 * u.deg)
    rendered = {}
    for kind in ("galsim", "real", "scattered", "blank"):
        view = {
            "view": f"c1_v0-{kind}",
            "source_view": "c1_v0",
            "cluster_id": "c1",
            "z": 0.12,
            "richness": 60.0,
            "bcg_rmag": 15.8,
            "ra": centre.ra.deg,
            "dec": centre.dec.deg,
            "centre_ra": centre.ra.deg,
            "centre_dec": centre.dec.deg,
            "split": "test",
            "background": "sdss_blank",
            "field": "fieldC",
            "members": kind,
        }
        rendered[kind] = render_view(
            view,
            images,
            11,
            real_fields={"fieldC": str(tmp_path / "fieldC.fits")},
            galaxy_library=(str(tmp_path / "lib.ecsv"), str(tmp_path / "stamps.npz")),
        )
    blank = rendered["blank"][0]
    assert len(rendered["blank"][2]["truth"]) == 0
    background_only = np.abs(blank).max()
    for kind in ("galsim", "real", "scattered"):
        img, _, info = rendered[kind]
        assert info["members"] == kind and len(info["truth"]) > 0
        assert (img - blank).sum() > 100 * background_only  # the injected light, over the one crop
    real_info = rendered["real"][2]
    assert 0 < real_info["real_members"] <= len(library.select("test").table)
    assert rendered["galsim"][2]["real_members"] == 0
    assert set(rendered["scattered"][2]["truth"]["member"]) == {"scattered"}
    assert not rendered["scattered"][2]["truth"]["central"].any()
    galsim_truth, scattered_truth = rendered["galsim"][2]["truth"], rendered["scattered"][2]["truth"]
    assert np.array_equal(galsim_truth["mag_r"], scattered_truth["mag_r"])  # the same members, moved
    assert not np.allclose(galsim_truth["x"], scattered_truth["x"])
    with pytest.raises(DeepCeeError, match="no galaxy library"):
        render_view({**view, "members": "real"}, images, 11, real_fields={"fieldC": str(tmp_path / "fieldC.fits")})
