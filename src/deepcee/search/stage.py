"""Inference over the tiles of one shard: acquire, stretch in memory, batched detector, boxes on the sky.

A shard is a contiguous run of tiles in grid order (``tiles.shard_tiles``: strip by strip), i.e. a
compact patch of sky, so the mock's block mosaics are shared within it. Tiles stream
through a ``torch.utils.data.DataLoader`` (an ``IterableDataset``: each worker takes whole
blocks) that acquires and stretches them with ``images/stretch.py``'s ``to_rgb`` (the
training images' stretch, without writing PNGs), then ``detector/inference.py``'s
``predict_batches`` runs batches on the model (bf16 autocast on CUDA by default).

Every box above ``search.score_min`` is kept with its tile, its centre on the sky (through
the tile's WCS, the training images' pixel convention of ``detector/inference.py``) and
whether the tile *owns* that position (``tiles.StripGrid.owner``). The shard's table is written
atomically, so a killed search leaves only finished shards behind.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch
from astropy.table import Table

from deepcee.core.config import with_defaults
from deepcee.core.contracts import read_table, rows_table, table_contract, write_table
from deepcee.core.errors import DeepCeeError
from deepcee.core.files import write_json
from deepcee.images.stretch import native_factor, to_rgb
from deepcee.search.acquire import acquire
from deepcee.search.tiles import StripGrid, Tile, grid_from_meta

DETECTION_COLUMNS = table_contract("search_detections").colnames  # docs/contracts.md


def read_tiles(path) -> tuple[list[Tile], np.ndarray, StripGrid]:
    """Tiles, the shard of each and their grid, from ``tiles.ecsv`` (written by the search_tiles rule)."""
    t = read_table("tiles", path)
    tiles = [Tile(int(r["index"]), float(r["ra"]), float(r["dec"])) for r in t]
    return tiles, np.asarray(t["shard"], dtype=int), grid_from_meta(t.meta)


class TileStream(torch.utils.data.IterableDataset):
    """Tiles -> (uint8 3 x S x S tensor, tile, WCS, seconds acquiring, seconds stretching)."""

    def __init__(
        self, tiles, source, pixels, scale, output_size, limits, grid, sky=None, cfg=None, block_tiles=8, noise=True
    ):
        super().__init__()
        self.tiles, self.source, self.pixels, self.scale = list(tiles), source, int(pixels), float(scale)
        self.output_size, self.limits = int(output_size), limits
        self.grid, self.sky, self.cfg, self.noise = grid, sky, cfg or {}, bool(noise)
        self.block_tiles = int(block_tiles)

    def _mine(self):
        info = torch.utils.data.get_worker_info()
        if info is None or info.num_workers <= 1:
            return self.tiles
        if self.source == "mock":  # whole blocks per worker: one mosaic is rendered once
            blocks = self.grid.block_of([t.index for t in self.tiles], self.block_tiles)
            return [t for t, b in zip(self.tiles, blocks) if int(b) % info.num_workers == info.id]
        return self.tiles[info.id :: info.num_workers]

    def __iter__(self):
        stream = acquire(
            self.source,
            self._mine(),
            self.pixels,
            self.scale,
            sky=self.sky,
            cfg=self.cfg,
            grid=self.grid,
            block_tiles=self.block_tiles,
            noise=self.noise,
        )
        t0 = time.perf_counter()
        for tile, img, wcs in stream:
            t1 = time.perf_counter()
            rgb = to_rgb({b: img[j] for j, b in enumerate("gri")}, self.limits, self.output_size, native_factor(wcs))
            tensor = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).contiguous()
            t2 = time.perf_counter()
            yield tensor, tile, wcs, t1 - t0, t2 - t1
            t0 = time.perf_counter()


def _collate(batch):
    return [list(x) for x in zip(*batch)]


def boxes_to_sky(wcs, boxes: np.ndarray, output_size: int, pixels: int):
    """Training-image boxes (x0, y0, x1, y1; row 0 at the top) -> centre RA/Dec (deg) and mean side (tile px)."""
    x = (boxes[:, 0] + boxes[:, 2]) / 2.0
    y = (boxes[:, 1] + boxes[:, 3]) / 2.0
    f = pixels / output_size
    fx = (x + 0.5) * f - 0.5
    fy = (output_size - 0.5 - y) * f - 0.5
    ra, dec = wcs.pixel_to_world_values(fx, fy)
    side = ((boxes[:, 2] - boxes[:, 0]) + (boxes[:, 3] - boxes[:, 1])) / 2.0 * f
    return np.asarray(ra, float) % 360.0, np.asarray(dec, float), side


def resolve_precision(precision: str, device: torch.device) -> str:
    if precision == "auto":
        return "bf16" if device.type == "cuda" else "fp32"
    return precision


def run_shard(
    model,
    tiles: list[Tile],
    grid: StripGrid,
    search_cfg: dict,
    images_cfg: dict,
    *,
    sky=None,
    device: torch.device | str = "cpu",
    progress: bool = True,
    log=print,
) -> tuple[Table, dict]:
    """Detections of every tile of one shard (a Table of DETECTION_COLUMNS) and timings.

    ``search_cfg`` and ``images_cfg``: the complete ``search`` and ``images`` sections (schema defaults filled).
    """
    from deepcee.detector.inference import predict_batches

    cfg = search_cfg
    device = torch.device(device) if not isinstance(device, torch.device) else device
    precision = resolve_precision(str(cfg["precision"]), device)
    pixels, scale = int(images_cfg["pixels"]), float(images_cfg["pixel_scale_arcsec"])
    output_size = int(images_cfg["stretch"]["output_size"])
    limits = images_cfg["stretch"]["limits"]
    stream = TileStream(
        tiles,
        cfg["source"],
        pixels,
        scale,
        output_size,
        limits,
        grid,
        sky=sky,
        cfg=cfg,
        block_tiles=int(cfg["mock_block_tiles"]),
        noise=bool(cfg["noise"]),
    )
    workers = int(cfg["workers"])
    loader = torch.utils.data.DataLoader(
        stream,
        batch_size=int(cfg["batch_size"]),
        num_workers=workers,
        collate_fn=_collate,
        pin_memory=device.type == "cuda",
        **({"prefetch_factor": 2} if workers > 0 else {}),
    )
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(tiles), desc="search", unit="tile", file=sys.stderr, mininterval=2.0, ncols=100)
    rows = {c: [] for c in DETECTION_COLUMNS}
    timings = {"acquire_s": 0.0, "stretch_s": 0.0, "infer_s": 0.0}
    t_start = time.perf_counter()
    n_done = 0
    score_min = float(cfg["score_min"])
    model.to(device).eval()
    for images, batch_tiles, wcss, t_acq, t_str in loader:
        timings["acquire_s"] += float(sum(t_acq))
        timings["stretch_s"] += float(sum(t_str))
        t0 = time.perf_counter()
        outputs = predict_batches(model, images, device, precision)
        timings["infer_s"] += time.perf_counter() - t0
        for tile, wcs, out in zip(batch_tiles, wcss, outputs):
            scores = out["scores"].numpy().astype(float)
            keep = scores >= score_min
            boxes = out["boxes"].numpy().astype(float)[keep]
            scores = scores[keep]
            if len(boxes):
                ra, dec, side = boxes_to_sky(wcs, boxes, output_size, pixels)
                owner = grid.owner(ra, dec)
                rows["tile"] += [tile.name] * len(boxes)
                rows["tile_index"] += [tile.index] * len(boxes)
                for j, c in enumerate(("x0", "y0", "x1", "y1")):
                    rows[c] += list(boxes[:, j])
                rows["score"] += list(scores)
                rows["ra"] += list(ra)
                rows["dec"] += list(dec)
                rows["box_arcsec"] += list(side * scale)
                rows["owner"] += list(owner)
                rows["owned"] += list(owner == tile.index)
        n_done += len(images)
        if bar is not None:
            bar.update(len(images))
            bar.set_postfix_str(f"{n_done / max(time.perf_counter() - t_start, 1e-9):.2f} tiles/s")
    if bar is not None:
        bar.close()
    wall = time.perf_counter() - t_start
    dtypes = {"tile": str, "tile_index": np.int64, "owner": np.int64, "owned": bool}
    table = Table({c: np.asarray(rows[c], dtype=dtypes.get(c, float)) for c in DETECTION_COLUMNS})
    for c in ("x0", "y0", "x1", "y1"):
        table[c].unit = "pix"
    table["ra"].unit = table["dec"].unit = "deg"
    table["box_arcsec"].unit = "arcsec"
    stats = {
        "n_tiles": len(tiles),
        "n_detections": len(table),
        "n_owned": int(np.sum(table["owned"])),
        "wall_s": wall,
        "tiles_per_s": len(tiles) / wall if wall > 0 else None,
        "device": str(device),
        "precision": precision,
        "workers": workers,
        "batch_size": int(cfg["batch_size"]),
        **timings,
    }
    log(
        f"shard: {len(tiles)} tiles, {len(table)} boxes >= {score_min} ({stats['n_owned']} owned) in {wall:.1f} s "
        f"({stats['tiles_per_s'] or 0:.2f} tiles/s on {device}, {precision})"
    )
    return table, stats


def search_shard(
    model_path,
    tiles_path,
    shard: int,
    config: dict,
    out_path,
    stats_path,
    *,
    threads=None,
    injected_path=None,
    log=print,
) -> dict:
    """The search_shard rule: one shard's detections -> ECSV + JSON, both atomically."""
    from deepcee.detector.inference import load_model
    from deepcee.detector.training import resolve_device

    scfg = with_defaults("search", config["search"])
    if threads:
        torch.set_num_threads(int(threads))
    tiles, shards, grid = read_tiles(tiles_path)
    mine = [t for t, s in zip(tiles, shards) if s == int(shard)]
    device = resolve_device(str(scfg["device"]))
    model, meta = load_model(model_path, device)
    sky = None
    if scfg["source"] == "mock":
        from deepcee.images.mock.sky import sky_from_config

        sky = sky_from_config(_sky_config(config))
        if injected_path is not None:
            sky.add_clusters(read_injections(injected_path), kind="injected")
    log(f"search shard {shard}: {len(mine)} tiles from {scfg['source']} with {model_path} on {device}")
    if mine:
        table, stats = run_shard(model, mine, grid, scfg, config["images"], sky=sky, device=device, log=log)
    else:
        table = rows_table("search_detections", [])
        stats = {"n_tiles": 0, "n_detections": 0, "n_owned": 0, "wall_s": 0.0}
    table.meta.update({"shard": int(shard), "model": str(model_path), "source": scfg["source"]})
    write_table("search_detections", table, out_path)
    write_json(stats_path, {"shard": int(shard), **stats})
    return stats


