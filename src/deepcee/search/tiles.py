"""Tiles that cover a sky region at the geometric floor: equal-Dec strips of near-square cells.

A tile is a north-up TAN cutout of the paper's field (2,000 px x 0.396" = 792", paper §2.2)
centred on the one cell of the sky it *owns*. A detection is kept only by the tile that owns
its centre, so every point of the region must be owned by exactly one tile, and a cluster
centred anywhere in a tile's cell must lie wholly inside that tile. The detector's boxes are
axis-aligned in the north-up tile, so a box of side s centred at (x, y) lies inside the tile
iff |x|, |y| <= tile/2 - s/2: the cell must fit within ``room`` = tile/2 - max_box/2 of the
tile's centre per axis (226" for 792" tiles and 340" boxes), i.e. a square of at most 452" a
side, 63.4 tiles per deg². HEALPix pixels cannot get near that (nside 1024, the coarsest that
fits, needs 305 tiles per deg²: its diamonds are not squares and nside goes by factors of 2).

The grid (``StripGrid``): two polar caps (|dec| > 90 - h/2) and strips of equal height h in
Dec between them; strip j holds n_j equal cells in RA starting at RA 0, n_j the least whose
cell fits (checked numerically on each strip's cell boundary in the TAN frame of the cell's
centre). The owner of any (ra, dec) is index arithmetic (``owner``), so no point is owned twice
or not at all. Cells are ``own`` = tile - max_box - 2 x ``MARGIN_ARCSEC`` a side (440" by
default, 66.9 tiles per deg² at the equator): the margin takes the mock's block mosaics, whose
single TAN frame turns a tile off local north by up to ``MAX_TURN_RAD`` (search/acquire.py).

Regions: an RA/Dec box (``search.region``: the cells it touches) or a MOC FITS file
(``search.moc``, mocpy: the cells any of whose 5 x 5 sample points it holds), the way survey
footprints are published (e.g. the SDSS DR9 imaging MOC of CDS). Large regions are listed strip
by strip with progress lines; the tile count and hours are projected before any is listed.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepcee.core.errors import DeepCeeError
from deepcee.core.skybox import box_area_deg2, ra_width

#: The paper's field: 2,000 px at 0.396" (paper §2.2).
PAPER_FIELD_ARCSEC = 2000 * 0.396
#: Room kept between a cell's edge and the largest box's reach (see the module docstring).
MARGIN_ARCSEC = 6.0
#: How far a block mosaic may turn a tile off local north: the room left by the margin.
MAX_TURN_RAD = (MARGIN_ARCSEC - 1.0) / 221.0
_EDGE_SAMPLES = 9
_SKY_DEG2 = 4 * math.pi * (180 / math.pi) ** 2


@dataclass(frozen=True)
class Tile:
    """One tile: the index of the cell it owns and its centre (the cell's centre)."""

    index: int
    ra: float
    dec: float

    @property
    def name(self) -> str:
        return f"t{self.index}"


def tan_offsets(ra0, dec0, ra, dec):
    """Gnomonic offsets (arcsec, x east, y north) of (ra, dec) seen from (ra0, dec0); arrays broadcast."""
    ra0, dec0, ra, dec = (np.radians(np.asarray(v, float)) for v in (ra0, dec0, ra, dec))
    cosc = np.sin(dec0) * np.sin(dec) + np.cos(dec0) * np.cos(dec) * np.cos(ra - ra0)
    x = np.cos(dec) * np.sin(ra - ra0) / cosc
    y = (np.cos(dec0) * np.sin(dec) - np.sin(dec0) * np.cos(dec) * np.cos(ra - ra0)) / cosc
    return np.degrees(x) * 3600.0, np.degrees(y) * 3600.0


def cell_half_extent(dec_lo, dec_hi, width_deg) -> np.ndarray:
    """Largest |x| or |y| (arcsec) of a cell's boundary (RA width ``width_deg``, Dec dec_lo to
    dec_hi) in the TAN frame of its centre; arrays broadcast (one value per cell)."""
    dec_lo, dec_hi, width = np.broadcast_arrays(*(np.asarray(v, float) for v in (dec_lo, dec_hi, width_deg)))
    t = np.linspace(0.0, 1.0, _EDGE_SAMPLES)
    half = width[..., None] / 2
    lo, hi = dec_lo[..., None], dec_hi[..., None]
    ones = np.ones_like(t)
    ra = np.concatenate([-half + t * 2 * half, half * ones, half - t * 2 * half, -half * ones], axis=-1)
    dec = np.concatenate([lo * ones, lo + t * (hi - lo), hi * ones, hi - t * (hi - lo)], axis=-1)
    x, y = tan_offsets(0.0, (dec_lo + dec_hi)[..., None] / 2, ra, dec)
    return np.maximum(np.abs(x), np.abs(y)).max(axis=-1)


class StripGrid:
    """The cells of the whole sky (see the module docstring); index 0 is the south cap, the last
    the north cap, strip j's cells are ``offsets[j] .. offsets[j] + counts[j] - 1`` east from RA 0."""

    def __init__(self, own_arcsec: float):
        if own_arcsec <= 0:
            raise DeepCeeError(f'search: the tiles own no sky (cell side {own_arcsec:.1f}")')
        self.own_arcsec = float(own_arcsec)
        own = self.own_arcsec / 3600.0
        self.cap_deg = own / 2
        span = 180.0 - 2 * self.cap_deg
        self.n_strips = int(math.ceil(span / own))
        self.strip_deg = span / self.n_strips
        self.dec_lo = -90.0 + self.cap_deg + np.arange(self.n_strips) * self.strip_deg
        self.dec_hi = self.dec_lo + self.strip_deg
        self.dec_hi[-1] = 90.0 - self.cap_deg
        self.counts = self._fit_counts()
        self.offsets = np.concatenate([[1], 1 + np.cumsum(self.counts)]).astype(np.int64)
        self.n_cells = int(self.offsets[-1]) + 1

    def _fit_counts(self) -> np.ndarray:
        """The fewest equal cells per strip whose cell fits half the owned side (+1" for TAN curvature)."""
        limit = self.own_arcsec / 2 + 1.0
        lo, hi = self.dec_lo, self.dec_hi
        near = np.where(lo * hi <= 0, 0.0, np.minimum(np.abs(lo), np.abs(hi)))
        n = np.maximum(np.ceil(360.0 * np.cos(np.radians(near)) / (self.own_arcsec / 3600.0)), 3).astype(np.int64)
        for _ in range(1000):
            bad = cell_half_extent(lo, hi, 360.0 / n) > limit
            if not bad.any():
                return n
            n[bad] += np.maximum(1, n[bad] // 100)
        raise DeepCeeError("search tiles: no cell count fits a strip (internal error)")

    @classmethod
    def for_tile(cls, tile_arcsec: float, max_box_arcsec: float) -> StripGrid:
        return _grid(round(float(tile_arcsec) - float(max_box_arcsec) - 2 * MARGIN_ARCSEC, 6))

    @property
    def tiles_per_deg2(self) -> float:
        return self.n_cells / _SKY_DEG2

    # ------------------------------------------------------------------ ownership
    def owner(self, ra, dec) -> np.ndarray:
        """The index of the cell holding each (ra, dec): the tile that keeps a detection there."""
        ra = np.mod(np.asarray(ra, float), 360.0)
        dec = np.asarray(dec, float)
        # searchsorted on the very edges ``cells`` reports, so a point on an edge goes to one side only
        j = np.clip(np.searchsorted(self.dec_lo, dec, side="right") - 1, 0, self.n_strips - 1)
        n = self.counts[j]
        w = 360.0 / n
        k = np.clip(np.floor(ra / w).astype(np.int64), 0, n - 1)
        k = np.where(ra < k * w, k - 1, np.where((ra >= (k + 1) * w) & (k < n - 1), k + 1, k))
        out = self.offsets[j] + k
        out = np.where(dec < self.dec_lo[0], 0, out)
        return np.where(dec >= self.dec_hi[-1], self.n_cells - 1, out).astype(np.int64)

    def strip_of(self, index) -> np.ndarray:
        """The strip of each cell: -1 for the south cap, n_strips for the north cap."""
        index = np.asarray(index, np.int64)
        j = np.searchsorted(self.offsets, index, side="right") - 1
        return np.where(index == 0, -1, np.where(index >= self.n_cells - 1, self.n_strips, j))

    def cells(self, index) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(ra_lo, ra_hi, dec_lo, dec_hi) of each cell (a cap spans all RA)."""
        index = np.asarray(index, np.int64)
        j = self.strip_of(index)
        jj = np.clip(j, 0, self.n_strips - 1)
        w = 360.0 / self.counts[jj]
        ra_lo = (index - self.offsets[jj]) * w
        cap = (j < 0) | (j >= self.n_strips)
        ra_lo, ra_hi = np.where(cap, 0.0, ra_lo), np.where(cap, 360.0, ra_lo + w)
        dec_lo = np.where(j < 0, -90.0, np.where(j >= self.n_strips, 90.0 - self.cap_deg, self.dec_lo[jj]))
        dec_hi = np.where(j < 0, -90.0 + self.cap_deg, np.where(j >= self.n_strips, 90.0, self.dec_hi[jj]))
        return ra_lo, ra_hi, dec_lo, dec_hi

    def centres(self, index) -> tuple[np.ndarray, np.ndarray]:
        """(ra, dec) of each cell's centre, its tile's centre (a pole for a cap)."""
        ra_lo, ra_hi, dec_lo, dec_hi = self.cells(index)
        j = self.strip_of(index)
        dec = np.where(j < 0, -90.0, np.where(j >= self.n_strips, 90.0, (dec_lo + dec_hi) / 2))
        ra = np.where((j < 0) | (j >= self.n_strips), 0.0, (ra_lo + ra_hi) / 2)
        return ra, dec

    def area_deg2(self, index) -> float:
        """The sky the cells own together, deg²."""
        ra_lo, ra_hi, dec_lo, dec_hi = self.cells(index)
        s = np.sin(np.radians(dec_hi)) - np.sin(np.radians(dec_lo))
        return float(np.sum((ra_hi - ra_lo) * np.degrees(s)))

    # ------------------------------------------------------------------ regions
    def _strip_cells(self, j: int) -> np.ndarray:
        return self.offsets[j] + np.arange(self.counts[j], dtype=np.int64)

    def box_strips(self, region: dict) -> Iterator[np.ndarray]:
        """The cells touching an RA/Dec box, one array per strip (caps first/last where touched)."""
        ra_min, ra_max, dec_min, dec_max = _box_bounds(region)
        width = ra_width(ra_min, ra_max)
        if dec_min < self.dec_lo[0]:
            yield np.array([0], np.int64)
        first = max(0, int(np.searchsorted(self.dec_hi, dec_min, side="right")))
        for j in range(first, self.n_strips):
            if self.dec_lo[j] >= dec_max:
                break
            n = int(self.counts[j])
            w = 360.0 / n
            lo = np.arange(n) * w
            touch = (np.mod(lo - ra_min, 360.0) < width) | (np.mod(ra_min - lo, 360.0) < w)
            yield self.offsets[j] + np.flatnonzero(touch)
        if dec_max > self.dec_hi[-1]:
            yield np.array([self.n_cells - 1], np.int64)

    def moc_strips(self, moc) -> Iterator[np.ndarray]:
        """The cells any of whose 5 x 5 sample points (corners and edges included) a MOC holds."""
        from astropy import units as u

        t = np.linspace(0.0, 1.0, 5)
        for j in range(-1, self.n_strips + 1):
            idx = (
                np.array([0], np.int64)
                if j < 0
                else np.array([self.n_cells - 1], np.int64)
                if j == self.n_strips
                else self._strip_cells(j)
            )
            ra_lo, ra_hi, dec_lo, dec_hi = self.cells(idx)
            ra = ra_lo[:, None, None] + (ra_hi - ra_lo)[:, None, None] * t[None, :, None]
            dec = dec_lo[:, None, None] + (dec_hi - dec_lo)[:, None, None] * t[None, None, :]
            ra, dec = np.broadcast_arrays(ra, dec)
            inside = moc.contains_lonlat(np.mod(ra.ravel(), 360.0) * u.deg, np.clip(dec.ravel(), -90, 90) * u.deg)
            keep = inside.reshape(len(idx), -1).any(axis=1)
            if keep.any():
                yield idx[keep]

    def block_of(self, index, block_tiles: int) -> np.ndarray:
        """The mock mosaic each cell's tile is cut from: ``block_tiles`` strips by about as many
        cells, narrowed in RA where one TAN frame would turn a tile more than MAX_TURN_RAD."""
        index = np.asarray(index, np.int64)
        j = self.strip_of(index)
        g = np.floor_divide(j, int(block_tiles))
        first = np.clip(g * int(block_tiles), 0, self.n_strips - 1)
        dec = np.maximum(
            np.abs(self.dec_lo[first]), np.abs(self.dec_hi[np.minimum(first + block_tiles - 1, self.n_strips - 1)])
        )
        width = np.minimum(
            int(block_tiles) * 360.0 / self.counts[first],
            2 * np.degrees(MAX_TURN_RAD) / np.maximum(np.sin(np.radians(dec)), 1e-6),
        )
        chunks = np.ceil(360.0 / width).astype(np.int64)
        ra, _ = self.centres(index)
        chunk = np.minimum(np.floor(np.mod(ra, 360.0) / 360.0 * chunks).astype(np.int64), chunks - 1)
        return (g + 1) * 10_000_000 + chunk


@functools.lru_cache(maxsize=8)
def _grid(own_arcsec: float) -> StripGrid:
    return StripGrid(own_arcsec)


def grid_for(search_cfg: dict, tile_arcsec: float = PAPER_FIELD_ARCSEC) -> StripGrid:
    """The grid of a search config (its ``max_box_arcsec``) and tile."""
    max_box = float(search_cfg.get("max_box_arcsec") or 340.0)
    if tile_arcsec / 2.0 - max_box / 2.0 - MARGIN_ARCSEC <= 0:
        raise DeepCeeError(f'search.max_box_arcsec ({max_box}) leaves no sky for the tile ({tile_arcsec:.0f}") to own')
    return StripGrid.for_tile(tile_arcsec, max_box)


def grid_from_meta(meta: dict) -> StripGrid:
    """The grid a tiles.ecsv was made on (its ``own_arcsec``)."""
    try:
        return _grid(round(float(meta["own_arcsec"]), 6))
    except KeyError:
        raise DeepCeeError("tiles.ecsv: no own_arcsec in its header; rerun search_tiles") from None


def _box_bounds(region: dict) -> tuple[float, float, float, float]:
    try:
        ra_min, ra_max = float(region["ra_min"]), float(region["ra_max"])
        dec_min, dec_max = float(region["dec_min"]), float(region["dec_max"])
    except (KeyError, TypeError, ValueError) as err:
        raise DeepCeeError(f"search.region: needs numeric ra_min, ra_max, dec_min, dec_max ({err})") from None
    if ra_min == ra_max:
        raise DeepCeeError(
            f"search.region: ra_min and ra_max are both {ra_min} (an empty box; 0 and 360: the full ring)"
        )
    if not -90 <= dec_min < dec_max <= 90:
        raise DeepCeeError(f"search.region: need -90 <= dec_min < dec_max <= 90, got {region}")
    return ra_min, ra_max, dec_min, dec_max


def _read_moc(moc_path):
    from mocpy import MOC

    path = Path(moc_path)
    if not path.is_file():
        raise DeepCeeError(f"{path}: search.moc file not found")
    try:
        return MOC.from_fits(str(path))
    except Exception as err:
        raise DeepCeeError(f"{path}: not a readable MOC FITS file ({type(err).__name__})") from None


def footprint_deg2(search_cfg: dict) -> float:
    """The area of the configured box or MOC in deg², without listing a tile."""
    if search_cfg.get("moc"):
        return float(_read_moc(search_cfg["moc"]).sky_fraction) * _SKY_DEG2
    region = search_cfg.get("region") or {}
    try:
        bounds = [float(region[k]) for k in ("ra_min", "ra_max", "dec_min", "dec_max")]
    except (KeyError, TypeError, ValueError):
        return 0.0  # plan_tiles names what is missing
    return max(0.0, box_area_deg2(*bounds))


def projected_tiles(search_cfg: dict, grid: StripGrid) -> tuple[int, float, float]:
    """(tiles, area deg², hours): the footprint's area times the grid's tiles per deg², and the
    hours at ``search.projection_tiles_per_second``."""
    area = footprint_deg2(search_cfg)
    tiles = int(round(area * grid.tiles_per_deg2))
    return tiles, area, tiles / float(_setting(search_cfg, "projection_tiles_per_second")) / 3600.0


def _setting(search_cfg: dict, key: str):
    """A search key, or its schema default where a caller (a test, a benchmark) left it out."""
    from deepcee.core.config import schema_defaults

    return search_cfg[key] if search_cfg.get(key) is not None else schema_defaults("search")[key]


def plan_tiles(
    search_cfg: dict, tile_arcsec: float = PAPER_FIELD_ARCSEC, log: Callable[[str], None] | None = None
) -> tuple[list[Tile], dict]:
    """All tiles of the configured region, in grid order (strip by strip: neighbours stay together).

    A footprint projected above ``search.max_tiles`` is refused first, with its count and hours;
    ``log`` gets the projection and a progress line per tenth of the strips listed."""
    grid = grid_for(search_cfg, tile_arcsec)
    estimate, area, hours = projected_tiles(search_cfg, grid)
    rate = _setting(search_cfg, "projection_tiles_per_second")
    cap = int(_setting(search_cfg, "max_tiles"))
    if estimate > cap:
        raise DeepCeeError(
            f"search: the footprint ({area:,.1f} deg2) needs about {estimate:,} tiles "
            f"({grid.tiles_per_deg2:.1f} per deg2), about {hours:,.1f} h at {rate} tiles/s "
            f"(search.projection_tiles_per_second), above search.max_tiles ({cap:,}): raise search.max_tiles "
            "to run it (shard it on a cluster: search.shards)"
        )
    if log is not None:
        log(f"search tiles: about {estimate:,} tiles over {area:,.2f} deg2, projected {hours:,.2f} h at {rate} tiles/s")
    if search_cfg.get("moc"):
        strips, source = grid.moc_strips(_read_moc(search_cfg["moc"])), f"moc:{search_cfg['moc']}"
        total = grid.n_strips + 2
    elif search_cfg.get("region"):
        strips, source = grid.box_strips(search_cfg["region"]), "box"
        _, _, dec_min, dec_max = _box_bounds(search_cfg["region"])
        total = max(1, int((min(dec_max, 90) - max(dec_min, -90)) / grid.strip_deg) + 2)
    else:
        raise DeepCeeError("search: give a region (ra_min, ra_max, dec_min, dec_max) or a moc file")
    parts, step = [], max(1, total // 10)
    for done, part in enumerate(strips, start=1):
        parts.append(part)
        if log is not None and total >= 20 and done % step == 0:
            log(f"search tiles: {done}/{total} strips, {sum(len(p) for p in parts):,} tiles")
    if log is not None and total >= 20:
        log(f"search tiles: all {len(parts)} strips listed, {sum(len(p) for p in parts):,} tiles")
    index = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    if len(index) == 0:
        raise DeepCeeError(f"search: no sky of {search_cfg.get('moc') or search_cfg.get('region')} in any tile")
    ra, dec = grid.centres(index)
    tiles = [Tile(int(i), float(a), float(d)) for i, a, d in zip(index, ra, dec)]
    area = grid.area_deg2(index)
    return tiles, {
        "grid": "dec-strips",
        "own_arcsec": grid.own_arcsec,
        "n_tiles": len(tiles),
        "area_deg2": area,
        "source": source,
        "tile_arcsec": float(tile_arcsec),
        "max_box_arcsec": float(search_cfg.get("max_box_arcsec") or 340.0),
        "tiles_per_deg2": len(tiles) / area if area else None,
        "projected_hours": len(tiles) / float(rate) / 3600.0,
    }


def shard_tiles(tiles: list[Tile], shards: int, shard: int) -> list[Tile]:
    """The contiguous run of tiles (in grid order, so a compact patch of sky) of one shard."""
    if not 0 <= shard < shards:
        raise DeepCeeError(f"search shard {shard} outside 0..{shards - 1}")
    bounds = np.linspace(0, len(tiles), shards + 1).round().astype(int)
    return tiles[bounds[shard] : bounds[shard + 1]]
