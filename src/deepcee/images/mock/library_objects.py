"""The one mock sky's bright galaxies and stars drawn from the real-galaxy library (``images.mock.sky_objects``).

With ``sky_objects: real``, every field galaxy, group or cluster member and star of the synthetic sky
brighter than ``sky_library.mag_limit`` is drawn as a real SDSS entry of the library instead of by
GalSim, so that on no background is a GalSim-drawn bright galaxy a cue for a cluster (members and
field alike look real). The big foreground galaxies stay GalSim's: the bundled fields hold too few
of them to draw from.

Unlike a view's injected members (``real_members``), a sky object is an object of the one sky: every
cutout of one role that shows it draws the same entry, turned and mirrored the same way. So the
choice is keyed by the object itself (its position), not by the view, and an entry may serve more
than one object (no cutout could see the others' choices):

* **pool**: galaxies for galaxies, stars and bright (saturated) stars for stars, of the cutout's
  role only (training views take training fields' entries, test views test fields';
  ``GalaxyLibrary.select`` holds the wall);
* **cost**: ``real_members.match_cost`` (r, g - r and r - i, and the over-brightening penalty); one
  of the ``candidates`` cheapest entries, drawn from the object's own stream. Only entries costing
  at most ``max_cost`` (9: about three scales in one of them) serve: an object the library cannot
  match (a BCG brighter and redder than any entry) stays GalSim's rather than becoming a wrong galaxy;
* **flux**: scaled to the object's r flux, never up by more than ``max_flux_scale`` (its own noise
  would be amplified); a brighter object is drawn that much fainter, and its truth row says so;
* **orientation**: quarter turns and a mirror drawn in the sky's north-up, east-left frame and
  carried into each cutout's axes (to the nearest quarter turn).

The stamps carry their own field's noise and seeing, and are added after the sky's noise, as
real members are (``render._render_injected``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from deepcee.core.errors import DeepCeeError
from deepcee.core.seeds import rng
from deepcee.images.mock import universe
from deepcee.images.mock.galaxy_library import read_library
from deepcee.images.mock.real_members import (
    RealGalaxies,
    add_stamp,
    match_cost,
    oriented,
    role_galaxies,
    settings_from_config,
)

#: How the synthetic sky's bright objects are drawn (images.mock.sky_objects).
SKY_OBJECT_KINDS = ("galsim", "real")
#: The sky objects (``sky.OBJECT_LABELS``) a library entry may stand in for.
LIBRARY_LABELS = ("field", "star", "group", "cluster")
STAR_KIND = universe.Objects.KINDS["star"]
#: Positions are keyed to 1e-7 deg (0.36 mas): the same object in every cutout, distinct from its neighbours.
POSITION_DIGITS = 7


@dataclass(frozen=True)
class LibraryObjectSettings:
    """``images.mock.sky_library`` (schemas/images.schema.yaml)."""

    mag_limit: float = 21.0
    max_flux_scale: float = 1.5
    candidates: int = 5
    max_cost: float = 9.0

    @classmethod
    def from_config(cls, cfg: dict | None) -> LibraryObjectSettings:
        return settings_from_config(cls, cfg)


@dataclass(frozen=True)
class LibraryObjects:
    """One role's galaxies and stars at a view scale, and how sky objects take them."""

    role: str
    galaxies: RealGalaxies
    stars: RealGalaxies
    settings: LibraryObjectSettings


@lru_cache(maxsize=4)
def load_library_objects(
    table_path: str, stamps_path: str, role: str, view_scale: float, settings: LibraryObjectSettings
) -> LibraryObjects:
    """The library on disk as one role's ``LibraryObjects``, read once per job."""
    library = read_library(table_path, stamps_path)
    return LibraryObjects(
        role,
        role_galaxies(library, role, view_scale),
        role_galaxies(library, role, view_scale, kinds=("star", "bright_star")),
        settings,
    )


def chooses(objects: LibraryObjects, labels, mag_r) -> np.ndarray:
    """Which sky objects a library entry stands in for: galaxies and stars of ``LIBRARY_LABELS``
    brighter than the limit."""
    labels = np.asarray(labels, dtype=str)
    return np.isin(labels, LIBRARY_LABELS) & (np.asarray(mag_r, float) < objects.settings.mag_limit)