def _sky_config(config: dict) -> dict:
    """The config the mock sky is built from: images.mock with search.mock overrides, and the
    search's own ``sky_seed`` where one is set (a hold-out sky: other field galaxies, groups,
    seeing and cluster members than the sky training and any chosen cut saw)."""
    images = dict(config["images"])
    images["mock"] = {**images["mock"], **config["search"].get("mock", {})}
    return {**config, "images": images, "seed": search_seed(config)}


def search_seed(config: dict) -> int:
    """The seed of the search's sky and injections: ``search.sky_seed``, or the workflow's ``seed``."""
    value = config["search"].get("sky_seed")
    return int(config["seed"] if value is None else value)


def truth_around_tiles(sky, tiles: Table, pad_deg: float = 0.3) -> Table:
    """Every cluster and group the mock sky holds near the tiles (``MockSky.truth_in``): the tiles'
    RA span unwrapped, so that a region through RA 0 is one span, in the non-wrapping pieces
    ``truth_in`` takes."""
    from astropy.table import vstack

    from deepcee.core.skybox import ra_intervals, unwrap_ra

    ra = unwrap_ra(np.asarray(tiles["ra"], float))
    dec_lo, dec_hi = float(np.min(tiles["dec"])) - pad_deg, float(np.max(tiles["dec"])) + pad_deg
    pieces = [sky.truth_in(lo, hi, dec_lo, dec_hi) for lo, hi in ra_intervals(ra.min() - pad_deg, ra.max() + pad_deg)]
    return vstack(pieces) if len(pieces) > 1 else pieces[0]


