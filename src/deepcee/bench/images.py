"""Benchmark the image stage on one core: mock renderer and stretch, views per second.

    python -m deepcee.bench.images                 # paper size (2000 px, 0.396") + default (500 px)
    python -m deepcee.bench.images --views 4 --sizes 2000

Reports per-core throughput from process CPU time (robust on a busy machine) and wall time.
Targets (the image stage's speed budget): a 2000 x 2000 x 3-band mock view <= 2 s on one core;
stretch >= 20 views/s per core.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from deepcee.bench import at_least


def _views(n: int, seed: int):
    from astropy.table import Table

    from deepcee.images.views import plan_views

    gen = np.random.default_rng(seed)
    cat = Table(
        {
            "id": [f"B{k}" for k in range(n)],
            "ra": gen.uniform(120, 240, n),
            "dec": gen.uniform(0, 60, n),
            "z": gen.uniform(0.1, 0.2, n),
            "richness": gen.uniform(20, 80, n),
            "bcg_rmag": np.full(n, np.nan),
        }
    )
    return plan_views(cat, 1, 270.0, seed)


def _timed(fn, items):
    c0, w0 = time.process_time(), time.perf_counter()
    for it in items:
        fn(it)
    return time.process_time() - c0, time.perf_counter() - w0


def bench(sizes=(2000, 500), n_views=5, seed=2019, out_dir=None, mock_cfg=None) -> list[dict]:
    """Render ``n_views`` views per size (the first warms imports and caches; the rest are timed)
    and stretch them; one row per (step, size). Without ``out_dir`` the files go to a temporary
    folder, removed afterwards."""
    if out_dir is None:
        with tempfile.TemporaryDirectory(prefix="deepcee-bench-") as tmp:
            return bench(sizes, n_views, seed, tmp, mock_cfg)
    from deepcee.core.config import with_defaults
    from deepcee.images.mock.render import render_view_to_fits, sky_for_views
    from deepcee.images.stretch import stretch_fits

    with contextlib.suppress(AttributeError, OSError):  # one core, as the target says
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    out_dir = Path(out_dir)
    views = _views(n_views, seed)
    results = []
    for size in sizes:
        scale = 792.0 / size
        cfg = with_defaults("images", {"pixels": size, "pixel_scale_arcsec": scale, "mock": mock_cfg or {}})
        paths = {str(v["view"]): out_dir / f"{v['view']}_{size}.fits" for v in views}
        # one sky for the views, as an image shard has (the views lie far apart: no shared cells)
        sky = sky_for_views(views, cfg, seed)
        render_view_to_fits(views[0], cfg, seed, paths[str(views[0]["view"])], sky=sky)  # imports, caches
        cpu, wall = _timed(
            lambda v, cfg=cfg, paths=paths, sky=sky: render_view_to_fits(v, cfg, seed, paths[str(v["view"])], sky=sky),
            views[1:],
        )
        n_timed = len(views) - 1
        results.append(
            {
                "step": "mock render",
                "size": f"{size}x{size}x3",
                "views": n_timed,
                "cpu_s_per_view": cpu / n_timed,
                "views_per_s_per_core": n_timed / cpu,
                "wall_s_per_view": wall / n_timed,
            }
        )
        out_size = 1000 if size == 2000 else size
        reps = list(paths.values()) * max(1, 20 // n_views)
        cpu, wall = _timed(lambda p, out_size=out_size: stretch_fits(p, p.with_suffix(".png"), None, out_size), reps)
        results.append(
            {
                "step": "stretch",
                "size": f"{size}->{out_size}",
                "views": len(reps),
                "cpu_s_per_view": cpu / len(reps),
                "views_per_s_per_core": len(reps) / cpu,
                "wall_s_per_view": wall / len(reps),
            }
        )
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description="Benchmark the mock renderer and the stretch (one core).")
    parser.add_argument("--sizes", type=at_least(16), nargs="+", default=[2000, 500], help="view sides (px)")
    parser.add_argument("--views", type=at_least(2), default=5, help="views per size; the first is a warm-up")
    parser.add_argument("--seed", type=int, default=2019)
    args = parser.parse_args(argv)
    rows = bench(tuple(args.sizes), args.views, args.seed)
    print(f"{'step':12s} {'size':>14s} {'views':>6s} {'CPU s/view':>11s} {'views/s/core':>13s} {'wall s/view':>12s}")
    for r in rows:
        print(
            f"{r['step']:12s} {r['size']:>14s} {r['views']:6d} {r['cpu_s_per_view']:11.3f} "
            f"{r['views_per_s_per_core']:13.2f} {r['wall_s_per_view']:12.3f}"
        )


if __name__ == "__main__":
    main()
