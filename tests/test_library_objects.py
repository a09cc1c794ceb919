"""The one mock sky's bright objects drawn from the real-galaxy library (images/mock/library_objects.py).

A small in-memory library of lopsided Gaussian "galaxies" and "stars" (no SDSS field is read), so
that a turn or a mirror shows; a small mock sky of field galaxies and stars only."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table

from deepcee.core.errors import DeepCeeError
from deepcee.images.fits import make_wcs
from deepcee.images.mock.galaxy_library import COLUMNS, GalaxyLibrary
from deepcee.images.mock.library_objects import (
    LibraryObjects,
    LibraryObjectSettings,
    check_kind,
    match_object,
    plan_library_objects,
)
from deepcee.images.mock.real_members import role_galaxies
from deepcee.images.mock.sky import MockSky

SCALE = 1.584
RA, DEC = 180.0, 30.0


def _lopsided(size: int, flux: float) -> np.ndarray:
    """A blob with a fainter companion up and to the right: no quarter turn or mirror maps it onto itself."""
    y, x = np.mgrid[:size, :size]
    c = size // 2
    g = np.exp(-((x - c) ** 2 + (y - c) ** 2) / 4.5) + 0.4 * np.exp(-((x - c - 3) ** 2 + (y - c - 2) ** 2) / 2.0)
    g = (g * flux / g.sum()).astype(np.float32)
    return np.stack([0.5 * g, g, 1.5 * g])


def _library(entries) -> GalaxyLibrary:
    """entries: (field, role, kind, mag_r, g_r, r_i) each; 13 px stamps centred at (6, 6)."""
    rows, gri, seg = [], [], []
    for k, (field, role, kind, mag, gr, ri) in enumerate(entries):
        flux = 10 ** (-0.4 * (mag - 22.5))
        row = dict.fromkeys(COLUMNS, 0.0)
        row.update(id=k, field=field, role=role, kind=kind, mag_r=mag, g_r=gr, r_i=ri, flux_r=flux)
        row.update(stamp_size=13, stamp_xc=6.0, stamp_yc=6.0, npix=30, sep_flag=0)
        rows.append([row[c] for c in COLUMNS])
        gri.append(_lopsided(13, flux))
        seg.append(np.ones((13, 13), dtype=bool))
    table = Table(rows=rows, names=COLUMNS)
    table.meta = {
        "pixel_scale_arcsec": SCALE,
        "fields": [{"field": f, "role": r} for f, r in sorted({(e[0], e[1]) for e in entries})],
    }
    return GalaxyLibrary(table, gri, seg)


def _entries(role: str, field: str):
    out = []
    for mag in np.arange(14.0, 21.5, 0.25):
        out.append((field, role, "galaxy", float(mag), 0.9, 0.4))
        out.append((field, role, "galaxy", float(mag) + 0.1, 0.5, 0.2))
        out.append((field, role, "star", float(mag), 0.6, 0.2))
    return out


@pytest.fixture(scope="module")
def library():
    return _library(_entries("train", "fieldT") + _entries("test", "fieldS"))


def _objects(library, role, **settings) -> LibraryObjects:
    return LibraryObjects(
        role,
        role_galaxies(library, role, SCALE),
        role_galaxies(library, role, SCALE, kinds=("star", "bright_star")),
        LibraryObjectSettings(**settings),
    )


@pytest.fixture(scope="module")
def sky():
    mc = {"foreground_per_deg2": 0.0, "groups_per_deg2": 0.0, "bright_stars_per_deg2": 0.0}
    return MockSky(7, mc)


def _render(sky, objects, wcs, pixels):
    return sky.render(wcs, (pixels, pixels), SCALE, noise=False, library=objects)


def test_an_object_takes_a_close_entry_or_none():
    lib = _library([("f", "test", "galaxy", 18.0, 0.9, 0.4), ("f", "test", "galaxy", 18.0, 0.3, 0.1)])
    galaxies = role_galaxies(lib, "test", SCALE)
    gen = np.random.default_rng(0)
    strict = LibraryObjectSettings(candidates=1)
    assert match_object(galaxies, 18.1, 0.88, 0.41, gen, strict) == (0, pytest.approx(10 ** (-0.04)))
    assert match_object(galaxies, 18.0, 0.32, 0.12, gen, strict)[0] == 1
    # a red galaxy two magnitudes brighter than any red entry: none is close enough, GalSim draws it
    assert match_object(galaxies, 16.0, 0.9, 0.4, gen, strict) == (-1, 1.0)
    # half a magnitude brighter: the entry serves, brightened by max_flux_scale at most (drawn fainter)
    assert match_object(galaxies, 17.5, 0.9, 0.4, gen, LibraryObjectSettings(candidates=1, max_cost=40))[1] == 1.5


def test_the_bright_objects_are_library_entries_the_faint_ones_galsim(sky, library):
    objects = _objects(library, "test", mag_limit=19.0, max_cost=1e6)  # any colour serves here
    pixels = 120
    img, info = _render(sky, objects, make_wcs(RA, DEC, pixels, SCALE), pixels)
    o = info["objects"].cols
    real = o["library_id"] >= 0
    assert info["library"] == int(real.sum()) > 0
    assert np.all(o["mag_r"][real] < 19.0 + 2.5 * np.log10(1.5) + 1e-9)
    assert np.all(o["label"][real] != "foreground")
    bright = o["mag_r"] < 18.5
    assert real[bright].mean() > 0.9  # the library reaches 14: nearly every bright object is real
    assert not real[o["mag_r"] > 19.0 + 2.5 * np.log10(1.5)].any()
    ids = o["library_id"][real]
    assert set(np.asarray(library.table["field"])[ids]) == {"fieldS"}  # a test cutout: test fields' entries only
    assert np.isfinite(img).all()


TURNS = {
    "quarter turn": (np.array([[0.0, -1.0], [1.0, 0.0]]), lambda a: np.rot90(a, k=1, axes=(1, 2))),
    "mirrored": (np.array([[-1.0, 0.0], [0.0, 1.0]]), lambda a: a[:, :, ::-1]),
    "transposed": (np.array([[0.0, 1.0], [1.0, 0.0]]), lambda a: np.transpose(a, (0, 2, 1))),
}


def test_every_cutout_draws_an_object_alike(sky, library):
    objects = _objects(library, "train", max_cost=1e6)
    pixels = 90
    north_up = make_wcs(RA, DEC, pixels, SCALE)
    a, info = _render(sky, objects, north_up, pixels)
    assert info["library"] > 0
    # the same sky through the same pixel grid shifted by 20 pixels: the overlap is identical
    shifted = north_up.deepcopy()
    shifted.wcs.crpix = [north_up.wcs.crpix[0] - 20, north_up.wcs.crpix[1]]
    b, _ = _render(sky, objects, shifted, pixels)
    np.testing.assert_allclose(b[:, :, : pixels - 20], a[:, :, 20:], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", sorted(TURNS))
def test_a_turned_or_mirrored_cutout_shows_the_same_pixels_turned(sky, library, name):
    """GalSim's objects and the library's alike: a stamp is carried into the cutout's axes."""
    cd, move = TURNS[name]
    objects = _objects(library, "train", max_cost=1e6)
    pixels = 90
    north_up = make_wcs(RA, DEC, pixels, SCALE)
    a, info_a = _render(sky, objects, north_up, pixels)
    turned = north_up.deepcopy()
    turned.wcs.cd = north_up.wcs.cd @ cd
    c, info_c = _render(sky, objects, turned, pixels)
    assert info_c["library"] == info_a["library"] > 0
    np.testing.assert_allclose(move(a), c, rtol=1e-4, atol=1e-4)


