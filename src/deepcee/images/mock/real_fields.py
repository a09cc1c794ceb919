"""Real SDSS fields: the g, r, i frames of one field aligned, binned to the project's pixel scale,
and cut into square views that hold nothing but real sky.

An SDSS ``frame`` is 2048 x 1489 native pixels (0.396"; 13.5' x 9.8'). The three bands of one
field are three CCD frames whose footprints differ by a few to a dozen native pixels, so each
band is shifted (by whole native pixels, through its own WCS) onto the r frame and only the
part all three cover is kept: the field's *footprint*. It is binned ``os x os`` (flux-summed,
like the mock's canvas) to the project's pixel scale (1.584" = 4 x 0.396": about 510 x 368
pixels) and written once per workflow as a view-style MEF (``images.fits.write_view_fits``: G, R,
I in nanomaggies with the binned WCS), so every later job reads 2 MB instead of decompressing
three 3 MB bz2 frames.

A view over a real field (a training view with a real background, a real-sky test view, a
blank-field view) is a square crop of the footprint of ``real_view_pixels`` (350 px: 554",
the largest side under the 368 px footprint that the network's fixed 0.64 scale maps to a whole
multiple of 32 px) -- never padded, mirrored or repeated inside. Training crops may also be
turned and mirrored as a whole (augmentation); test crops are taken as they are.
"""

from __future__ import annotations

import bz2
import gzip
import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from deepcee.core.bundled import check_bundled
from deepcee.core.errors import DeepCeeError
from deepcee.core.sdss import (  # noqa: F401
    SDSS_FRAME_PIXELS,
    SDSS_PIXEL_SCALE_ARCSEC,
    binning_factor,
    field_folders,
    field_name,
)
from deepcee.images.fits import BANDS


