"""A library of real galaxies (and stars) cut from the bundled real SDSS g, r, i fields.

One concern: the library. Each field (a ``resources/sdss-frames-run*-gri`` folder) is read by
``real_fields.align_and_bin`` at SDSS's native 0.396" (the three bands shifted onto the r frame,
the footprint all three cover) and summed ``f x f`` to the library's pixel scale (default
1.584" = 4 x 0.396", the project's): the same block sum ``align_and_bin`` makes at that scale
(tests/test_galaxy_library.py checks they are equal), so one decompression of the frames serves
both the library's pixels and the native r image the sizes are measured on.

Per field, at the library scale (all sizes in the settings are arcsec, so the cut means the
same thing at any scale):

* **background**: ``sep.Background`` per band (``back_size_arcsec`` mesh, 3 x 3 median filter),
  subtracted; the frames are already sky-subtracted by SDSS, so this removes what is left
  (scattered light, a galaxy's halo mis-fitted as sky), at 50" scales.
* **detection** on r: ``sep.extract`` at ``detect_sigma`` x the background RMS per pixel, a
  minimum area of ``min_area_arcsec2`` (5 px at 1.584"), SExtractor's 3 x 3 matched filter
  and its deblending (32 thresholds, contrast 0.005); the segmentation map is kept.
* **photometry**: Kron (SExtractor's MAG_AUTO): the ellipse of ``kron_factor`` (2.5) x the Kron
  radius, a circle of ``min_kron_radius`` where that is smaller, the *same* aperture in g, r and
  i, with the pixels of every other segment masked (``seg_id``); m = 22.5 - 2.5 log10(flux in
  nanomaggies). ``flux_iso_r`` is the sum over the source's own segment: what its stamp holds.
* **size**: the half-light radius (``sep.flux_radius``: half the flux in a circle of the Kron
  ellipse's semi-major axis, neighbours masked), at the library scale (``r_half_pix``) and on the
  native 0.396" r image (``r_half_arcsec``). The star/galaxy split is made on native pixels: at
  1.584" the PSF (FWHM 1.2-2") is under-sampled, a star's half-light radius there depends on where
  it falls in its pixel (~15 % scatter against ~3 % on native pixels) and the loci merge by r ~ 19.
* **star/galaxy**: a galaxy is extended relative to the PSF. The field's *stellar locus* is the
  clipped median native half-light radius of the sources with ``locus_mag_range`` (15.5 <= r < 19:
  bright enough for a precise size, faint enough to be unsaturated): the median of the smaller
  half (stars are the most compact sources at these magnitudes), then five times the median of
  those within ``locus_clip`` (15 %) of it. The split itself uses the *core* half-light radius
  ``r_half_core_arcsec``: half the light within ``core_radius_factor`` (3) x that locus, whose own
  locus (same clipping) is far less noisy for faint sources (in the star-rich field of run 8162,
  20 <= r < 21: 54 % of the sources within 10 % of the core locus against 20 % for the
  Kron-normalised radius, and 1 % more compact than 0.9 x it, against 39 %: smaller than the PSF,
  which is noise). A source is a **galaxy** when ``r_half_ratio`` = core radius / its locus exceeds
  ``extended_ratio`` (1.15), else a **star**. Fainter than r ~ 20.5 noise moves sources across the
  line both ways.
* **very bright stars**: a source brighter than ``bright_mag`` (r = 15.5) whose half-light radius
  is under ``bright_size_ratio`` (4) x the locus is a **bright_star**. At these magnitudes SDSS
  star cores are saturated (r < ~14.5) or were interpolated over by the frame pipeline (rows
  replaced in one band, seen in the bundled fields down to r ~ 15.1), which inflates them to
  1.2-3.7 x the locus: by size alone they would pass for galaxies. The bright galaxies of the
  bundled fields are 4.8-8.5 x the locus.
* **stamps**: each kept source's own pixels: a square around it (its segment's extent plus
  ``stamp_margin_pix``) in g, r and i, background-subtracted, with every pixel outside the
  source's own segment zero (neighbours and sky alike; the segment mask is kept). Dropped: a
  source whose segment touches the footprint's edge (cut off), one whose stamp window is more
  than ``max_masked_fraction`` other sources' segments, and one with a non-positive Kron flux in
  any band (no magnitude).

Every entry carries its field's name and *role*: ``train`` (a field of ``images.mock.blank_frames``)
or ``test`` (one of ``evaluate.real_sky.blank_frames``). Galaxies from training fields serve
training views only and those from test fields test views only, so :meth:`GalaxyLibrary.select`
returns one role's entries and nothing else, and a library that mixes the roles of one field (or
lists one field in both roles) is refused when it is built, read or selected from.

Storage: an ECSV table of the measurements (one row per entry, ``id`` unique) and an ``.npz`` of
the stamps (their pixels concatenated, with each stamp's id, field, role, shape and offset),
written atomically; the table records the stamps file's sha256 and :func:`read_library` checks the
two files agree (the sha256, then the ids, fields and roles row by row).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from deepcee.core.errors import DamagedFileError, DeepCeeError
from deepcee.core.sdss import SDSS_PIXEL_SCALE_ARCSEC, binning_factor, field_folders, field_name
from deepcee.images.mock.real_fields import align_and_bin, binned_wcs

ROLES = ("train", "test")
KINDS = ("galaxy", "star", "bright_star")
STAMP_BANDS = ("g", "r", "i")

#: The columns every library table has (read_library checks them).
COLUMNS = (
    "id",
    "field",
    "role",
    "kind",
    "x",
    "y",
    "ra",
    "dec",
    "flux_g",
    "flux_r",
    "flux_i",
    "fluxerr_r",
    "flux_iso_r",
    "mag_g",
    "mag_r",
    "mag_i",
    "magerr_r",
    "g_r",
    "r_i",
    "a",
    "b",
    "theta",
    "ellipticity",
    "kron_radius",
    "r_half_pix",
    "r_half_arcsec",
    "r_half_core_arcsec",
    "r_half_ratio",
    "peak_r",
    "npix",
    "sep_flag",
    "stamp_size",
    "stamp_xc",
    "stamp_yc",
)


#: What the less obvious columns hold (written into the ECSV as column descriptions).
DESCRIPTIONS = {
    "kind": "galaxy, star or bright_star (the module docstring's rule)",
    "x": "0-based column of the centroid in the field's footprint at the library scale",
    "y": "0-based row of the centroid in the field's footprint at the library scale",
    "flux_r": "Kron flux, nanomaggies (flux_g, flux_i: the same aperture)",
    "flux_iso_r": "sum over the source's own segment (the stamp's r sum), nanomaggies",
    "mag_r": "22.5 - 2.5 log10(flux_r)",
    "a": "semi-major axis (second moments), library pixels",
    "theta": "position angle of a, radians counter-clockwise from +x",
    "ellipticity": "1 - b/a",
    "kron_radius": "semi-major axis of the photometry aperture, library pixels",
    "r_half_pix": "half-light radius at the library scale, library pixels",
    "r_half_arcsec": "half-light radius on the native 0.396 arcsec r image, arcsec",
    "r_half_core_arcsec": "half the light within core_radius_factor x the stellar locus, native r, arcsec",
    "r_half_ratio": "r_half_core_arcsec over the field's stellar locus of it (1 = a point source)",
    "peak_r": "peak pixel, background-subtracted, nanomaggies per library pixel",
    "sep_flag": "sep extraction flags (1 blended, 2 truncated, ...)",
    "stamp_xc": "centroid column in the stamp",
    "stamp_yc": "centroid row in the stamp",
}


@dataclass(frozen=True)
class LibrarySettings:
    """How sources are detected, measured, classified and cut (see the module docstring)."""

    detect_sigma: float = 1.5
    min_area_arcsec2: float = 12.5
    deblend_nthresh: int = 32
    deblend_cont: float = 0.005
    back_size_arcsec: float = 50.0
    back_filter: int = 3
    kron_factor: float = 2.5
    min_kron_radius: float = 3.5
    locus_mag_range: tuple[float, float] = (15.5, 19.0)
    locus_clip: float = 0.15
    min_locus_stars: int = 5
    core_radius_factor: float = 3.0
    extended_ratio: float = 1.15
    bright_mag: float = 15.5
    bright_size_ratio: float = 4.0
    stamp_margin_pix: int = 2
    max_masked_fraction: float = 0.5


def _check_role(role) -> str:
    if not isinstance(role, str) or role not in ROLES:
        raise DeepCeeError(f"galaxy library: role must be one of {', '.join(ROLES)}, not {role!r}")
    return role


@dataclass(frozen=True)
class GalaxyLibrary:
    """The measurements (an astropy Table, one row per entry) and each entry's stamps.

    ``gri[k]`` is entry k's (3, n, n) float32 g, r, i stamp (nanomaggies, zero outside its
    segment) and ``segment[k]`` its (n, n) bool segment mask. ``role`` is None for a library of
    both roles and ``train`` or ``test`` for one returned by :meth:`select`.
    """

    table: object
    gri: list = field(repr=False)
    segment: list = field(repr=False)
    role: str | None = None

    def __post_init__(self):
        n = len(self.table)
        if len(self.gri) != n or len(self.segment) != n:
            raise DeepCeeError(f"galaxy library: {n} entries but {len(self.gri)} stamps and {len(self.segment)} masks")
        roles = np.asarray(self.table["role"]).astype(str) if n else np.array([], dtype=str)
        bad = sorted(set(roles) - set(ROLES))
        if bad:
            raise DeepCeeError(f"galaxy library: unknown role {bad[0]!r} (want {' or '.join(ROLES)})")
        fields = np.asarray(self.table["field"]).astype(str) if n else roles
        check_roles_apart(fields, roles)
        for info in self.table.meta.get("fields", []):  # the build's own record of each field's role
            mine = fields == info["field"]
            if mine.any() and set(roles[mine]) != {info["role"]}:
                raise DeepCeeError(
                    f"galaxy library: field {info['field']} was built as a {info['role']} field, its entries say "
                    f"{' and '.join(sorted(set(roles[mine])))}"
                )
        if self.role is not None:
            _check_role(self.role)
            if np.any(roles != self.role):
                raise DeepCeeError(f"galaxy library: a {self.role} library holds entries of another role")
        # each field's role as it was when the library was made: select() checks its rows against it
        object.__setattr__(self, "_field_roles", dict(zip(fields.tolist(), roles.tolist())))

    def __len__(self) -> int:
        return len(self.table)

    def select(self, role: str, kinds: Sequence[str] | str | None = ("galaxy",)) -> GalaxyLibrary:
        """The entries of fields of ``role`` only (``train`` or ``test``), of the given kinds
        (``galaxy``, ``star``, ``bright_star``; None for all).

        The hard check between training and test sky: any other role value is refused, a library
        that already holds one role refuses the other, and the result is checked row by row to
        hold ``role`` alone."""
        _check_role(role)
        if self.role is not None and self.role != role:
            raise DeepCeeError(f"galaxy library: this library holds {self.role} entries only; {role} entries asked for")
        roles = np.asarray(self.table["role"]).astype(str)
        keep = roles == role
        if kinds is not None:
            kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
            unknown = sorted(set(kinds) - set(KINDS))
            if unknown:
                raise DeepCeeError(f"galaxy library: unknown kind {unknown[0]!r} (want {', '.join(KINDS)})")
            keep &= np.isin(np.asarray(self.table["kind"]).astype(str), kinds)
        index = np.flatnonzero(keep)
        # the hard check: every field of the selection was made a field of this role (a table whose
        # role column was edited since, for a whole field or some rows, is refused)
        fields = np.asarray(self.table["field"]).astype(str)
        check_roles_apart(fields, roles)
        wrong = sorted({f for f in fields[index] if self._field_roles.get(f) != role})
        if wrong:
            raise DeepCeeError(
                f"galaxy library: field {wrong[0]} is a {self._field_roles.get(wrong[0])} field; its entries "
                f"cannot serve {role} views"
            )
        return GalaxyLibrary(
            self.table[index], [self.gri[k] for k in index], [self.segment[k] for k in index], role=role
        )


def check_roles_apart(fields, roles) -> None:
    """Refuse a field whose entries carry both roles: a field is training sky or test sky, never both."""
    fields = np.asarray(fields).astype(str)
    roles = np.asarray(roles).astype(str)
    for name in np.unique(fields):
        has = sorted(set(roles[fields == name]))
        if len(has) > 1:
            raise DeepCeeError(
                f"galaxy library: field {name} has entries of roles {' and '.join(has)}; a field serves one role"
            )


def select_role(library: GalaxyLibrary, role: str, kinds: Sequence[str] | str | None = ("galaxy",)) -> GalaxyLibrary:
    """``library.select(role, kinds)``: the entries of ``role``'s fields only."""
    return library.select(role, kinds)


