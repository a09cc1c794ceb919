"""The real-galaxy library (images.mock.galaxy_library): sources detected in bundled real SDSS fields,
measured, split into stars and galaxies, cut into neighbour-masked stamps, kept apart by role
(training or test field), stored and read back; its figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deepcee.core.errors import DamagedFileError, DeepCeeError
from deepcee.images.mock import galaxy_library as gl
from deepcee.images.mock.real_fields import align_and_bin

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
TRAIN = RESOURCES / "sdss-frames-run2126-camcol1-gri"  # a training field (images.mock.blank_frames)
TEST = RESOURCES / "sdss-frames-run1992-camcol1-field87-gri"  # a test field (evaluate.real_sky.blank_frames)

#: Point sources picked by eye on the native frames (round, PSF-sized, no structure): (RA, Dec) deg.
KNOWN_STARS = {
    TRAIN.name: [(174.12041, 3.86456), (174.12025, 3.90343), (174.12705, 4.02993), (174.10101, 3.94002)],
    TEST.name: [(162.93079, 1.37918), (162.99192, 1.39503), (162.94933, 1.27439)],
}
#: Resolved galaxies picked the same way (an edge-on disc, elongated or diffuse bodies).
KNOWN_GALAXIES = {
    TRAIN.name: [(174.11388, 3.97536), (174.07994, 4.05528)],
    TEST.name: [(162.99581, 1.46965), (162.95826, 1.32591), (162.89267, 1.44371)],
}


@pytest.fixture(scope="module")
def library():
    return gl.build_library([TRAIN], [TEST], 1.584)


@pytest.fixture(scope="module")
def train_image():
    """The training field as ``align_and_bin`` makes it at 1.584": (image, WCS)."""
    image, wcs, _ = align_and_bin(TRAIN, 1.584)
    return image, wcs


@pytest.fixture(scope="module")
def written(library, tmp_path_factory):
    out = tmp_path_factory.mktemp("galaxy_library")
    table, stamps = out / "library.ecsv", out / "stamps.npz"
    gl.write_library(library, table, stamps)
    return table, stamps


def _entry(table, field, ra, dec, tol_arcsec=1.5):
    """The one entry of ``field`` within ``tol_arcsec`` of (ra, dec)."""
    sel = np.flatnonzero(np.asarray(table["field"]).astype(str) == field)
    dra = (np.asarray(table["ra"])[sel] - ra) * np.cos(np.radians(dec))
    dist = np.hypot(dra, np.asarray(table["dec"])[sel] - dec) * 3600.0
    assert dist.min() < tol_arcsec, f"no entry of {field} at ({ra}, {dec}) (nearest {dist.min():.1f} arcsec)"
    return table[sel[np.argmin(dist)]]


def test_the_library_pixels_are_align_and_bins(library, train_image):
    """One decompression serves both scales: the native footprint summed 4 x 4 is exactly what
    align_and_bin gives at 1.584", with the same WCS."""
    image, wcs, _, factor, _ = gl._load_field(TRAIN, 1.584)
    ref, ref_wcs = train_image
    assert factor == 4 and image.shape == ref.shape
    assert np.array_equal(image, ref)
    probe = np.array([[0.0, 0.0], [100.5, 200.25], [ref.shape[2] - 1.0, ref.shape[1] - 1.0]])
    assert np.allclose(wcs.pixel_to_world_values(probe[:, 0], probe[:, 1]), ref_wcs.pixel_to_world_values(*probe.T))
    # and the entries' sky positions are those of that WCS
    t = library.table[np.asarray(library.table["field"]) == TRAIN.name]
    ra, dec = ref_wcs.pixel_to_world_values(np.asarray(t["x"]), np.asarray(t["y"]))
    assert np.allclose(ra, t["ra"], atol=1e-9) and np.allclose(dec, t["dec"], atol=1e-9)


def test_both_fields_give_galaxies_and_stars_with_their_role(library):
    t = library.table
    for folder, role in ((TRAIN, "train"), (TEST, "test")):
        mine = np.asarray(t["field"]) == folder.name
        assert set(np.asarray(t["role"])[mine]) == {role}
        kinds = np.asarray(t["kind"])[mine]
        # measured: a few hundred sources a field, more galaxies than stars at high latitude
        assert (kinds == "galaxy").sum() > 100 and (kinds == "star").sum() > 40
    assert np.array_equal(t["id"], np.arange(len(t)))
    assert [f["field"] for f in t.meta["fields"]] == [TRAIN.name, TEST.name]