def match_object(pool: RealGalaxies, mag_r: float, g_r: float, r_i: float, gen, settings) -> tuple[int, float]:
    """One entry for one object (the module docstring's cost): (entry index, flux scale), or
    (-1, 1) where no entry costs ``max_cost`` or less (the object stays GalSim's)."""
    cost = match_cost(pool, mag_r, g_r, r_i, settings.max_flux_scale)
    best = np.argsort(cost, kind="stable")[: max(1, settings.candidates)]
    best = best[cost[best] <= settings.max_cost]
    if len(best) == 0:
        return -1, 1.0
    k = int(best[gen.integers(len(best))])
    return k, min(10.0 ** (0.4 * (pool.mag_r[k] - mag_r)), settings.max_flux_scale)


@dataclass(frozen=True)
class LibraryPlan:
    """Each chosen sky object's entry (-1: none close enough, GalSim draws it), flux scale, and
    quarter turns and mirror in the sky's frame."""

    star: np.ndarray
    index: np.ndarray
    scale: np.ndarray
    turns: np.ndarray
    mirrored: np.ndarray

    @property
    def drawn(self) -> np.ndarray:
        return self.index >= 0


def plan_library_objects(objects: LibraryObjects, seed: int, ra, dec, kinds, mag_r, g_r, r_i) -> LibraryPlan:
    """The entry of each given sky object, from its own stream (keyed by its position and the role)."""
    n = len(np.atleast_1d(mag_r))
    star = np.asarray(kinds, dtype=int) == STAR_KIND
    index, scale = np.full(n, -1, dtype=np.int64), np.ones(n)
    turns, mirrored = np.zeros(n, dtype=int), np.zeros(n, dtype=bool)
    for j in range(n):
        pool = objects.stars if star[j] else objects.galaxies
        if len(pool) == 0:
            continue
        key = (round(float(ra[j]), POSITION_DIGITS), round(float(dec[j]), POSITION_DIGITS))
        gen = rng(seed, "sky-library", objects.role, *key)
        index[j], scale[j] = match_object(pool, float(mag_r[j]), float(g_r[j]), float(r_i[j]), gen, objects.settings)
        turns[j], mirrored[j] = int(gen.integers(4)), bool(gen.uniform() < 0.5)
    return LibraryPlan(star, index, scale, turns, mirrored)


def frame_quarter_turns(turn_rad: np.ndarray) -> np.ndarray:
    """A cutout's rotation from north-up at each object, to the nearest quarter turn (np.rot90's sense)."""
    return np.rint(-np.asarray(turn_rad, float) / (np.pi / 2)).astype(int) % 4


def draw_library_objects(
    img: np.ndarray, objects: LibraryObjects, plan: LibraryPlan, xs, ys, frame_turns, frame_mirrored
) -> tuple[np.ndarray, np.ndarray]:
    """Add each planned entry (``plan.drawn``) to the (3, ny, nx) image at (xs, ys).

    ``frame_turns`` / ``frame_mirrored``: the cutout's axes against north-up, east-left at each
    object (``frame_quarter_turns``). Returns (the r magnitude each entry was drawn at, NaN where
    none; its library id, -1 where none)."""
    n = len(plan.index)
    mags, ids = np.full(n, np.nan), np.full(n, -1, dtype=np.int64)
    for j in np.flatnonzero(plan.drawn):
        pool = objects.stars if plan.star[j] else objects.galaxies
        k, m = int(plan.index[j]), bool(plan.mirrored[j]) != bool(frame_mirrored[j])
        # the stamp as the sky holds it (rot^t, then mirror^m0), carried into the cutout's axes
        # (mirror^m1, then rot^t1): rot^t1 . mirror^(m0 + m1) . rot^t = mirror^(m0 + m1) . rot^(t +- t1)
        turns = int(plan.turns[j]) + (-1 if m else 1) * int(frame_turns[j])
        stamp, xc, yc = oriented(pool.stamps[k], *pool.centroids[k], turns % 4, m)
        add_stamp(img, stamp, float(xs[j]), float(ys[j]), xc, yc, float(plan.scale[j]))
        mags[j] = pool.mag_r[k] - 2.5 * np.log10(plan.scale[j])
        ids[j] = pool.ids[k]
    return mags, ids


def check_kind(value) -> str:
    if value not in SKY_OBJECT_KINDS:
        raise DeepCeeError(f"images.mock.sky_objects: {value!r} (want {' or '.join(SKY_OBJECT_KINDS)})")
    return str(value)