def read_injections(path) -> Table:
    """The search_inject rule's clusters (an empty table when none were planted)."""
    from deepcee.core.files import read_ecsv
    from deepcee.search.inject import INJECTED_COLUMNS

    return read_ecsv(path, required=INJECTED_COLUMNS, what="injected clusters")


def write_injections(config: dict, tiles_path, out_path, log=print) -> Table:
    """The search_inject rule: where the search's injected clusters go (mock sky only)."""
    from deepcee.core.files import write_ecsv
    from deepcee.search.inject import empty_injections, plan_injections

    scfg = with_defaults("search", config["search"])
    icfg = scfg["inject"]
    if scfg["source"] != "mock" or int(icfg["n"]) == 0:
        planted = empty_injections()
        planted.meta.update({"requested": 0})
    else:
        from deepcee.images.mock.sky import sky_from_config

        tiles = read_table("tiles", tiles_path)
        sky = sky_from_config(_sky_config(config))
        redmapper = sky.clusters[np.asarray(sky.clusters["kind"], str) == "redmapper"]
        planted = plan_injections(
            tiles, truth_around_tiles(sky, tiles), icfg, search_seed(config), log=log, redmapper=redmapper
        )
    write_ecsv(planted, out_path)
    log(f"search.inject: {len(planted)} clusters planted in the search's mock sky")
    return planted


def write_tiles(config: dict, out_path, info_path, log=print) -> dict:
    """The search_tiles rule: every tile of the region with its shard -> ECSV + JSON."""
    from deepcee.search.tiles import PAPER_FIELD_ARCSEC, plan_tiles

    scfg = with_defaults("search", config["search"])
    field = int(config["images"]["pixels"]) * float(config["images"]["pixel_scale_arcsec"])
    if abs(field - PAPER_FIELD_ARCSEC) > 1.0:
        raise DeepCeeError(
            f'images.pixels x images.pixel_scale_arcsec = {field:.1f}": the search tiles are the '
            f"paper's {PAPER_FIELD_ARCSEC:.0f}\" field"
        )
    tiles, info = plan_tiles(scfg, field, log=log)
    shards = int(scfg["shards"])
    bounds = np.linspace(0, len(tiles), shards + 1).round().astype(int)
    shard_of = np.searchsorted(bounds, np.arange(len(tiles)), side="right") - 1
    t = Table(
        {
            "tile": [x.name for x in tiles],
            "index": np.asarray([x.index for x in tiles], dtype=np.int64),
            "ra": [x.ra for x in tiles],
            "dec": [x.dec for x in tiles],
            "shard": shard_of.astype(int),
        }
    )
    t["ra"].unit = t["dec"].unit = "deg"
    t.meta.update(info)
    write_table("tiles", t, out_path)
    info = {**info, "shards": shards, "tiles_per_shard": np.bincount(shard_of, minlength=shards).tolist()}
    write_json(info_path, info)
    return info
