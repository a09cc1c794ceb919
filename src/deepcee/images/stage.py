"""The image stage as a few calls the rule scripts make (sharded; docs/design.md §1, docs/contracts.md).

Every function takes its folders from the caller, so the redMaPPer comparison reuses them
for results/05_redmapper/ with another catalogue.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from astropy.table import Table
from tqdm import tqdm

from deepcee.core.contracts import write_summary
from deepcee.core.errors import DeepCeeError
from deepcee.core.files import write_json
from deepcee.core.integrity import seal_directory
from deepcee.images.labels import flip_row, label_view, labels_table
from deepcee.images.split import flip_png
from deepcee.images.stretch import stretch_fits
from deepcee.images.views import is_negative, plan_views, read_views, real_offset_factor, shard_views, write_views


def make_views(catalogue_path, out_path, images_cfg: dict, seed: int) -> Table:
    from deepcee.catalogue.select import read_catalogue
    from deepcee.core.sdss import field_folders, field_name

    cat = read_catalogue(catalogue_path)
    mock = images_cfg.get("mock", {})
    views = plan_views(
        cat,
        int(images_cfg["views_per_cluster"]),
        float(images_cfg["max_offset_arcsec"]),
        seed,
        int(images_cfg["shards"]),
        where=str(catalogue_path),
        split=images_cfg.get("split"),
        real_background_fraction=float(mock.get("real_background_fraction", 0.0)),
        real_fields=[field_name(f) for f in field_folders(mock.get("blank_frames"))],
        real_offset=real_offset_factor(
            int(mock.get("real_view_pixels", 350)),
            int(images_cfg.get("pixels", 500)),
            float(images_cfg.get("pixel_scale_arcsec", 1.584)),
            float(images_cfg["max_offset_arcsec"]),
        ),
        negative_fraction=_negative_fraction(images_cfg),
    )
    views.meta["catalogue"] = str(catalogue_path)
    write_views(views, out_path)
    return views


def _negative_fraction(images_cfg: dict) -> float:
    """``images.mock.negative_fraction``: hard negatives are crops of real fields, rendered by the mock only."""
    fraction = float(images_cfg.get("mock", {}).get("negative_fraction", 0.0))
    if fraction > 0 and images_cfg.get("source", "mock") != "mock":
        raise DeepCeeError(
            "images.mock.negative_fraction: hard negatives are crops of the bundled real fields, rendered "
            f"by images.source: mock (this config's source is {images_cfg.get('source')!r})"
        )
    return fraction


def acquire_shard(
    views_path,
    shard: int,
    fits_dir,
    manifest_path,
    images_cfg: dict,
    seed: int,
    source: str | None = None,
    truth_path=None,
    sky_catalogues: dict | None = None,
    real_fields: dict | None = None,
    galaxy_library: tuple[str, str] | None = None,
) -> dict:
    """Render (mock) or download (skyview) every view of one shard; write its manifest last.

    ``truth_path`` (mock only): an ECSV of every rendered object of the shard's views with its
    sky position, magnitude, redshift and membership (``mock.render.TRUTH_COLUMNS``), for the case
    studies (paper Figs 8-11) and the false-positive breakdown. ``sky_catalogues`` (mock only):
    the bundled catalogues the one mock sky holds (``images.mock.render.sky_for_views``).
    ``galaxy_library`` (mock only): the real-galaxy library's (table, stamps) files, for views whose
    members are real galaxies (``images.mock.render.member_kind``).
    """
    source = source or images_cfg["source"]
    views = shard_views(read_views(views_path), shard)
    fits_dir = Path(fits_dir)
    files, infos, truths = [], [], []
    t0 = time.perf_counter()
    sky = None
    if source == "mock":
        from deepcee.images.mock.render import render_view_to_fits, sky_for_views, view_background

        if any(view_background(v, images_cfg["mock"]) == "synthetic" for v in views):
            sky = sky_for_views(views, images_cfg, seed, sky_catalogues)
    for row in tqdm(views, desc=f"{source} shard {shard}", unit="view", mininterval=5):
        out = fits_dir / f"{row['view']}.fits"
        if source == "mock":
            info = render_view_to_fits(
                row, images_cfg, seed, out, sky=sky, real_fields=real_fields, galaxy_library=galaxy_library
            )
            truths.append(info.pop("truth"))
            infos.append(
                {"view": str(row["view"]), **{k: v for k, v in info.items() if k != "cluster_x" and k != "cluster_y"}}
            )
        elif source == "skyview":
            from deepcee.images.fits import fetch_skyview_view

            fetch_skyview_view(row, images_cfg, out)
        else:
            raise DeepCeeError(f"config key 'images.source': unknown source {source!r}")
        files.append({"view": str(row["view"]), "fits": str(out)})
    seconds = time.perf_counter() - t0
    if truth_path is not None:
        from astropy.table import vstack

        from deepcee.core.contracts import rows_table, write_table

        if source != "mock":
            raise DeepCeeError(f"{truth_path}: a truth table exists only for images.source: mock")
        table = vstack(truths) if truths else rows_table("truth", [])
        table.meta.update({"shard": int(shard), "source": source})
        write_table("truth", table, truth_path)
    manifest = {
        "shard": int(shard),
        "source": source,
        "n_views": len(files),
        "files": files,
        "seconds": round(seconds, 3),
        "views_per_s": round(len(files) / seconds, 3) if seconds > 0 else None,
        "render_info": infos,
        # each file's size and sha256: a FITS deleted or edited by hand reruns this shard (core.integrity)
        "seal": seal_directory(fits_dir),
    }
    write_json(manifest_path, manifest)
    return manifest


def stretch_shard(views_path, shard: int, fits_dir, png_dir, manifest_path, images_cfg: dict) -> dict:
    limits = images_cfg["stretch"]["limits"]
    size = int(images_cfg["stretch"]["output_size"])
    views = shard_views(read_views(views_path), shard)
    files = []
    t0 = time.perf_counter()
    pixels = images_cfg.get("pixels")
    for row in tqdm(views, desc=f"stretch shard {shard}", unit="view", mininterval=5):
        fits_path = Path(fits_dir) / f"{row['view']}.fits"
        png = Path(png_dir) / f"{row['view']}.png"
        rgb = stretch_fits(fits_path, png, limits, size, pixels)
        files.append({"view": str(row["view"]), "fits": str(fits_path), "png": str(png), "size": int(rgb.shape[1])})
    seconds = time.perf_counter() - t0
    manifest = {
        "shard": int(shard),
        "n_views": len(files),
        "files": files,
        "output_size": size,
        "limits": limits,
        "seconds": round(seconds, 3),
        "seal": seal_directory(png_dir),  # as acquire_shard's
    }
    write_json(manifest_path, manifest)
    return manifest


def build_labels(
    views_path,
    png_manifests,
    labels_path,
    summary_path,
    images_cfg: dict,
    seed: int,
    fits_manifests=(),
    flip_dir=None,
    threads: int = 1,
    negatives_path=None,
) -> Table:
    """Split, flip the training PNGs, write labels.ecsv and the stage summary.

    The flipped copies go to ``flip_dir`` (the rule's own directory output, so Snakemake
    tracks and replaces them); without it, next to each PNG. ``threads`` PNGs are encoded at
    once (Pillow's encoder releases the GIL; encoding is most of this job's time). The hard
    negatives (``views.is_negative``: no cluster, no box) are no label row: they go, with their
    flipped copies, to ``negatives_path`` (the ``negatives`` contract), empty where there are none.
    """
    import json
    from concurrent.futures import ThreadPoolExecutor

    if flip_dir is not None:
        Path(flip_dir).mkdir(parents=True, exist_ok=True)

    views = read_views(views_path)
    size = int(images_cfg["stretch"]["output_size"])
    box_kpc = float(images_cfg["labels"]["box_kpc"])
    by, frac = images_cfg["split"]["by"], float(images_cfg["split"]["test_fraction"])
    hflip = bool(images_cfg["augment"]["hflip"])
    pngs = {}
    for m in png_manifests:
        for f in json.loads(Path(m).read_text())["files"]:
            pngs[f["view"]] = f
    missing = [v for v in views["view"] if v not in pngs]
    if missing:
        raise DeepCeeError(f"labels: view {missing[0]} has no PNG in the stretch manifests")
    split = {str(v): str(s) for v, s in zip(views["view"], views["split"])}  # fixed by the views plan
    rows = []
    flips = []
    sides = []  # each row's PNG side
    negatives = []
    for view in tqdm(views, desc="labels", unit="view", mininterval=5):
        f = pngs[str(view["view"])]
        if not Path(f["png"]).is_file():
            raise DeepCeeError(
                f"{f['png']}: PNG of view {view['view']} is missing; run again with "
                f"--forcerun images_stretch_shard (or delete its folder) to re-create it"
            )
        side = int(f.get("size", size))  # a view over a real field is a smaller square (png_side)
        flip_path = str(
            (Path(flip_dir) if flip_dir is not None else Path(f["png"]).parent) / f"{view['view']}_flip.png"
        )
        if is_negative(view):  # (view, png, fits, split, flipped): the negatives contract
            negatives.append((str(view["view"]), f["png"], f["fits"], "train", False))
            if hflip:
                flips.append((f["png"], flip_path))
                negatives.append((f"{view['view']}_flip", flip_path, f["fits"], "train", True))
            continue
        row = label_view(view, f["fits"], f["png"], side, box_kpc)
        row["split"] = split[row["view"]]
        rows.append(row)
        sides.append(side)
        if hflip and row["split"] == "train":
            flips.append((f["png"], flip_path))
            rows.append(flip_row(row, side, flip_path))
            sides.append(side)
    with ThreadPoolExecutor(max_workers=max(1, int(threads))) as pool:
        list(pool.map(lambda pair: flip_png(*pair), flips))  # list(): the first error is raised here
    table = labels_table(
        rows, meta={"box_kpc": box_kpc, "output_size": size, "split_by": by, "test_fraction": frac, "seed": seed}
    )
    from deepcee.core.contracts import rows_table, write_table

    write_table("labels", table, labels_path)
    if negatives_path is not None:
        write_table("negatives", rows_table("negatives", negatives), negatives_path)
    split_arr = np.asarray(table["split"])
    flipped = np.asarray(table["flipped"], dtype=bool)
    train_clusters = set(np.asarray(table["cluster_id"])[split_arr == "train"])
    test_clusters = set(np.asarray(table["cluster_id"])[split_arr == "test"])
    timing = {}
    for m in fits_manifests:
        d = json.loads(Path(m).read_text())
        timing.setdefault("acquire_seconds", 0.0)
        timing["acquire_seconds"] += d.get("seconds", 0.0)
        timing["source"] = d.get("source")
    counts = {
        "clusters": int(len(set(views["cluster_id"]))),
        "views": int(len(views)),
        "images": int(len(table)),
        "train_images": int((split_arr == "train").sum()),
        "train_unflipped": int(((split_arr == "train") & ~flipped).sum()),
        "train_flipped": int(flipped.sum()),
        "test_images": int((split_arr == "test").sum()),
        "clusters_in_both": int(len(train_clusters & test_clusters)),
        "boxes_clipped": int(
            np.sum(
                (np.asarray(table["x0"]) <= 0)
                | (np.asarray(table["y0"]) <= 0)
                | (np.asarray(table["x1"]) >= np.asarray(sides) - 1)
                | (np.asarray(table["y1"]) >= np.asarray(sides) - 1)
            )
        ),
        "real_field_images": int(np.sum(np.asarray(sides) != size)),
        "train_negatives": len(negatives),
    }
    write_summary(summary_path, counts, config={"seed": seed, "images": images_cfg}, stage="images", **timing)
    return table