def test_kron_magnitudes_agree_with_a_plain_aperture_sum(library, train_image):
    """Isolated stars with 16 <= r < 19: the Kron magnitude and g - r against a numpy sum in a 6 px
    (9.5") circle less the median of a 9-13 px annulus, on align_and_bin's image. Measured: median
    differences 0.01 mag (r) and 0.01 (g - r), the largest 0.05 and 0.11; tolerance 0.04 on the
    median, 0.12 mag (r) and 0.2 (g - r) on each."""
    image, _ = train_image
    t = library.table[np.asarray(library.table["field"]) == TRAIN.name]
    x, y = np.asarray(t["x"]), np.asarray(t["y"])
    gap = np.hypot(x[:, None] - x[None], y[:, None] - y[None])
    np.fill_diagonal(gap, np.inf)
    mag = np.asarray(t["mag_r"])
    chosen = np.flatnonzero((np.asarray(t["kind"]) == "star") & (mag >= 16) & (mag < 19) & (gap.min(axis=1) > 15))
    assert len(chosen) >= 8
    yy, xx = np.mgrid[: image.shape[1], : image.shape[2]]
    d_mag, d_colour = [], []
    for k in chosen:
        radius = np.hypot(xx - x[k], yy - y[k])
        aperture, annulus = radius <= 6, (radius >= 9) & (radius <= 13)
        flux = [image[j][aperture].sum() - np.median(image[j][annulus]) * aperture.sum() for j in range(3)]
        m = 22.5 - 2.5 * np.log10(flux)
        d_mag.append(mag[k] - m[1])
        d_colour.append(t["g_r"][k] - (m[0] - m[1]))
    d_mag, d_colour = np.abs(d_mag), np.abs(d_colour)
    assert np.median(d_mag) < 0.04 and d_mag.max() < 0.12, d_mag
    assert np.median(d_colour) < 0.04 and d_colour.max() < 0.2, d_colour


def test_known_point_sources_sit_on_the_stellar_locus_and_galaxies_off_it(library):
    t = library.table
    for field, positions in KNOWN_STARS.items():
        for ra, dec in positions:
            row = _entry(t, field, ra, dec)
            assert row["kind"] == "star", (field, ra, dec, row["r_half_ratio"])
            assert abs(row["r_half_ratio"] - 1.0) < 0.1
    for field, positions in KNOWN_GALAXIES.items():
        for ra, dec in positions:
            row = _entry(t, field, ra, dec)
            assert row["kind"] == "galaxy" and row["r_half_ratio"] > 1.3, (field, ra, dec, row["r_half_ratio"])
    for info in t.meta["fields"]:
        # the seeing of these frames: a star's half-light radius 0.5-0.9", tight (a few %)
        assert 0.4 < info["stellar_locus_r_half_arcsec"] < 1.0
        assert info["stellar_locus_core_scatter_arcsec"] < 0.1 * info["stellar_locus_core_arcsec"]
        assert info["stellar_locus_core_n"] >= 20


def test_the_split_follows_the_documented_rule(library):
    t = library.table
    s = t.meta["settings"]
    kind, mag, ratio = (np.asarray(t[c]) for c in ("kind", "mag_r", "r_half_ratio"))
    locus = {f["field"]: f["stellar_locus_r_half_arcsec"] for f in t.meta["fields"]}
    size = np.asarray(t["r_half_arcsec"]) / np.array([locus[f] for f in np.asarray(t["field"])])
    bright = (mag < s["bright_mag"]) & (size < s["bright_size_ratio"])
    assert np.array_equal(kind == "bright_star", bright)
    assert np.all(ratio[kind == "galaxy"] > s["extended_ratio"])
    assert np.all(ratio[kind == "star"] <= s["extended_ratio"])
    assert np.all(mag[kind == "star"] >= s["bright_mag"])  # nothing this bright passes for a plain star
    assert bright.sum() >= 3  # both fields hold saturated stars