# --------------------------------------------------------------------------- one field


def _sep():
    import sep

    # a crowded field (the Galactic plane) overflows sep's defaults (1024 sub-objects, 300 000 pixels)
    sep.set_sub_object_limit(4096)
    sep.set_extract_pixstack(2_000_000)
    return sep


def _load_field(folder, pixel_scale_arcsec: float):
    """(library-scale (3, ny, nx) nMgy, its WCS, native (3, f ny, f nx) nMgy, factor, info).

    ``align_and_bin`` at the native scale, then summed ``f x f`` as ``align_and_bin`` does at the
    library scale (same origin, same whole bins), so the frames are decompressed once."""
    factor = binning_factor(pixel_scale_arcsec)
    if factor is None:
        raise DeepCeeError(
            f"galaxy library: pixel scale {pixel_scale_arcsec}\" is not a whole multiple of SDSS's "
            f'{SDSS_PIXEL_SCALE_ARCSEC}"'
        )
    native, native_wcs, info = align_and_bin(folder, SDSS_PIXEL_SCALE_ARCSEC)
    ny, nx = native.shape[1] // factor, native.shape[2] // factor
    native = native[:, : ny * factor, : nx * factor]
    image = native.reshape(3, ny, factor, nx, factor).sum(axis=(2, 4)) if factor > 1 else native
    wcs = binned_wcs(native_wcs, 0, 0, factor) if factor > 1 else native_wcs
    return np.ascontiguousarray(image, dtype=np.float32), wcs, native, factor, info


