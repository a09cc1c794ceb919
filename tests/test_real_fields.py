"""Real SDSS fields: the bands aligned and binned, square crops that are nothing but real sky,
and the blank-sky tiling that counts every part of a field once."""

from __future__ import annotations

import re

import numpy as np
import pytest

from deepcee.core.errors import DeepCeeError
from deepcee.images.mock import real_fields
from images_helpers import BLANK, NGC, RESOURCES


@pytest.fixture(scope="module")
def field(tmp_path_factory):
    out = tmp_path_factory.mktemp("fields")
    (info,) = real_fields.prepare_fields([BLANK], 1.584, out)
    return info, real_fields.read_field(info["fits"])


def test_a_field_is_aligned_in_its_three_bands_and_binned(field):
    """The footprint is what g, r and i all cover, binned 4 x 4 by flux (the frames' pixels summed)."""
    from deepcee.images.mock.real_fields import _read_frame, blank_frame_paths

    info, f = field
    _, ny, nx = f.image.shape
    assert info["binning"] == 4 and (ny, nx) == tuple(info["shape"])
    # 2048 x 1489 native pixels less the bands' offsets (a few to a dozen pixels), / 4
    assert 500 <= nx <= 512 and 360 <= ny <= 372
    # flux is conserved by the binning: the r footprint sums to the r frame's sum over the same pixels
    r, _ = _read_frame(blank_frame_paths(BLANK)["r"])
    x0, y0 = info["native_origin"]
    assert f.image[1].sum(dtype=np.float64) == pytest.approx(
        r[y0 : y0 + 4 * ny, x0 : x0 + 4 * nx].sum(dtype=np.float64), rel=1e-5
    )
    # the binned WCS puts a bin's centre where the frame's WCS puts the centre of its 4 x 4 pixels
    from astropy.io import fits
    from astropy.wcs import WCS

    frame_wcs = WCS(fits.getheader(blank_frame_paths(BLANK)["r"]))
    for i, j in ((0, 0), (nx - 1, ny - 1), (nx // 2, 17)):
        a = f.wcs.pixel_to_world(i, j)
        b = frame_wcs.pixel_to_world(x0 + 4 * i + 1.5, y0 + 4 * j + 1.5)
        assert a.separation(b).arcsec < 0.5  # SIP terms dropped: well under a native pixel


def test_bright_sources_line_up_across_bands(field):
    """After the shift, a bright star peaks on the same binned pixel in g, r and i."""
    _, f = field
    r = f.image[1]
    y, x = np.unravel_index(np.argmax(r), r.shape)
    for band in (0, 2):
        patch = f.image[band, max(0, y - 3) : y + 4, max(0, x - 3) : x + 4]
        py, px = np.unravel_index(np.argmax(patch), patch.shape)
        assert abs(py - min(3, y)) <= 1 and abs(px - min(3, x)) <= 1


def test_crops_are_real_sky_only(field):
    """A crop is a square of the footprint, never padded: at any seed its pixels are the field's."""
    _, f = field
    for seed in range(20):
        out, (x0, y0, turns, mirrored) = real_fields.crop(f, 350, np.random.default_rng(seed), orient=False)
        assert out.shape == (3, 350, 350) and (turns, mirrored) == (0, False)
        assert np.array_equal(out, f.image[:, y0 : y0 + 350, x0 : x0 + 350])
    turned, (x0, y0, turns, mirrored) = real_fields.crop(f, 200, np.random.default_rng(3), orient=True)
    ref = np.rot90(f.image[:, y0 : y0 + 200, x0 : x0 + 200], k=turns, axes=(1, 2))
    assert np.array_equal(turned, ref[:, :, ::-1] if mirrored else ref)
    with pytest.raises(DeepCeeError, match="does not fit"):
        real_fields.crop(f, 400, np.random.default_rng(0))


def test_field_folders_and_names():
    assert real_fields.field_folders("a/b") == ["a/b"]
    assert real_fields.field_folders(["a", "b"]) == ["a", "b"]
    assert real_fields.field_folders(None) == []
    assert real_fields.field_name(BLANK) == BLANK.name
    with pytest.raises(DeepCeeError, match="not a whole multiple"):
        real_fields.align_and_bin(BLANK, 1.5)
    with pytest.raises(DeepCeeError, match="band g"):
        real_fields.align_and_bin(RESOURCES / "sdss-frame-r-redmapper-cluster", 1.584)


def _doctored_field(tmp_path, doctor):
    """A copy of the BLANK field (frames only: no PROVENANCE.md) whose g frame ``doctor(data, header)``
    changed in place, written uncompressed."""
    import shutil

    from astropy.io import fits

    from deepcee.images.mock.real_fields import _read_frame, blank_frame_paths

    folder = tmp_path / "doctored-gri"
    folder.mkdir()
    for band, path in blank_frame_paths(BLANK).items():
        if band != "g":
            shutil.copy2(path, folder / path.name)
            continue
        data, header = _read_frame(path)
        doctor(data, header)
        fits.PrimaryHDU(data, header).writeto(folder / path.name.removesuffix(".bz2"))
    return folder, folder / blank_frame_paths(BLANK)["g"].name.removesuffix(".bz2")


def test_frame_with_nan_or_inf_pixels_is_refused(tmp_path):
    """NaN and inf pixels would flow into every real-sky view (SDSS frames have none): refused,
    naming the frame and the fraction."""

    def holes(data, header):
        data[:149] = np.nan  # 10 % of the rows
        data[-1, :10] = np.inf

    folder, frame = _doctored_field(tmp_path, holes)
    with pytest.raises(
        DeepCeeError, match=rf"^{re.escape(str(frame))}: 10\.01% of the pixels are NaN or inf \(305162 of 3049472\)"
    ):
        real_fields.align_and_bin(folder, 1.584)


def test_frame_of_another_pixel_scale_is_refused(tmp_path):
    """The binning factor assumes SDSS's 0.396" pixels: a frame whose WCS says otherwise (a 0.262"
    CD matrix; the bundled NGC 6976 images, resampled to 1.19") is refused, naming both scales."""

    def finer(data, header):
        for key in ("CD1_1", "CD1_2", "CD2_1", "CD2_2"):
            header[key] *= 0.262 / 0.396

    folder, frame = _doctored_field(tmp_path, finer)
    with pytest.raises(
        DeepCeeError, match=rf'^{re.escape(str(frame))}: pixel scale 0\.262 x 0\.262" \(header WCS\), not .* 0\.396"'
    ):
        real_fields.align_and_bin(folder, 1.584)
    ngc = tmp_path / "ngc6976-gri"
    ngc.mkdir()
    for band in "gri":  # named as a field folder's frames are, so that the folder is read as one
        (ngc / f"img-{band}-ngc6976.fits.bz2").write_bytes((NGC / f"reprojected_sdss_{band}.fits.bz2").read_bytes())
    with pytest.raises(DeepCeeError, match=r'img-g-ngc6976.fits.bz2: pixel scale 1\.188 x 1\.188" .* 0\.396"'):
        real_fields.align_and_bin(ngc, 1.584)


def test_cut_bundled_frame_is_refused(tmp_path):
    """A bundled frame that is not what its PROVENANCE.md records (cut short) is refused before it is read."""
    import shutil

    from deepcee.core.errors import DamagedFileError

    folder = shutil.copytree(BLANK, tmp_path / BLANK.name)
    frame = real_fields.blank_frame_paths(folder)["r"]
    frame.write_bytes(frame.read_bytes()[:1_000_000])
    with pytest.raises(
        DamagedFileError, match=rf"^{re.escape(str(frame))}: bundled file damaged .* 1,000,000 bytes, not the 3,041,756"
    ):
        real_fields.align_and_bin(folder, 1.584)


def test_blank_tiles_cover_each_column_once():
    from deepcee.evaluate.blank_sky import owned_columns, tile_origins

    for width, side in ((510, 350), (350, 350), (1000, 350), (511, 100)):
        origins = tile_origins(width, side)
        assert origins[0] == 0 and origins[-1] + side == width
        owned = owned_columns(origins, side, width)
        assert owned[0][0] == 0 and owned[-1][1] == width
        for (lo, hi), (lo2, _), o in zip(owned, owned[1:] + [(width, width)], origins):
            assert hi == lo2  # contiguous: no column owned twice or never
            assert o <= lo and hi <= o + side  # a tile owns only columns it shows
    with pytest.raises(DeepCeeError):
        tile_origins(300, 350)


def test_poisson_interval():
    from deepcee.evaluate.blank_sky import poisson_interval

    lo, hi = poisson_interval(0)
    assert lo == 0 and hi == pytest.approx(3.689, abs=1e-3)
    lo, hi = poisson_interval(10)
    assert lo == pytest.approx(4.795, abs=1e-3) and hi == pytest.approx(18.39, abs=1e-2)


def test_bands_of_two_sdss_runs_are_refused_naming_the_folder_and_runs(tmp_path):
    """g and r of run 1035 with i of run 1992 share no sky (was `ValueError: cannot convert float NaN
    to integer` in the job): refused by name from the headers alone, before the first job (the DAG's
    input function) and by the job itself; a folder short of a band names the band."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    run1035 = RESOURCES / "sdss-frames-run1035-camcol6-field17-gri"
    run1992 = RESOURCES / "sdss-frames-run1992-camcol1-field87-gri"
    for band, source in (("g", run1035), ("r", run1035), ("i", run1992)):
        frame = real_fields.blank_frame_paths(source)[band]
        (folder / frame.name).write_bytes(frame.read_bytes())
    message = (
        rf"^real field {re.escape(str(folder))}: its g, r and i frames are not of one SDSS field "
        r"\(g: run 1035 camcol 6, r: run 1035 camcol 6, i: run 1992 camcol 1\)"
    )
    with pytest.raises(DeepCeeError, match=message):
        real_fields.check_field_frames(folder)
    with pytest.raises(DeepCeeError, match=message):
        real_fields.align_and_bin(folder, 1.584)
    next(folder.glob("*-i-*")).unlink()
    with pytest.raises(DeepCeeError, match=rf"^{re.escape(str(folder))}: no SDSS frame for band i"):
        real_fields.check_field_frames(folder)


def test_truncated_compressed_frame_is_one_line_naming_it(tmp_path):
    """A user's own .fits.bz2 cut short (no PROVENANCE record to check it against): one line naming
    the file, not a bare ValueError or EOFError, both from the header check and from the reader."""
    folder = tmp_path / "field"
    folder.mkdir()
    for band, frame in real_fields.blank_frame_paths(BLANK).items():
        data = frame.read_bytes()
        (folder / frame.name).write_bytes(data[: len(data) // 2] if band == "r" else data)
    cut = real_fields.blank_frame_paths(folder)["r"]
    with pytest.raises(DeepCeeError, match=rf"^{re.escape(str(cut))}: truncated or damaged compressed file"):
        real_fields.align_and_bin(folder, 1.584)
    cut.write_bytes(cut.read_bytes()[:1000])  # not even the header survives
    with pytest.raises(DeepCeeError, match=rf"^{re.escape(str(cut))}: truncated or damaged compressed file"):
        real_fields.check_field_frames(folder)