def test_stamps_hold_their_own_segment_only(library):
    """Neighbours (and sky) are zero: no nonzero pixel outside the entry's own segment; the stamp's r
    sum is its isophotal flux; no two entries of a field share a pixel; nothing touches the edge."""
    t = library.table
    for k in range(len(library)):
        stamp, own = library.gri[k], library.segment[k]
        assert stamp.shape == (3, t["stamp_size"][k], t["stamp_size"][k]) and own.shape == stamp.shape[1:]
        assert not np.any(stamp[:, ~own]), f"entry {k}: nonzero pixels outside its segment"
        assert own.sum() == t["npix"][k]
        assert own[int(round(t["stamp_yc"][k])), int(round(t["stamp_xc"][k]))] or t["kind"][k] == "galaxy"
        assert stamp[1].sum(dtype=np.float64) == pytest.approx(t["flux_iso_r"][k], rel=1e-5, abs=1e-6)
    for info in t.meta["fields"]:
        ny, nx = info["shape"]
        cover = np.zeros((ny, nx), dtype=int)
        for k in np.flatnonzero(np.asarray(t["field"]) == info["field"]):
            n = int(t["stamp_size"][k])
            x0 = int(round(t["x"][k] - t["stamp_xc"][k]))
            y0 = int(round(t["y"][k] - t["stamp_yc"][k]))
            ys, xs = np.nonzero(library.segment[k])
            assert ys.min() + y0 >= 1 and xs.min() + x0 >= 1 and ys.max() + y0 <= ny - 2 and xs.max() + x0 <= nx - 2
            np.add.at(cover, (ys + y0, xs + x0), 1)
            assert n % 2 == 1
        assert cover.max() == 1, f"{info['field']}: two entries' segments overlap"


def test_a_role_query_returns_that_role_only(library):
    train = library.select("train")
    test = library.select("test", kinds=None)
    assert len(train) and len(test)
    assert set(np.asarray(train.table["field"])) == {TRAIN.name} and set(np.asarray(train.table["role"])) == {"train"}
    assert set(np.asarray(train.table["kind"])) == {"galaxy"}
    assert set(np.asarray(test.table["field"])) == {TEST.name}
    assert len(test) == int(np.sum(np.asarray(library.table["role"]) == "test"))
    stars = gl.select_role(library, "train", kinds="star")
    assert set(np.asarray(stars.table["kind"])) == {"star"} and stars.role == "train"
    # the stamps travel with their rows
    k = int(train.table["id"][3])
    assert np.array_equal(train.gri[3], library.gri[k])


@pytest.mark.parametrize("role", [None, "both", "all", "TRAIN", ("train", "test"), ["train"], ""])
def test_no_role_value_gets_past_the_check(library, role):
    with pytest.raises(DeepCeeError, match="role must be one of train, test"):
        library.select(role)


def test_a_one_role_library_refuses_the_other_role(library):
    train = library.select("train", kinds=None)
    with pytest.raises(DeepCeeError, match="holds train entries only; test entries asked for"):
        train.select("test")
    with pytest.raises(DeepCeeError, match="another role"):
        gl.GalaxyLibrary(library.table, library.gri, library.segment, role="train")


def test_a_field_in_both_roles_is_refused(library):
    with pytest.raises(DeepCeeError, match="is listed in both the train and the test fields"):
        gl.build_library([TRAIN], [TEST, str(TRAIN)], 1.584)
    with pytest.raises(DeepCeeError, match="listed in the train fields twice"):
        gl.build_library([TRAIN, TRAIN], [], 1.584)
    # a table edited so one row of the training field claims the test role
    table = library.table.copy()
    first = int(np.flatnonzero(np.asarray(table["field"]) == TRAIN.name)[0])
    table["role"][first] = "test"
    with pytest.raises(DeepCeeError, match=f"field {TRAIN.name} has entries of roles test and train"):
        gl.GalaxyLibrary(table, library.gri, library.segment)
    # the build's record of the field's role disagrees with a whole field relabelled
    table["role"][np.asarray(table["field"]) == TRAIN.name] = "test"
    with pytest.raises(DeepCeeError, match=f"field {TRAIN.name} was built as a train field, its entries say test"):
        gl.GalaxyLibrary(table, library.gri, library.segment)