def test_training_and_test_cutouts_of_one_place_draw_their_own_roles(sky, library):
    pixels = 80
    wcs = make_wcs(RA, DEC, pixels, SCALE)
    _, train = _render(sky, _objects(library, "train", max_cost=1e6), wcs, pixels)
    _, test = _render(sky, _objects(library, "test", max_cost=1e6), wcs, pixels)
    fields = np.asarray(library.table["field"])
    assert set(fields[train["objects"].cols["library_id"][train["objects"].cols["library_id"] >= 0]]) == {"fieldT"}
    assert set(fields[test["objects"].cols["library_id"][test["objects"].cols["library_id"] >= 0]]) == {"fieldS"}


def test_a_plan_is_keyed_by_the_object_not_the_cutout(library):
    objects = _objects(library, "test")
    args = ([180.1, 180.2], [30.0, 30.1], [1, 0], [17.0, 17.0], [0.9, 0.6], [0.4, 0.2])
    one, two = plan_library_objects(objects, 3, *args), plan_library_objects(objects, 3, *args)
    np.testing.assert_array_equal(one.index, two.index)
    np.testing.assert_array_equal(one.turns, two.turns)
    assert list(one.star) == [False, True]
    assert len({int(i) for i in one.index}) == 2


def test_an_unknown_sky_objects_kind_is_refused():
    assert check_kind("real") == "real"
    with pytest.raises(DeepCeeError, match="images.mock.sky_objects: 'fake'"):
        check_kind("fake")
