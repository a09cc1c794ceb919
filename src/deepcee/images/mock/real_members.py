"""Cluster members drawn from the real-galaxy library instead of GalSim (``images.mock.members``).

A member brighter than ``mag_limit`` becomes a real SDSS galaxy (``galaxy_library``): one entry of
the view's role (training views take training fields' galaxies, test views test fields'), never
one of the view's own background field where another field can serve, and never the same entry
twice in one view (a repeated galaxy is a cue no real cluster shows). Members are matched
brightest first, so the BCG takes the brightest red entry that fits and the scarce bright entries
go to the bright members:

* **cost**: the entry's r magnitude, g - r and r - i against the member's, in units of
  ``MATCH_SCALES`` (0.25 mag, 0.08, 0.05: the red sequence's width in colour), plus a steep
  penalty for every magnitude the entry would have to be brightened beyond ``max_flux_scale``;
  one of the ``candidates`` cheapest entries is drawn from the view's stream, so two views of
  one cluster do not repeat the same galaxies;
* **flux**: the stamp (g, r, i alike, so the entry keeps its own colour) is scaled to the member's
  r flux, but never up by more than ``max_flux_scale`` (the stamp's own noise would be amplified
  with it); a member brighter than any entry allows is drawn that much fainter, and its truth row
  says so;
* **orientation**: a random number of quarter turns and a mirror half of the time: exact pixel
  moves, no resampling of the noise;
* **position**: the stamp's centroid on the member's pixel, to the nearest pixel.

The library may be finer than the views (it is measured at 1.584" at most, where a galaxy has a
shape): its stamps are then summed ``f x f`` to the views' scale, as ``real_fields`` bins frames.
Fainter members stay GalSim's (``render._draw_target``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache

import numpy as np

from deepcee.core.errors import DeepCeeError
from deepcee.images.mock.galaxy_library import GalaxyLibrary, read_library

#: How far a library entry may be from a member in r magnitude, g - r and r - i for one unit of cost.
MATCH_SCALES = (0.25, 0.08, 0.05)
#: Cost per magnitude of brightening beyond max_flux_scale, squared (a last resort, not a choice).
OVERSCALE_PENALTY = 400.0
#: How a cluster's members are drawn over a real background (images.mock.members / the real-sky kinds).
MEMBER_KINDS = ("galsim", "real", "scattered", "blank")


@dataclass(frozen=True)
class RealMemberSettings:
    """``images.mock.real_members`` (schemas/images.schema.yaml)."""

    mag_limit: float = 21.0
    max_flux_scale: float = 1.5
    candidates: int = 3

    @classmethod
    def from_config(cls, cfg: dict | None) -> RealMemberSettings:
        return settings_from_config(cls, cfg)


def settings_from_config(cls, cfg: dict | None):
    """A settings dataclass from its config block: each field from the block where given (cast to
    its default's type), else its default."""
    cfg = cfg or {}
    return cls(**{f.name: type(f.default)(cfg.get(f.name, f.default)) for f in fields(cls)})


@dataclass(frozen=True)
class RealGalaxies:
    """One role's library galaxies at the views' pixel scale: photometry arrays and stamps."""

    role: str
    mag_r: np.ndarray
    g_r: np.ndarray
    r_i: np.ndarray
    field: np.ndarray
    ids: np.ndarray
    stamps: tuple  # (3, n, n) float32 nMgy per entry, zero outside its segment
    centroids: np.ndarray  # (n_entries, 2): x, y of each stamp's centroid, stamp pixels

    def __len__(self) -> int:
        return len(self.mag_r)


def bin_stamp(stamp: np.ndarray, xc: float, yc: float, factor: int) -> tuple[np.ndarray, float, float]:
    """A (3, n, n) stamp summed ``factor x factor`` (zero-padded at its far edges); its centroid moved
    to the binned pixels (pixel centres at integers: x' = (x + 0.5) / f - 0.5)."""
    if factor == 1:
        return stamp, xc, yc
    n = stamp.shape[-1]
    m = -(-n // factor) * factor
    padded = np.zeros((stamp.shape[0], m, m), dtype=np.float32)
    padded[:, :n, :n] = stamp
    out = padded.reshape(stamp.shape[0], m // factor, factor, m // factor, factor).sum(axis=(2, 4))
    return out, (xc + 0.5) / factor - 0.5, (yc + 0.5) / factor - 0.5


def library_scale_factor(library_scale: float, view_scale: float) -> int:
    """How many library pixels make one view pixel (a whole number, at least 1)."""
    ratio = float(view_scale) / float(library_scale)
    factor = int(round(ratio))
    if factor < 1 or abs(ratio - factor) > 1e-3:
        raise DeepCeeError(
            f'galaxy library: its pixels ({library_scale}") do not bin to the views\' {view_scale}" '
            "(a whole number of library pixels per view pixel is needed)"
        )
    return factor


def role_galaxies(library: GalaxyLibrary, role: str, view_scale: float, kinds=("galaxy",)) -> RealGalaxies:
    """The library's entries of ``role`` (``GalaxyLibrary.select``: the train/test wall) and ``kinds``
    (galaxies by default) at ``view_scale``."""
    chosen = library.select(role, kinds)
    t = chosen.table
    if len(t) == 0:
        plural = {"galaxy": "galaxies", "star": "stars", "bright_star": "bright stars"}
        raise DeepCeeError(f"galaxy library: no {role} {' or '.join(plural[k] for k in kinds)} to draw from")
    factor = library_scale_factor(float(library.table.meta.get("pixel_scale_arcsec", view_scale)), view_scale)
    stamps, centroids = [], []
    for stamp, xc, yc in zip(chosen.gri, np.asarray(t["stamp_xc"], float), np.asarray(t["stamp_yc"], float)):
        binned, bx, by = bin_stamp(np.asarray(stamp, dtype=np.float32), xc, yc, factor)
        stamps.append(binned)
        centroids.append((bx, by))
    return RealGalaxies(
        role=role,
        mag_r=np.asarray(t["mag_r"], float),
        g_r=np.asarray(t["g_r"], float),
        r_i=np.asarray(t["r_i"], float),
        field=np.asarray(t["field"]).astype(str),
        ids=np.asarray(t["id"], dtype=np.int64),
        stamps=tuple(stamps),
        centroids=np.asarray(centroids, dtype=float).reshape(-1, 2),
    )


@lru_cache(maxsize=4)
def load_role_galaxies(table_path: str, stamps_path: str, role: str, view_scale: float) -> RealGalaxies:
    """``role_galaxies`` of the library on disk, read once per job."""
    return role_galaxies(read_library(table_path, stamps_path), role, view_scale)


def match_cost(pool: RealGalaxies, mag_r: float, g_r: float, r_i: float, max_flux_scale: float) -> np.ndarray:
    """Each entry's cost for one object: r, g - r and r - i in units of ``MATCH_SCALES``, squared and
    summed, plus ``OVERSCALE_PENALTY`` per squared magnitude of brightening beyond ``max_flux_scale``."""
    dm = pool.mag_r - mag_r  # > 0: the entry is fainter and must be brightened
    over = np.clip(dm - 2.5 * np.log10(max_flux_scale), 0.0, None)
    sm, sc, si = MATCH_SCALES
    return (dm / sm) ** 2 + ((pool.g_r - g_r) / sc) ** 2 + ((pool.r_i - r_i) / si) ** 2 + OVERSCALE_PENALTY * over**2


def match_members(
    galaxies: RealGalaxies,
    mag_r,
    g_r,
    r_i,
    gen: np.random.Generator,
    settings: RealMemberSettings,
    exclude_field: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One library entry per member (the module docstring's rule): (entry index, flux scale) each.

    Every member gets an entry while unused ones remain (members beyond the library's size get
    index -1 and stay GalSim's)."""
    mag_r, g_r, r_i = (np.asarray(a, dtype=float) for a in (mag_r, g_r, r_i))
    usable = np.ones(len(galaxies), dtype=bool)
    if exclude_field is not None:
        other = galaxies.field != str(exclude_field)
        if other.any():
            usable &= other
    index = np.full(len(mag_r), -1, dtype=np.int64)
    scale = np.ones(len(mag_r), dtype=float)
    for j in np.argsort(mag_r, kind="stable"):
        if not usable.any():
            break
        cost = match_cost(galaxies, mag_r[j], g_r[j], r_i[j], settings.max_flux_scale)
        cost[~usable] = np.inf
        pool = np.argsort(cost, kind="stable")[: max(1, settings.candidates)]
        pool = pool[np.isfinite(cost[pool])]
        k = int(pool[gen.integers(len(pool))])
        index[j] = k
        scale[j] = min(10.0 ** (0.4 * (galaxies.mag_r[k] - mag_r[j])), settings.max_flux_scale)
        usable[k] = False
    return index, scale


def oriented(stamp: np.ndarray, xc: float, yc: float, turns: int, mirrored: bool) -> tuple[np.ndarray, float, float]:
    """The stamp turned by ``turns`` quarter turns (``np.rot90`` on its y, x axes) and then mirrored
    left-right, with its centroid carried along."""
    out, x, y = stamp, float(xc), float(yc)
    for _ in range(int(turns) % 4):
        width = out.shape[-1]
        out = np.rot90(out, k=1, axes=(1, 2))
        x, y = y, width - 1 - x  # np.rot90: new[i, j] = old[j, W - 1 - i]
    if mirrored:
        out = out[:, :, ::-1]
        x = out.shape[-1] - 1 - x
    return np.ascontiguousarray(out), x, y


def add_stamp(img: np.ndarray, stamp: np.ndarray, x: float, y: float, xc: float, yc: float, scale: float) -> None:
    """Add ``scale x stamp`` to the (3, ny, nx) image so its centroid (xc, yc) lands on pixel (x, y)
    (rounded); the part outside the image is dropped."""
    ox, oy = int(np.rint(x - xc)), int(np.rint(y - yc))
    h, w = stamp.shape[-2:]
    ny, nx = img.shape[-2:]
    x0, y0, x1, y1 = max(ox, 0), max(oy, 0), min(ox + w, nx), min(oy + h, ny)
    if x1 <= x0 or y1 <= y0:
        return
    img[:, y0:y1, x0:x1] += np.float32(scale) * stamp[:, y0 - oy : y1 - oy, x0 - ox : x1 - ox]


def draw_real_members(
    img: np.ndarray,
    galaxies: RealGalaxies,
    xs,
    ys,
    mag_r,
    g_r,
    r_i,
    gen: np.random.Generator,
    settings: RealMemberSettings,
    exclude_field: str | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw the members brighter than ``settings.mag_limit`` as library galaxies into ``img``.

    Returns (drawn: bool per member, the r magnitude each was drawn at, its library id or -1);
    members not drawn here are left for GalSim."""
    mag_r = np.asarray(mag_r, dtype=float)
    bright = np.flatnonzero(mag_r < settings.mag_limit)
    drawn = np.zeros(len(mag_r), dtype=bool)
    mags = mag_r.copy()
    ids = np.full(len(mag_r), -1, dtype=np.int64)
    if len(bright) == 0:
        return drawn, mags, ids
    index, scale = match_members(
        galaxies, mag_r[bright], np.asarray(g_r)[bright], np.asarray(r_i)[bright], gen, settings, exclude_field
    )
    for j, k, s in zip(bright, index, scale):
        if k < 0:
            continue
        turns, mirrored = int(gen.integers(4)), bool(gen.uniform() < 0.5)
        stamp, xc, yc = oriented(galaxies.stamps[k], *galaxies.centroids[k], turns, mirrored)
        add_stamp(img, stamp, float(np.asarray(xs)[j]), float(np.asarray(ys)[j]), xc, yc, s)
        drawn[j] = True
        mags[j] = galaxies.mag_r[k] - 2.5 * np.log10(s)
        ids[j] = galaxies.ids[k]
    return drawn, mags, ids