def test_relabelling_a_field_after_the_fact_does_not_pass_select(library):
    """The role column edited in place, after the library was made: select() compares each field's
    rows with the role the field had when the library was made."""
    copy = gl.GalaxyLibrary(library.table.copy(), library.gri, library.segment)
    test_rows = np.asarray(copy.table["field"]) == TEST.name
    copy.table["role"][test_rows] = "train"  # the whole test field now claims to be training sky
    with pytest.raises(DeepCeeError, match=f"field {TEST.name} is a test field; its entries cannot serve train"):
        copy.select("train")
    copy.table["role"][np.flatnonzero(test_rows)[1:]] = "test"  # one row of it only
    with pytest.raises(DeepCeeError, match=f"field {TEST.name} has entries of roles"):
        copy.select("test")


def test_write_then_read_gives_the_same_library(library, written, tmp_path):
    table_path, stamps_path = written
    back = gl.read_library(table_path, stamps_path)
    assert back.table.colnames == library.table.colnames
    for name in library.table.colnames:
        assert np.array_equal(np.asarray(back.table[name]), np.asarray(library.table[name])), name
    assert all(np.array_equal(a, b) for a, b in zip(back.gri, library.gri))
    assert all(np.array_equal(a, b) for a, b in zip(back.segment, library.segment))
    assert back.table.meta["fields"] == library.table.meta["fields"]
    assert len(back.select("test")) == len(library.select("test"))
    # the stamps file's bytes depend on the stamps alone (no dates inside)
    again = tmp_path / "again.npz"
    gl.write_library(library, tmp_path / "again.ecsv", again)
    assert again.read_bytes() == stamps_path.read_bytes()


def test_a_missing_field_folder_is_one_line_naming_it(tmp_path):
    missing = tmp_path / "sdss-frames-run0000-gri"
    with pytest.raises(DeepCeeError, match=f"{missing}: SDSS field folder not found"):
        gl.build_library([TRAIN], [missing], 1.584)
    with pytest.raises(DeepCeeError, match="no field folders given"):
        gl.build_library([], [], 1.584)
    with pytest.raises(DeepCeeError, match="not a whole multiple"):
        gl.measure_field(TRAIN, "train", 1.0)
    with pytest.raises(DeepCeeError, match="role must be one of"):
        gl.measure_field(TRAIN, "validation", 1.584)


def test_a_truncated_or_foreign_stamps_file_is_refused_naming_it(written, tmp_path):
    table_path, stamps_path = written
    raw = stamps_path.read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DamagedFileError, match=f"{cut}: truncated or damaged galaxy library stamps file"):
        gl.read_library(table_path, cut)
    with pytest.raises(DeepCeeError, match=f"{tmp_path / 'none.npz'}: galaxy library stamps file not found"):
        gl.read_library(table_path, tmp_path / "none.npz")
    with pytest.raises(DeepCeeError, match=f"{tmp_path / 'none.ecsv'}: galaxy library table file not found"):
        gl.read_library(tmp_path / "none.ecsv", stamps_path)
    # the stamps of another library (the training field alone): not the table's, by its sha256
    other = tmp_path / "other.npz"
    gl.write_library(gl.GalaxyLibrary(*_first_rows(written)), tmp_path / "other.ecsv", other)
    with pytest.raises(DamagedFileError, match=f"{other}: not the stamps file of {table_path}"):
        gl.read_library(table_path, other)
    with pytest.raises(DeepCeeError, match="must end in .npz"):
        gl.write_library(gl.read_library(table_path, stamps_path), tmp_path / "x.ecsv", tmp_path / "x.fits")


def _first_rows(written, n=5):
    lib = gl.read_library(*written)
    return lib.table[:n], lib.gri[:n], lib.segment[:n]


def test_an_edited_table_is_refused_on_reading(written, tmp_path):
    """A table whose roles were edited (test entries relabelled train) no longer matches its stamps."""
    from astropy.table import Table

    table_path, stamps_path = written
    table = Table.read(table_path, format="ascii.ecsv")
    table["role"] = "train"
    edited = tmp_path / "edited.ecsv"
    table.write(edited, format="ascii.ecsv")
    with pytest.raises(DamagedFileError, match=f"{stamps_path}: its entries' roles differ from those of {edited}"):
        gl.read_library(edited, stamps_path)


def test_the_figure_is_drawn(library, tmp_path):
    from deepcee.images.figures import galaxy_library_figure

    png, pdf = tmp_path / "library.png", tmp_path / "library.pdf"
    galaxy_library_figure(library, png, pdf)
    assert png.stat().st_size > 20_000 and pdf.stat().st_size > 10_000
