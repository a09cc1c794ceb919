"""Tiles per second of each blind-search step, and what the SDSS footprint would take here.

    python -m deepcee.bench.search [--config config.yaml] [--model results/03_train/model.pt]
                                   [--tiles 16] [--batch-size 8] [--devices cpu,cuda]

Steps, timed separately on the same tiles of the configured region (search.region):
acquire (the one mock sky: mosaics cut into tiles), stretch (in memory, images/stretch.py),
infer (detector/inference.py's predict_batches; bf16 on CUDA) next to the bare model
(``model(images)`` on tensors already on the device, the number docs/design.md's GPU table
quotes), and merge (ownership + sky merge of the detections). Without ``--model`` a detector
of the config's architecture with random weights is timed (same cost as a trained one).
The projection: 14,555 deg^2 (the SDSS DR7 imaging footprint) x the search grid's tiles per
deg^2 (search/tiles.py) / each step's rate, in series on this machine and inference alone.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from deepcee.bench import add_config_arguments, existing_file, positive_int, read_configs

SDSS_FOOTPRINT_DEG2 = 14555.0


def _detector(config, model_path, device):
    from deepcee.detector.inference import load_model
    from deepcee.detector.model import build_detector

    if model_path:
        model, _ = load_model(model_path, device)
        return model
    out = int(config["images"]["stretch"]["output_size"])
    det = {**config["train"]["detector"], "weights": "none"}
    return build_detector(det, out, load_weights=False).to(device).eval()


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench(config: dict, model_path=None, n_tiles=16, batch_size=8, devices=("cpu",), repeat=1, log=print) -> dict:
    from astropy.table import Table

    from deepcee.core.config import with_defaults
    from deepcee.detector.inference import predict_batches
    from deepcee.images.mock.sky import sky_from_config
    from deepcee.images.stretch import native_factor, to_rgb
    from deepcee.search.acquire import mock_tiles
    from deepcee.search.merge import merge_detections
    from deepcee.search.stage import _sky_config, boxes_to_sky, resolve_precision
    from deepcee.search.tiles import grid_for, plan_tiles

    # a config read from YAML, outside Snakemake: the schemas fill what it leaves out
    scfg = with_defaults("search", config["search"])
    images = with_defaults("images", config["images"])
    config = {**config, "search": scfg, "images": images}
    pixels, scale = int(images["pixels"]), float(images["pixel_scale_arcsec"])
    out_size = int(images["stretch"]["output_size"])
    tiles, info = plan_tiles(scfg, pixels * scale)
    tiles = tiles[:n_tiles]
    grid = grid_for(scfg, pixels * scale)
    sky = sky_from_config(_sky_config(config))
    res = {
        "n_tiles": len(tiles),
        "own_arcsec": info["own_arcsec"],
        "pixels": pixels,
        "output_size": out_size,
        "machine": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
    }

    t0 = time.perf_counter()
    acquired = list(mock_tiles(sky, tiles, pixels, scale, grid, block_tiles=int(scfg["mock_block_tiles"])))
    res["acquire_tiles_per_s"] = len(acquired) / (time.perf_counter() - t0)

    t0 = time.perf_counter()
    tensors = []
    for _, img, wcs in acquired:
        rgb = to_rgb(
            {b: img[j] for j, b in enumerate("gri")}, images["stretch"]["limits"], out_size, native_factor(wcs)
        )
        tensors.append(torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).contiguous())
    res["stretch_tiles_per_s"] = len(tensors) / (time.perf_counter() - t0)

    outputs = []
    for name in devices:
        if name == "cuda" and not torch.cuda.is_available():
            log("cuda: not available on this machine, skipped")
            continue
        device = torch.device(name)
        precision = resolve_precision(str(scfg["precision"]), device)
        model = _detector(config, model_path, device)
        batches = [tensors[i : i + batch_size] for i in range(0, len(tensors), batch_size)]
        predict_batches(model, batches[0], device, precision)  # warm-up (cuDNN autotune, allocator)
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(repeat):
            outputs = []
            for b in batches:
                outputs += predict_batches(model, b, device, precision)
        _sync(device)
        res[f"infer_{name}_tiles_per_s"] = repeat * len(tensors) / (time.perf_counter() - t0)
        # the bare model: tensors already on the device, no box extraction
        on_dev = [[x.to(device).float() / 255.0 for x in b] for b in batches]
        with torch.inference_mode():
            from deepcee.detector.training import autocast

            with autocast(device, precision):
                model(on_dev[0])
            _sync(device)
            t0 = time.perf_counter()
            with autocast(device, precision):
                for _ in range(repeat):
                    for b in on_dev:
                        model(b)
            _sync(device)
        res[f"bare_{name}_tiles_per_s"] = repeat * len(tensors) / (time.perf_counter() - t0)
        res[f"infer_{name}_fraction_of_bare"] = res[f"infer_{name}_tiles_per_s"] / res[f"bare_{name}_tiles_per_s"]
        res[f"precision_{name}"] = precision
        if name == "cuda":
            res["gpu"] = torch.cuda.get_device_name(0)

    # merge: the detections of these tiles (or one synthetic box per tile when no device ran)
    rows = []
    for (tile, _, wcs), o in zip(acquired, outputs or [None] * len(acquired)):
        boxes = o["boxes"].numpy() if o is not None else np.array([[10.0, 10.0, 60.0, 60.0]])
        scores = o["scores"].numpy() if o is not None else np.array([0.9])
        if len(boxes):
            ra, dec, side = boxes_to_sky(wcs, boxes.astype(float), out_size, pixels)
            own = grid.owner(ra, dec)
            for k in range(len(ra)):
                rows.append(
                    (
                        tile.name,
                        tile.index,
                        float(scores[k]),
                        ra[k],
                        dec[k],
                        side[k] * scale,
                        own[k],
                        own[k] == tile.index,
                    )
                )
    det = (
        Table(rows=rows, names=("tile", "tile_index", "score", "ra", "dec", "box_arcsec", "owner", "owned"))
        if rows
        else Table(
            names=("tile", "tile_index", "score", "ra", "dec", "box_arcsec", "owner", "owned"),
            dtype=(str, int, float, float, float, float, int, bool),
        )
    )
    t0 = time.perf_counter()
    merge_detections(det, float(scfg.get("merge_radius_arcsec", 60.0)))
    res["merge_tiles_per_s"] = len(acquired) / max(time.perf_counter() - t0, 1e-9)
    res["n_boxes"] = len(det)

    per_deg2 = grid.tiles_per_deg2
    res["tiles_per_deg2"] = per_deg2
    res["sdss_tiles"] = SDSS_FOOTPRINT_DEG2 * per_deg2
    for name in devices:
        key = f"infer_{name}_tiles_per_s"
        if key in res:
            serial = 1.0 / (
                1 / res["acquire_tiles_per_s"]
                + 1 / res["stretch_tiles_per_s"]
                + 1 / res[key]
                + 1 / res["merge_tiles_per_s"]
            )
            res[f"{name}_serial_tiles_per_s"] = serial
            res[f"sdss_{name}_hours_serial"] = res["sdss_tiles"] / serial / 3600.0
            res[f"sdss_{name}_hours_infer_only"] = res["sdss_tiles"] / res[key] / 3600.0
    return res


def _devices(text: str) -> tuple[str, ...]:
    """An argparse type: a comma-separated list of cpu and cuda."""
    names = tuple(text.split(","))
    bad = [n for n in names if n not in ("cpu", "cuda")]
    if bad:
        raise argparse.ArgumentTypeError(f"{bad[0]!r} is not cpu or cuda")
    return names


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_arguments(ap)
    ap.add_argument("--model", type=existing_file, default=None)
    ap.add_argument("--tiles", type=positive_int, default=16)
    ap.add_argument("--batch-size", type=positive_int, default=8)
    ap.add_argument("--devices", type=_devices, default="cpu,cuda", help="comma-separated: cpu, cuda")
    ap.add_argument("--repeat", type=positive_int, default=1, help="time inference over the tiles this many times")
    args = ap.parse_args(argv)

    config = read_configs(ap, [args.config, *args.configfile])
    res = bench(config, args.model, args.tiles, args.batch_size, args.devices, args.repeat)
    print(
        f"blind search benchmark: {res['n_tiles']} tiles of {res['pixels']} px -> {res['output_size']} px, "
        f'{res["own_arcsec"]:.0f}" cells ({res["tiles_per_deg2"]:.1f} tiles/deg2), {res["threads"]} CPU threads'
    )
    for step in ("acquire", "stretch"):
        print(f"  {step:8s} {res[f'{step}_tiles_per_s']:9.2f} tiles/s (CPU)")
    for name in ("cpu", "cuda"):
        if f"infer_{name}_tiles_per_s" in res:
            print(
                f"  infer    {res[f'infer_{name}_tiles_per_s']:9.2f} tiles/s ({name}, {res[f'precision_{name}']}, "
                f"batch {args.batch_size}; bare model {res[f'bare_{name}_tiles_per_s']:.2f}, "
                f"{100 * res[f'infer_{name}_fraction_of_bare']:.0f} %)"
                + (f" on {res['gpu']}" if name == "cuda" else "")
            )
    print(f"  merge    {res['merge_tiles_per_s']:9.2f} tiles/s ({res['n_boxes']} boxes)")
    for name in ("cpu", "cuda"):
        if f"sdss_{name}_hours_serial" in res:
            print(
                f"SDSS footprint ({SDSS_FOOTPRINT_DEG2:,.0f} deg2, {res['sdss_tiles']:,.0f} tiles) "
                f"with {name} inference: "
                f"{res[f'sdss_{name}_hours_serial']:,.1f} h with every step in series on this machine, "
                f"{res[f'sdss_{name}_hours_infer_only']:,.1f} h if acquisition keeps up (workers / cached downloads)"
            )
    return res


if __name__ == "__main__":
    main()
