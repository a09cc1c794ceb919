"""g, r, i pixels of search tiles: the one mock sky, SkyView, or hips2fits over the SDSS DR9 HiPS.

Every source yields ``(tile, image 3 x N x N float32 nMgy per tile pixel, WCS)`` in the
layout ``images/fits.py`` uses (north-up TAN, FITS orientation, g, r, i).

* ``mock`` (default): tiles are cutouts of ``images/mock/sky.py``'s one mock sky. Neighbouring
  tiles overlap (each is 792" wide but owns a 440" cell, a third of its area), so the tiles of
  one block (``mock_block_tiles`` strips by about as many cells, ``StripGrid.block_of``) are
  cut from one rendered mosaic of the block: the same sky, drawn once. A tile is the mosaic's
  sub-array whose centre is the mosaic pixel nearest its cell's centre (<= 0.5 px away), with
  the mosaic's TAN WCS shifted to it; that frame is north-up at the block's centre, so a tile
  away from it turns off local north, by at most ``tiles.MAX_TURN_RAD`` (blocks are narrowed in
  RA at high Dec to keep it so), which the cells' margin absorbs.
* ``skyview``: the paper's path, ``images/fits.py``'s ``fetch_skyview_band`` per band
  (cached, retried).
* ``hips2fits``: ``astroquery.hips2fits`` over the CDS HiPS of SDSS DR9 per band
  (``CDS/P/SDSS9/g``, ``/r``, ``/i``), cached and retried like SkyView. What their pixel
  values are was not established offline. What is known: the CDS HiPS are FITS tiles of
  16-bit integers (``hips_pixel_bitpix`` 16, so stored through BSCALE/BZERO, which astropy
  applies), 512 px tiles to order 10 (~0.4" pixels, the SDSS frame's 0.396"), shown by
  default with a linear cut of 0 to 1.8: the entry ``ivo://CDS/P/SDSS9/g`` of Aladin Lite's
  default HiPS list,
  https://github.com/cds-astro/aladin-lite/blob/master/src/js/DefaultHiPSList.js .
  That range fits nanomaggies per 0.396" frame pixel (the sky-subtracted DR9 frames), but no
  source found states the unit, the BSCALE or a clip of bright pixels. If it is so, resampling
  keeps a value per 0.396" pixel at any tile scale, and a 1.584" tile pixel needs 16x (the
  pixel-area ratio). So a tile is used only
  with a stated conversion: an answer whose ``BUNIT`` says nanomaggy (per tile pixel) is
  taken as is; otherwise ``search.hips2fits.nmgy_per_unit`` (band -> nMgy per tile pixel per
  HiPS unit) must be set, and each use logs a one-line warning. Measure it once by comparing
  a hips2fits tile with the bundled calibrated frames of
  ``resources/sdss-frames-run2126-camcol1-gri`` on the same sky (docs/search.md, "Acquisition"). An
  8-bit answer (a rendering, not flux) is refused.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.wcs import WCS

from deepcee.core.errors import DeepCeeError
from deepcee.core.files import atomic_path
from deepcee.core.network import RetriesExhausted, with_retries
from deepcee.images.fits import BANDS, fetch_skyview_band, make_wcs
from deepcee.search.tiles import StripGrid, Tile, tan_offsets


# --------------------------------------------------------------------------- the mock sky
def mock_tiles(
    sky, tiles: Iterable[Tile], pixels: int, scale: float, grid: StripGrid, block_tiles: int = 8, noise: bool = True
) -> Iterator[tuple[Tile, np.ndarray, WCS]]:
    """Cut the tiles from one rendered mosaic per block (see the module docstring)."""
    from deepcee.core.skybox import ra_mean

    tiles = list(tiles)
    blocks: dict[int, list[Tile]] = {}
    for t, b in zip(tiles, grid.block_of([t.index for t in tiles], block_tiles)):
        blocks.setdefault(int(b), []).append(t)
    for block in sorted(blocks):
        members = blocks[block]
        ra0 = ra_mean([t.ra for t in members])
        dec0 = float(np.mean([t.dec for t in members]))
        x, y = tan_offsets(ra0, dec0, [t.ra for t in members], [t.dec for t in members])
        reach = float(max(np.abs(x).max(), np.abs(y).max()))
        side = int(np.ceil(2 * reach / scale)) + pixels + 4
        wcs = make_wcs(ra0, dec0, side, scale)
        mosaic, _ = sky.render(
            wcs, (side, side), scale, noise_key=("search-block", grid.own_arcsec, block_tiles, block), noise=noise
        )
        for t in members:
            cx, cy = wcs.world_to_pixel_values(t.ra, t.dec)
            x0 = int(round(float(cx) - (pixels - 1) / 2.0))
            y0 = int(round(float(cy) - (pixels - 1) / 2.0))
            if x0 < 0 or y0 < 0 or x0 + pixels > side or y0 + pixels > side:
                raise DeepCeeError(f"tile {t.name}: outside its block mosaic {block} (internal error)")
            tw = wcs.deepcopy()
            tw.wcs.crpix = [wcs.wcs.crpix[0] - x0, wcs.wcs.crpix[1] - y0]
            yield t, mosaic[:, y0 : y0 + pixels, x0 : x0 + pixels].copy(), tw


# --------------------------------------------------------------------------- SkyView
def skyview_tile(tile: Tile, pixels: int, scale: float, cfg: dict, **kwargs) -> tuple[np.ndarray, WCS]:
    """One tile through SkyView (images/fits.py's cached, retried path), all bands on one grid.

    ``cfg`` is the complete ``search.skyview`` section (schemas/search.schema.yaml's defaults filled).
    """
    surveys = cfg["surveys"]
    out, wcs = [], None
    for band in BANDS:
        hdu = fetch_skyview_band(
            tile.ra,
            tile.dec,
            surveys[band],
            pixels,
            scale,
            cache_dir=cfg["cache_dir"],
            retries=int(cfg["retries"]),
            backoff_s=float(cfg["backoff_s"]),
            timeout_s=float(cfg["timeout_s"]),
            label=tile.name,
            band=band,
            **kwargs,
        )
        out.append(np.asarray(hdu.data, dtype=np.float32))
        if band == "r":
            wcs = WCS(hdu.header, naxis=2).celestial
    return np.stack(out), wcs


# --------------------------------------------------------------------------- hips2fits
def _hips_cache(cache_dir: Path, hips: str, ra: float, dec: float, pixels: int, fov_arcsec: float) -> Path:
    key = f"{hips}|{ra:.7f}|{dec:.7f}|{pixels}|{fov_arcsec:.4f}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return cache_dir / f"{hips.replace('/', '_')}_{ra:.5f}_{dec:+.5f}_{pixels}_{digest}.fits"


def _default_hips_query(hips, ra, dec, pixels, fov_arcsec, timeout_s):
    from astropy.coordinates import Angle, Latitude, Longitude
    from astroquery.hips2fits import hips2fits

    hips2fits.timeout = timeout_s
    return hips2fits.query(
        hips=hips,
        width=pixels,
        height=pixels,
        ra=Longitude(ra * u.deg),
        dec=Latitude(dec * u.deg),
        fov=Angle(fov_arcsec * u.arcsec),
        projection="TAN",
        format="fits",
    )


def fetch_hips_band(
    ra: float,
    dec: float,
    hips: str,
    pixels: int,
    scale: float,
    *,
    cache_dir=".cache/hips2fits",
    retries: int = 4,
    backoff_s: float = 2.0,
    timeout_s: float = 120.0,
    label: str = "",
    query: Callable | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> fits.PrimaryHDU:
    """One hips2fits cutout (TAN, ``pixels`` square, field ``pixels x scale``), cached on disk and retried."""
    cache_dir = Path(cache_dir)
    fov = pixels * scale
    cached = _hips_cache(cache_dir, hips, ra, dec, pixels, fov)
    if cached.exists():
        with fits.open(cached, memmap=False) as hdul:
            return fits.PrimaryHDU(np.asarray(hdul[0].data, dtype=np.float32), header=hdul[0].header)
    query = query or _default_hips_query
    try:
        result = with_retries(lambda: query(hips, ra, dec, pixels, fov, timeout_s), retries, backoff_s, sleep)
    except RetriesExhausted as err:
        raise DeepCeeError(
            f"tile {label}: hips2fits download from {hips} failed after {retries} tries "
            f"({err.summary}); pre-fetch on a node with network "
            f"(snakemake --cores 1 search_download) or set search.source: mock"
        ) from None
    hdu = result[0] if isinstance(result, fits.HDUList) else result
    if int(hdu.header.get("BITPIX", -32)) == 8:
        raise DeepCeeError(
            f"tile {label}: hips2fits returned 8-bit pixels from {hips} (a rendering, not flux); "
            f"use a HiPS with FITS tiles"
        )
    data = None if hdu.data is None else np.asarray(hdu.data, dtype=np.float32)  # BSCALE/BZERO applied
    if data is None or data.shape != (pixels, pixels) or not np.isfinite(data).any():
        raise DeepCeeError(
            f"tile {label}: hips2fits returned an empty or mis-sized image from {hips} "
            f"(shape {None if data is None else data.shape})"
        )
    with atomic_path(cached) as tmp:
        fits.PrimaryHDU(data, header=hdu.header).writeto(tmp)
    return fits.PrimaryHDU(data, header=hdu.header)


#: (HiPS id, factor) pairs already warned about in this process: one warning line each.
_WARNED: set[tuple[str, float]] = set()


def hips_tile(
    tile: Tile, pixels: int, scale: float, cfg: dict, log: Callable[[str], None] = print, **kwargs
) -> tuple[np.ndarray, WCS]:
    """One tile from the SDSS DR9 HiPS, in nMgy per tile pixel (see the module docstring).

    ``cfg`` is the complete ``search.hips2fits`` section (schemas/search.schema.yaml's defaults filled).
    A stated ``nmgy_per_unit`` factor is logged (once per survey and factor) as unverified here.
    """
    surveys = cfg["surveys"]
    per_unit = {k: float(v) for k, v in (cfg["nmgy_per_unit"] or {}).items()}
    out, wcs = [], None
    for band in BANDS:
        hdu = fetch_hips_band(
            tile.ra,
            tile.dec,
            surveys[band],
            pixels,
            scale,
            cache_dir=cfg["cache_dir"],
            retries=int(cfg["retries"]),
            backoff_s=float(cfg["backoff_s"]),
            timeout_s=float(cfg["timeout_s"]),
            label=tile.name,
            **kwargs,
        )
        bunit = str(hdu.header.get("BUNIT", "")).strip().lower()
        if band in per_unit:
            factor = per_unit[band]
            if (surveys[band], factor) not in _WARNED:
                _WARNED.add((surveys[band], factor))
                log(
                    f"WARNING: {surveys[band]} pixels (BUNIT {bunit or 'unstated'}) taken as {factor:g} nMgy per "
                    f"tile pixel per unit from search.hips2fits.nmgy_per_unit.{band}, a stated factor this "
                    f"workflow cannot check (src/deepcee/search/acquire.py)"
                )
        elif bunit.startswith("nanomagg") or bunit == "nmgy":
            factor = 1.0
        else:
            raise DeepCeeError(
                f"tile {tile.name}: {surveys[band]} pixels are in {bunit or 'unstated units'}, not "
                f"nanomaggies; set search.hips2fits.nmgy_per_unit.{band} (docs/search.md, Acquisition)"
            )
        out.append(np.asarray(hdu.data, dtype=np.float32) * np.float32(factor))
        if band == "r":
            w = WCS(hdu.header, naxis=2)
            if not w.has_celestial:
                raise DeepCeeError(f"tile {tile.name}: hips2fits image for band r has no celestial WCS")
            wcs = w.celestial
    return np.stack(out), wcs


def acquire(
    source: str,
    tiles: list[Tile],
    pixels: int,
    scale: float,
    *,
    sky=None,
    cfg: dict | None = None,
    grid: StripGrid | None = None,
    block_tiles: int = 8,
    noise: bool = True,
) -> Iterator[tuple[Tile, np.ndarray, WCS]]:
    """Tiles with their pixels from ``source`` (mock | skyview | hips2fits); ``cfg``: the complete
    ``search`` section (its ``skyview`` / ``hips2fits`` sub-sections are read for those sources)."""
    if source == "mock":
        if sky is None:
            raise DeepCeeError("search.source mock: no mock sky given")
        yield from mock_tiles(sky, tiles, pixels, scale, grid, block_tiles=block_tiles, noise=noise)
    elif source in ("skyview", "hips2fits"):
        fetch = skyview_tile if source == "skyview" else hips_tile
        for t in tiles:
            img, wcs = fetch(t, pixels, scale, cfg[source])
            yield t, img, wcs
    else:
        raise DeepCeeError(f"search.source: {source!r} is not mock, skyview or hips2fits")


# --------------------------------------------------------------------------- cutouts around positions
@dataclass(frozen=True)
class Position:
    """A cutout centre that is not a tile's (a search candidate); what ``skyview_tile`` and ``hips_tile`` read."""

    name: str
    ra: float
    dec: float


def cutouts(
    source: str,
    positions: Iterable[Position],
    pixels: int,
    scale: float,
    *,
    sky=None,
    cfg: dict | None = None,
    noise: bool = True,
) -> Iterator[tuple[Position, np.ndarray, WCS]]:
    """A tile-sized cutout (3 x N x N nMgy, north-up TAN) centred on each position, from ``source``.

    The mock renders each cutout from the one sky through its own WCS (the same objects as
    the tiles; noise keyed by the position's name); SkyView and hips2fits fetch it like a tile
    (cached, retried). ``cfg``: the complete ``search`` section.
    """
    if source == "mock":
        if sky is None:
            raise DeepCeeError("search.source mock: no mock sky given")
        for p in positions:
            wcs = make_wcs(float(p.ra), float(p.dec), pixels, scale)
            img, _ = sky.render(wcs, (pixels, pixels), scale, noise_key=("search-cutout", p.name), noise=noise)
            yield p, img, wcs
    elif source in ("skyview", "hips2fits"):
        fetch = skyview_tile if source == "skyview" else hips_tile
        for p in positions:
            img, wcs = fetch(p, pixels, scale, cfg[source])
            yield p, img, wcs
    else:
        raise DeepCeeError(f"search.source: {source!r} is not mock, skyview or hips2fits")