def blank_frame_paths(folder: str | Path) -> dict[str, Path]:
    """The one g, r and i frame of a field folder: ``*-<band>-*.fits[.bz2|.gz]`` each.

    Any SDSS field serves (``frame-`` or ``rand_img-`` names); the folder's PROVENANCE.md
    says where the frames come from.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DeepCeeError(f"{folder}: SDSS field folder not found")
    out = {}
    for b in BANDS:
        found = sorted(p for p in folder.glob(f"*-{b}-*.fits*") if p.suffix in (".fits", ".bz2", ".gz"))
        if len(found) != 1:
            what = "no" if not found else f"{len(found)}"
            raise DeepCeeError(f"{folder}: {what} SDSS frame for band {b} (want one '*-{b}-*.fits[.bz2]')")
        out[b] = found[0]
    return out


def frame_header(path: Path):
    """The primary header of a frame, read from the start of the file only: a bz2 or gzip frame is
    decompressed a block at a time up to the END card (a few ms, not the ~0.4 s of the whole
    frame), so the frames of every field can be checked while the DAG is built."""
    from astropy.io import fits

    opener = {".bz2": bz2.open, ".gz": gzip.open}.get(path.suffix, open)
    raw = b""
    try:
        with opener(path, "rb") as f:
            while True:
                block = f.read(2880)  # a FITS header is whole 2880-byte blocks of 80-byte cards
                if len(block) < 2880:
                    raise DeepCeeError(f"{path}: not a FITS frame (no END card in its header)")
                raw += block
                if any(block[i : i + 80].rstrip() == b"END" for i in range(0, 2880, 80)):
                    break
    except (OSError, EOFError, ValueError) as err:
        raise DeepCeeError(f"{path}: truncated or damaged compressed file ({err})") from None
    return fits.Header.fromstring(raw.decode("ascii", "replace"))


def check_one_field(folder: str | Path, headers: dict) -> None:
    """Refuse frames that are not the g, r and i of one SDSS field: a file whose FILTER is not the band
    its name says, or bands of different runs or camcols (g and r of run 1035 with i of run 1992 share
    no sky, and aligning them would fail on a NaN pixel position). Headers without RUN/CAMCOL pass."""
    for band, header in headers.items():
        if header.get("FILTER") not in (None, band):
            raise DeepCeeError(
                f"real field {folder}: the frame named band {band} holds FILTER = {header['FILTER']} in its header"
            )
    runs = {band: (header.get("RUN"), header.get("CAMCOL")) for band, header in headers.items()}
    if len(set(runs.values())) > 1:
        shown = ", ".join(f"{band}: run {run} camcol {camcol}" for band, (run, camcol) in runs.items())
        raise DeepCeeError(
            f"real field {folder}: its g, r and i frames are not of one SDSS field ({shown}); "
            "a field folder holds the three frames of one run, camcol and field"
        )


def check_field_frames(folder: str | Path) -> dict[str, Path]:
    """The g, r, i frames of ``folder`` (blank_frame_paths), checked from their headers alone to be
    one SDSS field (check_one_field): the cheap check the workflow makes before the first job."""
    paths = blank_frame_paths(folder)
    check_one_field(folder, {band: frame_header(path) for band, path in paths.items()})
    return paths


def _read_frame(path: Path):
    """HDU 0 of one frame: (float32 data, header), decompressed in memory first."""
    from astropy.io import fits

    from deepcee.core.files import read_decompressed

    check_bundled(path)  # a cut or replaced bundled frame: refused, not read as a smaller field
    raw = read_decompressed(path)  # a user's own frame cut short: one line naming it
    try:
        with fits.open(io.BytesIO(raw), memmap=False) as hdul:
            data = hdul[0].data
            if data is None or data.ndim != 2:
                raise DeepCeeError(f"{path}: HDU 0 holds no 2-D image")
            return np.asarray(data, dtype=np.float32), hdul[0].header.copy()
    except OSError as err:
        raise DeepCeeError(f"{path}: not a readable FITS frame ({err})") from None


def _frame_wcs(header, path):
    from astropy.wcs import WCS, FITSFixedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        try:
            w = WCS(header).celestial
        except Exception as err:  # astropy raises several types for broken headers
            raise DeepCeeError(f"{path}: unreadable WCS ({type(err).__name__})") from None
    if not w.has_celestial:
        raise DeepCeeError(f"{path}: no celestial WCS")
    return w


def _check_frame(data: np.ndarray, wcs, path) -> None:
    """Refuse a frame the binning would silently get wrong: non-finite pixels (SDSS frames have none;
    a NaN or inf would spread through every view and its stretch) or a pixel scale other than the
    0.396" the fixed binning factor assumes (a resampled image would be binned to the wrong scale
    while its views' WCS claims the project's)."""
    from astropy.wcs.utils import proj_plane_pixel_scales

    bad = ~np.isfinite(data)
    if bad.any():
        raise DeepCeeError(
            f"{path}: {bad.mean():.2%} of the pixels are NaN or inf ({int(bad.sum())} of {bad.size}); "
            "a real SDSS frame has none"
        )
    scales = proj_plane_pixel_scales(wcs) * 3600.0
    if not np.all(np.abs(scales / SDSS_PIXEL_SCALE_ARCSEC - 1.0) <= 0.01):
        shown = " x ".join(f"{s:.3f}" for s in scales)
        raise DeepCeeError(
            f'{path}: pixel scale {shown}" (header WCS), not the SDSS frame '
            f'scale {SDSS_PIXEL_SCALE_ARCSEC}" the binning assumes; a real field must be SDSS frames as the '
            "survey took them, not resampled images"
        )


def binned_wcs(wcs, x0: int, y0: int, factor: int):
    """The TAN WCS of ``factor x factor`` bins of ``wcs`` starting at 0-based native pixel (x0, y0).

    Native 0-based x = x0 + factor * i + (factor - 1) / 2 for bin i, so CRPIX' = (CRPIX - x0 - 0.5) /
    factor + 0.5 and CD' = factor x CD. SIP terms (under a native pixel across an SDSS frame) are
    dropped: a binned pixel is 4 native ones.
    """
    from astropy.wcs import WCS

    out = WCS(naxis=2)
    out.wcs.ctype = [c.replace("-SIP", "") for c in wcs.wcs.ctype]
    out.wcs.crval = wcs.wcs.crval
    out.wcs.crpix = [(wcs.wcs.crpix[0] - x0 - 0.5) / factor + 0.5, (wcs.wcs.crpix[1] - y0 - 0.5) / factor + 0.5]
    out.wcs.cd = wcs.pixel_scale_matrix * factor
    out.wcs.radesys = wcs.wcs.radesys or "ICRS"
    out.wcs.equinox = wcs.wcs.equinox if np.isfinite(wcs.wcs.equinox) else 2000.0
    return out


def align_and_bin(folder: str | Path, pixel_scale_arcsec: float):
    """The field's footprint at ``pixel_scale_arcsec``: ((3, ny, nx) float32 nMgy, binned WCS, info)."""
    factor = binning_factor(pixel_scale_arcsec)
    if factor is None:
        raise DeepCeeError(
            f'real field {folder}: pixel scale {pixel_scale_arcsec}" is not a whole multiple of SDSS\'s 0.396"'
        )
    paths = blank_frame_paths(folder)
    data, wcs, headers = {}, {}, {}
    for b, p in paths.items():
        data[b], headers[b] = _read_frame(p)
        wcs[b] = _frame_wcs(headers[b], p)
        _check_frame(data[b], wcs[b], p)
    check_one_field(folder, headers)
    ny, nx = data["r"].shape
    centre = wcs["r"].pixel_to_world((nx - 1) / 2.0, (ny - 1) / 2.0)
    shift = {}
    for b in BANDS:
        bx, by = wcs[b].world_to_pixel(centre)
        if not np.isfinite([bx, by]).all():  # r's centre lies off this band's projection: another sky
            raise DeepCeeError(f"real field {folder}: the {b} frame does not cover the r frame's centre")
        shift[b] = (int(round(float(bx) - (nx - 1) / 2.0)), int(round(float(by) - (ny - 1) / 2.0)))
    # the part of r's grid that every band covers
    x0 = max(0, *(-shift[b][0] for b in BANDS))
    y0 = max(0, *(-shift[b][1] for b in BANDS))
    x1 = min(nx, *(data[b].shape[1] - shift[b][0] for b in BANDS))
    y1 = min(ny, *(data[b].shape[0] - shift[b][1] for b in BANDS))
    w, h = (x1 - x0) // factor * factor, (y1 - y0) // factor * factor
    if w <= 0 or h <= 0:
        raise DeepCeeError(f"real field {folder}: the g, r and i frames do not overlap")
    out = np.empty((3, h // factor, w // factor), dtype=np.float32)
    for j, b in enumerate(BANDS):
        dx, dy = shift[b]
        crop = data[b][y0 + dy : y0 + dy + h, x0 + dx : x0 + dx + w]
        out[j] = crop.reshape(h // factor, factor, w // factor, factor).sum(axis=(1, 3))
    info = {
        "field": field_name(folder),
        "native_origin": [int(x0), int(y0)],
        "band_shift_native": {b: list(shift[b]) for b in BANDS},
        "binning": factor,
        "shape": [int(out.shape[1]), int(out.shape[2])],
        "centre_ra": float(centre.ra.deg),
        "centre_dec": float(centre.dec.deg),
        "galactic_b": float(centre.galactic.b.deg),
    }
    return out, binned_wcs(wcs["r"], x0, y0, factor), info


def prepare_field(folder: str | Path, pixel_scale_arcsec: float, out_path: str | Path) -> dict:
    """Write the field's binned footprint as a view-style MEF (G, R, I); returns its info."""
    from deepcee.images.fits import write_view_fits

    image, wcs, info = align_and_bin(folder, pixel_scale_arcsec)
    write_view_fits(
        out_path,
        {b: image[j] for j, b in enumerate(BANDS)},
        wcs,
        meta={"SOURCE": "sdss", "FIELD": info["field"][:68], "BINNING": info["binning"]},
    )
    return info


@dataclass(frozen=True)
class RealField:
    """One prepared field: its name, (3, ny, nx) nMgy image and binned WCS."""

    name: str
    image: np.ndarray
    wcs: object


@lru_cache(maxsize=16)
def read_field(path: str) -> RealField:
    """A prepared field (``prepare_field``'s file), kept in memory for the job."""
    from deepcee.images.fits import read_view_fits

    bands = read_view_fits(path)
    image = np.stack([np.asarray(bands[b][0], dtype=np.float32) for b in BANDS])
    name = Path(path).stem
    return RealField(name, image, bands["r"][1])


def crop_origin(field_shape: Sequence[int], side: int, gen: np.random.Generator) -> tuple[int, int]:
    """A uniformly drawn lower-left corner (x0, y0) of a ``side`` square inside the footprint."""
    ny, nx = int(field_shape[-2]), int(field_shape[-1])
    if side > min(nx, ny):
        raise DeepCeeError(
            f"real field: a {side} px view does not fit in the {nx} x {ny} px footprint (images.mock.real_view_pixels)"
        )
    return int(gen.integers(0, nx - side + 1)), int(gen.integers(0, ny - side + 1))


def crop(field: RealField, side: int, gen: np.random.Generator, orient: bool = False):
    """A ``side`` x ``side`` crop of real sky: ((3, side, side) float32, (x0, y0, quarter turns, mirrored)).

    ``orient``: the crop is also turned by a random number of quarter turns and mirrored half
    of the time, as a whole (training augmentation: still real sky, nothing repeated inside).
    """
    x0, y0 = crop_origin(field.image.shape, side, gen)
    out = field.image[:, y0 : y0 + side, x0 : x0 + side]
    turns, mirrored = 0, False
    if orient:
        turns = int(gen.integers(4))
        mirrored = bool(gen.uniform() < 0.5)
        out = np.rot90(out, k=turns, axes=(1, 2))
        if mirrored:
            out = out[:, :, ::-1]
    return np.ascontiguousarray(out), (x0, y0, turns, mirrored)


def prepare_fields(folders, pixel_scale_arcsec: float, out_dir, threads: int = 1) -> list[dict]:
    """``prepare_field`` for each folder into ``out_dir/<field name>.fits`` (bz2 decompression
    releases the GIL: ``threads`` fields at once); one info dict each, in the folders' order."""
    from concurrent.futures import ThreadPoolExecutor

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = [field_name(f) for f in folders]
    if len(set(names)) != len(names):
        raise DeepCeeError(f"real fields: two folders share the name {next(n for n in names if names.count(n) > 1)}")

    def one(folder):
        info = prepare_field(folder, pixel_scale_arcsec, out_dir / f"{field_name(folder)}.fits")
        return {**info, "folder": str(folder), "fits": str(out_dir / f"{field_name(folder)}.fits")}

    with ThreadPoolExecutor(max_workers=max(1, int(threads))) as pool:
        return list(pool.map(one, folders))


def field_files(manifest_path) -> dict[str, str]:
    """Field name -> prepared FITS, from a ``real_fields`` manifest (rules/images.smk)."""
    import json

    return {f["field"]: f["fits"] for f in json.loads(Path(manifest_path).read_text())["fields"]}
