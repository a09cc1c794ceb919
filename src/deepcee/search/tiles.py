"""Tiles that cover a sky region: the paper's field centred on HEALPix pixel centres.

A tile is a north-up TAN cutout of the paper's field (2,000 px x 0.396" = 792", paper §2.2)
centred on the centre of one HEALPix pixel (nested) that it *owns*. The nside is chosen so
that every owned pixel, seen from its tile's centre, lies inside the tile shrunk by half the
largest box the detector can draw (``max_box_arcsec``): a cluster whose centre is in the
owned pixel is then wholly inside the tile, and every point of the region is owned by
exactly one tile, so ownership (not overlap) decides which tile keeps a detection.

Regions: an RA/Dec box (``search.region``) or a MOC FITS file (``search.moc``, mocpy), the
way survey footprints are published (e.g. the SDSS DR9 imaging MOC of CDS).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy import units as u

from deepcee.core.errors import DeepCeeError
from deepcee.core.skybox import box_area_deg2, in_box, ra_centre, ra_width

#: The paper's field: 2,000 px at 0.396" (paper §2.2).
PAPER_FIELD_ARCSEC = 2000 * 0.396


@dataclass(frozen=True)
class Tile:
    """One tile: the HEALPix pixel it owns and its centre (the pixel's centre)."""

    pixel: int
    nside: int
    ra: float
    dec: float

    @property
    def name(self) -> str:
        return f"hp{self.nside}-{self.pixel}"


def _healpix(nside: int):
    from astropy_healpix import HEALPix

    return HEALPix(nside=int(nside), order="nested", frame="icrs")


def _tan_offsets(ra0, dec0, ra, dec):
    """Gnomonic offsets (arcsec, x east, y north) of (ra, dec) seen from (ra0, dec0); arrays broadcast."""
    ra0, dec0, ra, dec = (np.radians(np.asarray(v, float)) for v in (ra0, dec0, ra, dec))
    cosc = np.sin(dec0) * np.sin(dec) + np.cos(dec0) * np.cos(dec) * np.cos(ra - ra0)
    x = np.cos(dec) * np.sin(ra - ra0) / cosc
    y = (np.cos(dec0) * np.sin(dec) - np.sin(dec0) * np.cos(dec) * np.cos(ra - ra0)) / cosc
    return np.degrees(x) * 3600.0, np.degrees(y) * 3600.0


def pixel_half_extent(nside: int, pixels: np.ndarray) -> np.ndarray:
    """Largest |x| or |y| (arcsec) of each pixel's boundary in the TAN frame of its centre."""
    hp = _healpix(nside)
    pixels = np.asarray(pixels, dtype=np.int64)
    lon, lat = hp.healpix_to_lonlat(pixels)
    blon, blat = hp.boundaries_lonlat(pixels, step=4)
    x, y = _tan_offsets(lon.deg[:, None], lat.deg[:, None], blon.deg, blat.deg)
    return np.maximum(np.abs(x), np.abs(y)).max(axis=1)


def choose_nside(tile_arcsec: float, max_box_arcsec: float) -> int:
    """The smallest nside (fewest tiles) whose every pixel fits its tile less half the largest box.

    Checked on the most distorted pixels (the polar caps and the cap/equator transition, where
    HEALPix diamonds are widest) and a spread of others.

    Why this is the least wasteful correct rule (and still costly). The detector's boxes are
    axis-aligned in the north-up tile, so a box of side s centred at (x, y) lies inside the
    tile iff |x|, |y| <= tile/2 - s/2: half the largest side per axis is the exact margin (the
    half-diagonal would be stricter than needed). For the paper's 792" tile and 340" boxes that
    leaves 226". nside 1024 pixels reach 146-180" from their centre; nside 512 pixels reach
    292-360", past 226" for EVERY pixel, so no Dec range allows a coarser nside (astropy-healpix
    takes powers of two only). The default is therefore nside 1024: 305 tiles/deg^2, each tile
    14.8x the area it owns (every point imaged ~15 times). nside 512 would need boxes <= 72"
    (<= 208" even on its least distorted pixels). An ideal square
    grid owning 452" x 452" per tile would need 63 tiles/deg^2; reaching it means tiles that
    own several pixels or a non-HEALPix grid, left for a later change (README, Blind search;
    measured with the script quoted there).
    """
    room = tile_arcsec / 2.0 - max_box_arcsec / 2.0
    if room <= 0:
        raise DeepCeeError(f'search.max_box_arcsec ({max_box_arcsec}) must be smaller than the tile ({tile_arcsec}")')
    for order in range(4, 20):
        nside = 2**order
        hp = _healpix(nside)
        lat = np.array([89.9, 85.0, 60.0, 41.81, 41.0, 30.0, 10.0, 0.0, -41.81, -89.9])
        lon = np.linspace(0.0, 359.0, 37)
        lo, la = np.meshgrid(lon, lat)
        sample = np.unique(hp.lonlat_to_healpix(lo.ravel() * u.deg, la.ravel() * u.deg))
        if pixel_half_extent(nside, sample).max() <= room:
            return nside
    raise DeepCeeError(f'no HEALPix nside fits a {tile_arcsec}" tile with {max_box_arcsec}" boxes')


def _box_pixels(nside: int, region: dict) -> np.ndarray:
    from astropy.coordinates import SkyCoord

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
    hp = _healpix(nside)
    # every pixel whose centre lies in the box (RA wraps through 0 when ra_min > ra_max):
    # a cone around the box centre that holds the box, then the exact test
    dec_mid = (dec_min + dec_max) / 2.0
    ra_mid = ra_centre(ra_min, ra_max)
    half = ra_width(ra_min, ra_max) / 2.0
    centre = SkyCoord(ra_mid * u.deg, dec_mid * u.deg)
    edge_ra = [ra_mid - half, ra_mid, ra_mid + half]
    corner = SkyCoord(np.tile(edge_ra, 2) * u.deg, np.repeat([dec_min, dec_max], 3) * u.deg)
    radius = corner.separation(centre).max()
    radius = max(radius, abs(dec_max - dec_min) / 2 * u.deg) + hp.pixel_resolution
    pix = np.asarray(hp.cone_search_lonlat(ra_mid * u.deg, dec_mid * u.deg, radius), dtype=np.int64)
    lon, lat = hp.healpix_to_lonlat(pix)
    keep = in_box(lon.deg, lat.deg, ra_min, ra_max, dec_min, dec_max)
    return np.sort(pix[keep])


def _moc_pixels(nside: int, moc_path: str | Path) -> np.ndarray:
    from mocpy import MOC

    path = Path(moc_path)
    if not path.is_file():
        raise DeepCeeError(f"{path}: search.moc file not found")
    try:
        moc = MOC.from_fits(str(path))
    except Exception as err:
        raise DeepCeeError(f"{path}: not a readable MOC FITS file ({type(err).__name__})") from None
    order = int(round(np.log2(nside)))
    if moc.max_order > order:
        moc = moc.degrade_to_order(order)  # keeps every pixel the footprint touches
    cells = np.asarray(moc.flatten(), dtype=np.int64)
    if moc.max_order < order:
        k = 4 ** (order - int(moc.max_order))
        cells = (cells[:, None] * k + np.arange(k, dtype=np.int64)[None, :]).ravel()
    return np.sort(cells)


def footprint_deg2(search_cfg: dict) -> float:
    """The area of the configured box or MOC in deg², without listing its pixels."""
    if search_cfg.get("moc"):
        from mocpy import MOC

        path = Path(search_cfg["moc"])
        if not path.is_file():
            raise DeepCeeError(f"{path}: search.moc file not found")
        try:
            return float(MOC.from_fits(str(path)).sky_fraction) * 4 * np.pi * (180 / np.pi) ** 2
        except Exception as err:
            raise DeepCeeError(f"{path}: not a readable MOC FITS file ({type(err).__name__})") from None
    region = search_cfg.get("region") or {}
    try:
        bounds = [float(region[k]) for k in ("ra_min", "ra_max", "dec_min", "dec_max")]
    except (KeyError, TypeError, ValueError):
        return 0.0  # plan_tiles names what is missing
    return max(0.0, box_area_deg2(*bounds))


def projected_tiles(search_cfg: dict, nside: int) -> tuple[int, float, float]:
    """(tiles, area deg², hours): the tile count of the footprint at ``nside`` (one per pixel of
    its area) and the hours it would take at ``search.projection_tiles_per_second``."""
    area = footprint_deg2(search_cfg)
    per_deg2 = 12 * nside**2 / (4 * np.pi * (180 / np.pi) ** 2)
    tiles = int(round(area * per_deg2))
    return tiles, area, tiles / _setting(search_cfg, "projection_tiles_per_second") / 3600.0


def _setting(search_cfg: dict, key: str):
    """A search key, or its schema default where a caller (a test, a benchmark) left it out."""
    from deepcee.core.config import schema_defaults

    return search_cfg[key] if search_cfg.get(key) is not None else schema_defaults("search")[key]


def plan_tiles(search_cfg: dict, tile_arcsec: float = PAPER_FIELD_ARCSEC) -> tuple[list[Tile], dict]:
    """All tiles of the configured region (sorted by nested pixel: neighbours stay together).

    A footprint projected above ``search.max_tiles`` is refused first, with its count and hours."""
    max_box = float(search_cfg.get("max_box_arcsec", 340.0))
    nside = int(search_cfg.get("nside") or choose_nside(tile_arcsec, max_box))
    estimate, area, hours = projected_tiles(search_cfg, nside)
    cap = int(_setting(search_cfg, "max_tiles"))
    if estimate > cap:
        raise DeepCeeError(
            f"search: the footprint ({area:,.1f} deg2) needs about {estimate:,} tiles at nside {nside}, "
            f"about {hours:,.1f} h at {_setting(search_cfg, 'projection_tiles_per_second')} tiles/s "
            f"(search.projection_tiles_per_second), above search.max_tiles ({cap:,}): raise search.max_tiles "
            "to run it (shard it on a cluster: search.shards)"
        )
    if search_cfg.get("moc"):
        pixels = _moc_pixels(nside, search_cfg["moc"])
        source = f"moc:{search_cfg['moc']}"
    elif search_cfg.get("region"):
        pixels = _box_pixels(nside, search_cfg["region"])
        source = "box"
    else:
        raise DeepCeeError("search: give a region (ra_min, ra_max, dec_min, dec_max) or a moc file")
    if len(pixels) == 0:
        raise DeepCeeError(f"search.region: no HEALPix nside={nside} pixel centre lies in {search_cfg.get('region')}")
    room = tile_arcsec / 2.0 - max_box / 2.0
    if len(pixels) <= 200_000:  # the sample in choose_nside covers bigger footprints
        worst = float(pixel_half_extent(nside, pixels).max())
        if worst > room:
            raise DeepCeeError(
                f'search.nside={nside}: a pixel reaches {worst:.0f}" from its tile centre, '
                f'more than the {room:.0f}" the tile leaves; use a larger nside'
            )
    hp = _healpix(nside)
    lon, lat = hp.healpix_to_lonlat(pixels)
    tiles = [Tile(int(p), nside, float(a), float(d)) for p, a, d in zip(pixels, lon.deg, lat.deg)]
    area = len(pixels) * hp.pixel_area.to_value(u.deg**2)
    return tiles, {
        "nside": nside,
        "n_tiles": len(tiles),
        "area_deg2": float(area),
        "source": source,
        "tile_arcsec": float(tile_arcsec),
        "max_box_arcsec": max_box,
        "tiles_per_deg2": len(tiles) / area if area else None,
        "projected_hours": len(tiles) / float(_setting(search_cfg, "projection_tiles_per_second")) / 3600.0,
    }


def shard_tiles(tiles: list[Tile], shards: int, shard: int) -> list[Tile]:
    """The contiguous run of tiles (in nested order, so a compact patch of sky) of one shard."""
    if not 0 <= shard < shards:
        raise DeepCeeError(f"search shard {shard} outside 0..{shards - 1}")
    bounds = np.linspace(0, len(tiles), shards + 1).round().astype(int)
    return tiles[bounds[shard] : bounds[shard + 1]]


def owner_pixel(nside: int, ra, dec) -> np.ndarray:
    """The nested HEALPix pixel holding each (ra, dec): the tile that owns a detection there."""
    hp = _healpix(nside)
    return np.asarray(
        hp.lonlat_to_healpix(np.asarray(ra, float) * u.deg, np.asarray(dec, float) * u.deg), dtype=np.int64
    )