def stellar_locus(r_half, mag, usable, settings: LibrarySettings) -> tuple[float, float, int]:
    """(locus, robust scatter, number of sources on it): the clipped median half-light radius of the
    ``usable`` sources with ``locus_mag_range[0] <= mag < locus_mag_range[1]``; nan where fewer than
    ``min_locus_stars`` are on it. Start: the median of the smaller half (stars are the most compact
    sources at these magnitudes); then, five times, the median of those within ``locus_clip``."""
    lo, hi = settings.locus_mag_range
    cand = np.asarray(r_half)[usable & (mag >= lo) & (mag < hi) & np.isfinite(r_half) & (r_half > 0)]
    if len(cand) < settings.min_locus_stars:
        return float("nan"), float("nan"), int(len(cand))
    locus = float(np.median(np.sort(cand)[: max(settings.min_locus_stars, len(cand) // 2)]))
    for _ in range(5):
        near = np.abs(cand - locus) <= settings.locus_clip * locus
        if not near.any():
            break
        locus = float(np.median(cand[near]))
    on = cand[np.abs(cand - locus) <= settings.locus_clip * locus]
    if len(on) < settings.min_locus_stars:
        return float("nan"), float("nan"), int(len(on))
    return locus, float(1.4826 * np.median(np.abs(on - locus))), int(len(on))


def _native_r(sep, native, seg, factor: int, back_px: int):
    """The native r band background-subtracted (the same mesh in arcsec) and the segmentation map
    on native pixels (each library pixel's id on its f x f native pixels)."""
    data = np.ascontiguousarray(native[1], dtype=np.float64)
    bkg = sep.Background(data, bw=back_px * factor, bh=back_px * factor, fw=3, fh=3)
    native_seg = np.repeat(np.repeat(seg, factor, axis=0), factor, axis=1) if factor > 1 else seg
    return data - bkg.back(), np.ascontiguousarray(native_seg, dtype=np.int32)


def _mag(flux):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(flux > 0, 22.5 - 2.5 * np.log10(np.where(flux > 0, flux, 1.0)), np.nan)


def measure_field(
    folder,
    role: str,
    pixel_scale_arcsec: float,
    settings: LibrarySettings | None = None,
):
    """One field's entries: (Table of measurements, list of (3, n, n) stamps, list of (n, n) masks,
    field info). Ids are 0.. in the field; :func:`build_library` renumbers them."""
    from astropy.table import Table

    _check_role(role)
    settings = settings or LibrarySettings()
    sep = _sep()
    name = field_name(folder)
    image, wcs, native, factor, info = _load_field(folder, float(pixel_scale_arcsec))
    scale = float(pixel_scale_arcsec)
    _, ny, nx = image.shape

    # background per band, at the library scale
    back_px = max(8, int(round(settings.back_size_arcsec / scale)))
    sub, rms = [], []
    for j in range(3):
        data = np.ascontiguousarray(image[j], dtype=np.float64)
        bkg = sep.Background(data, bw=back_px, bh=back_px, fw=settings.back_filter, fh=settings.back_filter)
        sub.append(data - bkg.back())
        rms.append(bkg.rms())
    r = sub[1]

    # detection on r
    min_area = max(1, int(round(settings.min_area_arcsec2 / scale**2)))
    try:
        objs, seg = sep.extract(
            r,
            settings.detect_sigma,
            err=rms[1],
            minarea=min_area,
            deblend_nthresh=settings.deblend_nthresh,
            deblend_cont=settings.deblend_cont,
            segmentation_map=True,
        )
    except Exception as err:  # sep raises a bare Exception (pixel stack, deblending overflow)
        raise DeepCeeError(f"real field {folder}: source detection failed ({err})") from None
    n_detected = len(objs)
    seg = np.ascontiguousarray(seg, dtype=np.int32)
    ids = np.arange(1, n_detected + 1, dtype=np.int32)  # segment k + 1 is object k
    x, y = objs["x"], objs["y"]
    a, b, theta = objs["a"], objs["b"], objs["theta"]

    # Kron photometry, the same aperture in g, r, i, other segments masked
    kr, _ = sep.kron_radius(r, x, y, a, b, theta, 6.0, seg_id=ids, segmap=seg)
    kr = np.where(np.isfinite(kr), kr, 0.0)
    use_circle = settings.kron_factor * kr * np.sqrt(a * b) < settings.min_kron_radius
    flux, fluxerr = np.zeros((3, n_detected)), np.zeros((3, n_detected))
    for j, band in enumerate(sub):
        f, fe, _ = sep.sum_ellipse(
            band, x, y, a, b, theta, settings.kron_factor * kr, err=rms[j], seg_id=ids, segmap=seg, subpix=1
        )
        if use_circle.any():
            fc, fec, _ = sep.sum_circle(
                band,
                x[use_circle],
                y[use_circle],
                settings.min_kron_radius,
                err=rms[j],
                seg_id=ids[use_circle],
                segmap=seg,
                subpix=1,
            )
            f[use_circle], fe[use_circle] = fc, fec
        flux[j], fluxerr[j] = f, fe
    aperture = np.where(use_circle, settings.min_kron_radius, settings.kron_factor * kr * a)  # px, semi-major

    # sizes: at the library scale, and on the native r image (for the star/galaxy split)
    r_half_pix, _ = sep.flux_radius(r, x, y, np.maximum(aperture, 1.0), 0.5, seg_id=ids, segmap=seg, subpix=5)
    native_r, native_seg = _native_r(sep, native, seg, factor, back_px)
    xn, yn = factor * x + (factor - 1) / 2.0, factor * y + (factor - 1) / 2.0
    r_half_native, _ = sep.flux_radius(
        native_r, xn, yn, np.maximum(aperture * factor, 1.0), 0.5, seg_id=ids, segmap=native_seg, subpix=5
    )
    r_half_arcsec = r_half_native * SDSS_PIXEL_SCALE_ARCSEC
    mag = _mag(flux)
    measured = np.all(flux > 0, axis=0) & np.isfinite(r_half_arcsec) & (r_half_arcsec > 0)

    # the stellar locus: first of the half-light radius, then of the core half-light radius (half the
    # light within core_radius_factor x the first locus: far less noisy for faint sources)
    locus_total, _, n_locus = stellar_locus(r_half_arcsec, mag[1], measured, settings)
    if not np.isfinite(locus_total):
        lo, hi = settings.locus_mag_range
        raise DeepCeeError(
            f"real field {folder}: only {n_locus} compact sources with {lo:g} <= r < {hi:g} to define the "
            f"stellar locus (want {settings.min_locus_stars}); a crowded field (the Galactic plane) cannot serve"
        )
    core_px = settings.core_radius_factor * locus_total / SDSS_PIXEL_SCALE_ARCSEC
    r_half_core, _ = sep.flux_radius(
        native_r, xn, yn, np.full(n_detected, core_px), 0.5, seg_id=ids, segmap=native_seg, subpix=5
    )
    r_half_core_arcsec = r_half_core * SDSS_PIXEL_SCALE_ARCSEC
    locus, scatter, n_locus = stellar_locus(r_half_core_arcsec, mag[1], measured, settings)
    if not np.isfinite(locus):
        raise DeepCeeError(f"real field {folder}: only {n_locus} sources on the stellar locus of core sizes")
    ratio = r_half_core_arcsec / locus

    # very bright stars: saturated or with an interpolated core, whatever their core size
    bright_star = measured & (mag[1] < settings.bright_mag) & (r_half_arcsec < settings.bright_size_ratio * locus_total)
    kind = np.where(bright_star, "bright_star", np.where(ratio > settings.extended_ratio, "galaxy", "star"))

    # the entries kept, and their stamps
    margin = int(settings.stamp_margin_pix)
    rows, stamps, masks = [], [], []
    dropped = {"edge": 0, "masked": 0, "flux": 0}
    for k in range(n_detected):
        x0, x1, y0, y1 = (int(objs[c][k]) for c in ("xmin", "xmax", "ymin", "ymax"))
        if x0 <= 0 or y0 <= 0 or x1 >= nx - 1 or y1 >= ny - 1:
            dropped["edge"] += 1
            continue
        if not (measured[k] and np.isfinite(r_half_core_arcsec[k])):
            dropped["flux"] += 1
            continue
        cx, cy = int(round(float(x[k]))), int(round(float(y[k])))
        half = max(cx - x0, x1 - cx, cy - y0, y1 - cy) + margin
        sx0, sy0, side = cx - half, cy - half, 2 * half + 1
        # the stamp window inside the footprint
        wx0, wx1 = max(sx0, 0), min(sx0 + side, nx)
        wy0, wy1 = max(sy0, 0), min(sy0 + side, ny)
        window = seg[wy0:wy1, wx0:wx1]
        if np.mean((window != 0) & (window != ids[k])) > settings.max_masked_fraction:
            dropped["masked"] += 1
            continue
        own = np.zeros((side, side), dtype=bool)
        own[wy0 - sy0 : wy1 - sy0, wx0 - sx0 : wx1 - sx0] = window == ids[k]
        stamp = np.zeros((3, side, side), dtype=np.float32)
        for j, band in enumerate(sub):
            stamp[j, wy0 - sy0 : wy1 - sy0, wx0 - sx0 : wx1 - sx0] = band[wy0:wy1, wx0:wx1]
        stamp *= own  # neighbours and sky: zero
        ra, dec = wcs.pixel_to_world_values(float(x[k]), float(y[k]))
        rows.append(
            {
                "id": len(rows),
                "field": name,
                "role": role,
                "kind": str(kind[k]),
                "x": float(x[k]),
                "y": float(y[k]),
                "ra": float(ra),
                "dec": float(dec),
                "flux_g": float(flux[0, k]),
                "flux_r": float(flux[1, k]),
                "flux_i": float(flux[2, k]),
                "fluxerr_r": float(fluxerr[1, k]),
                "flux_iso_r": float(stamp[1].sum(dtype=np.float64)),
                "mag_g": float(mag[0, k]),
                "mag_r": float(mag[1, k]),
                "mag_i": float(mag[2, k]),
                "magerr_r": float(2.5 / np.log(10.0) * fluxerr[1, k] / flux[1, k]),
                "g_r": float(mag[0, k] - mag[1, k]),
                "r_i": float(mag[1, k] - mag[2, k]),
                "a": float(a[k]),
                "b": float(b[k]),
                "theta": float(theta[k]),
                "ellipticity": float(1.0 - b[k] / a[k]) if a[k] > 0 else 0.0,
                "kron_radius": float(aperture[k]),
                "r_half_pix": float(r_half_pix[k]),
                "r_half_arcsec": float(r_half_arcsec[k]),
                "r_half_core_arcsec": float(r_half_core_arcsec[k]),
                "r_half_ratio": float(ratio[k]),
                "peak_r": float(objs["peak"][k]),
                "npix": int(objs["npix"][k]),
                "sep_flag": int(objs["flag"][k]),
                "stamp_size": side,
                "stamp_xc": float(x[k] - sx0),
                "stamp_yc": float(y[k] - sy0),
            }
        )
        stamps.append(stamp)
        masks.append(own)
    table = Table(rows=rows, names=COLUMNS) if rows else _empty_table()
    counts = {kd: int(np.sum(table["kind"] == kd)) for kd in KINDS} if rows else dict.fromkeys(KINDS, 0)
    field_info = {
        "field": name,
        "role": role,
        "folder": str(folder),
        "shape": [int(ny), int(nx)],
        "binning": int(factor),
        "centre_ra": info["centre_ra"],
        "centre_dec": info["centre_dec"],
        "galactic_b": info["galactic_b"],
        "background_rms_gri": [float(np.median(v)) for v in rms],
        "detected": int(n_detected),
        "dropped": dropped,
        "kept": counts,
        "stellar_locus_r_half_arcsec": locus_total,
        "stellar_locus_core_arcsec": locus,
        "stellar_locus_core_scatter_arcsec": scatter,
        "stellar_locus_core_n": n_locus,
    }
    return table, stamps, masks, field_info


def _empty_table():
    from astropy.table import Table

    table = Table(names=COLUMNS, dtype=[_dtype(c) for c in COLUMNS])
    return table


def _dtype(column: str):
    if column in ("field", "role", "kind"):
        return "U64"
    if column in ("id", "npix", "sep_flag", "stamp_size"):
        return "i8"
    return "f8"


# --------------------------------------------------------------------------- the library


def build_library(
    train_folders,
    test_folders,
    pixel_scale_arcsec: float,
    settings: LibrarySettings | None = None,
    threads: int = 1,
) -> GalaxyLibrary:
    """The library of the training fields (role ``train``) and the test fields (role ``test``), in
    that order, ids 0.. over the whole library. A field named in both lists, or twice, is refused
    (a field is training sky or test sky). ``threads`` fields are measured at once."""
    from concurrent.futures import ThreadPoolExecutor

    from astropy.table import vstack

    settings = settings or LibrarySettings()
    jobs = [(f, "train") for f in field_folders(train_folders)] + [(f, "test") for f in field_folders(test_folders)]
    if not jobs:
        raise DeepCeeError("galaxy library: no field folders given (train and test lists both empty)")
    seen: dict[str, str] = {}
    for folder, role in jobs:
        name = field_name(folder)
        if name in seen:
            both = "both the train and the test fields" if seen[name] != role else f"the {role} fields twice"
            raise DeepCeeError(f"galaxy library: field {name} ({folder}) is listed in {both}")
        seen[name] = role
    for folder, _ in jobs:
        if not Path(folder).is_dir():
            raise DeepCeeError(f"{folder}: SDSS field folder not found")

    def one(job):
        return measure_field(job[0], job[1], pixel_scale_arcsec, settings)

    with ThreadPoolExecutor(max_workers=max(1, int(threads))) as pool:
        parts = list(pool.map(one, jobs))
    tables = [p[0] for p in parts if len(p[0])]
    table = vstack(tables, metadata_conflicts="silent") if tables else _empty_table()
    table["id"] = np.arange(len(table), dtype=np.int64)
    for column, text in DESCRIPTIONS.items():
        table[column].description = text
    table.meta = {
        "pixel_scale_arcsec": float(pixel_scale_arcsec),
        "magnitudes": "m = 22.5 - 2.5 log10(Kron flux in nanomaggies); g_r, r_i from the same aperture",
        "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(settings).items()},
        "fields": [p[3] for p in parts],
    }
    gri = [s for p in parts for s in p[1]]
    segment = [m for p in parts for m in p[2]]
    return GalaxyLibrary(table, gri, segment)


def library_summary(library: GalaxyLibrary) -> list[str]:
    """One line per field: its role, what was detected, kept and dropped, and its stellar locus."""
    lines = []
    for info in library.table.meta.get("fields", []):
        kept, dropped = info["kept"], info["dropped"]
        lines.append(
            f"{info['field']} ({info['role']}): {info['detected']} detected; kept {kept['galaxy']} galaxies, "
            f"{kept['star']} stars, {kept['bright_star']} bright stars; dropped {dropped['edge']} at the edge, "
            f"{dropped['masked']} mostly masked, {dropped['flux']} without a flux; stellar locus: half-light "
            f'radius {info["stellar_locus_r_half_arcsec"]:.3f}", core half-light radius '
            f'{info["stellar_locus_core_arcsec"]:.3f}" ({info["stellar_locus_core_n"]} stars, scatter '
            f'{info["stellar_locus_core_scatter_arcsec"]:.3f}")'
        )
    return lines


# --------------------------------------------------------------------------- storage


def _write_npz(path: Path, arrays: dict) -> None:
    """A compressed .npz whose bytes depend on the arrays alone (no file dates), written atomically."""
    from deepcee.core.files import atomic_path

    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key, value in arrays.items():
            entry = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(value), allow_pickle=False)
            zf.writestr(entry, buffer.getvalue())


def write_library(library: GalaxyLibrary, table_path, stamps_path) -> None:
    """The table as ECSV and the stamps as .npz, each atomically; the stamps first, so the table
    (which records their sha256) is the last file to appear."""
    from deepcee.core.files import file_sha256, write_ecsv

    table_path, stamps_path = Path(table_path), Path(stamps_path)
    if stamps_path.suffix != ".npz":
        raise DeepCeeError(f"{stamps_path}: the galaxy library's stamps file must end in .npz")
    sizes = np.array([s.shape[-1] for s in library.gri], dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(sizes**2)[:-1])) if len(sizes) else np.zeros(0, dtype=np.int64)
    total = int((sizes**2).sum())
    pixels = np.zeros((3, total), dtype=np.float32)
    segment = np.zeros(total, dtype=bool)
    for k, (stamp, own) in enumerate(zip(library.gri, library.segment)):
        pixels[:, offsets[k] : offsets[k] + sizes[k] ** 2] = stamp.reshape(3, -1)
        segment[offsets[k] : offsets[k] + sizes[k] ** 2] = own.ravel()
    t = library.table
    _write_npz(
        stamps_path,
        {
            "id": np.asarray(t["id"], dtype=np.int64),
            "field": np.asarray(t["field"]).astype(str),
            "role": np.asarray(t["role"]).astype(str),
            "size": sizes,
            "offset": offsets.astype(np.int64),
            "gri": pixels,
            "segment": segment,
        },
    )
    table = t.copy(copy_data=False)
    table.meta = dict(t.meta)
    table.meta["stamps_file"] = stamps_path.name
    table.meta["stamps_sha256"] = file_sha256(stamps_path)
    write_ecsv(table, table_path)


STAMP_KEYS = ("id", "field", "role", "size", "offset", "gri", "segment")


def _read_stamps(path: Path) -> dict:
    if not path.is_file():
        raise DeepCeeError(f"{path}: galaxy library stamps file not found")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in STAMP_KEYS if k not in npz.files]
            if missing:
                raise DamagedFileError(f"{path}: not a galaxy library stamps file (no '{missing[0]}' array)")
            return {k: npz[k] for k in STAMP_KEYS}
    except DamagedFileError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as err:
        raise DamagedFileError(
            f"{path}: truncated or damaged galaxy library stamps file ({type(err).__name__}: {str(err)[:80]})"
        ) from None


def read_library(table_path, stamps_path) -> GalaxyLibrary:
    """The library :func:`write_library` wrote, its two files checked to agree: the stamps file's
    sha256 is the one the table records, and ids, fields and roles match row by row."""
    from deepcee.core.files import file_sha256, read_ecsv

    table_path, stamps_path = Path(table_path), Path(stamps_path)
    table = read_ecsv(table_path, required=COLUMNS, what="galaxy library table")
    arrays = _read_stamps(stamps_path)
    want = table.meta.get("stamps_sha256")
    if want is None:
        raise DamagedFileError(f"{table_path}: no stamps_sha256 in its header (not written by write_library)")
    if file_sha256(stamps_path) != want:
        raise DamagedFileError(
            f"{stamps_path}: not the stamps file of {table_path} (its sha256 differs from the one the table records)"
        )
    n = len(table)
    for key in ("id", "field", "role"):
        got = np.asarray(arrays[key])
        if len(got) != n or not np.array_equal(got.astype(str), np.asarray(table[key]).astype(str)):
            raise DamagedFileError(f"{stamps_path}: its entries' {key}s differ from those of {table_path}")
    sizes, offsets, pixels, segment = arrays["size"], arrays["offset"], arrays["gri"], arrays["segment"]
    ends = offsets + sizes**2
    if (
        len(sizes) != n
        or len(offsets) != n
        or pixels.ndim != 2
        or pixels.shape[0] != 3
        or (n and (ends.max() > pixels.shape[1] or offsets.min() < 0))
        or pixels.shape[1] != segment.shape[0]
        or not np.array_equal(sizes, np.asarray(table["stamp_size"]))
    ):
        raise DamagedFileError(f"{stamps_path}: stamp sizes or offsets do not fit its pixels or {table_path}")
    gri = [pixels[:, o : o + s * s].reshape(3, s, s) for o, s in zip(offsets, sizes)]
    masks = [segment[o : o + s * s].reshape(s, s) for o, s in zip(offsets, sizes)]
    try:
        return GalaxyLibrary(table, gri, masks)
    except DeepCeeError as err:
        raise DamagedFileError(f"{table_path}: {err}") from None
