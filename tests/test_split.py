"""Views plan, split and augmentation, and the stage end to end on a tiny mock."""

from __future__ import annotations

import json

import numpy as np
from astropy.table import Table

from deepcee.images.split import assign_split
from deepcee.images.views import plan_views
from images_helpers import small_catalogue, small_images_cfg


def test_views_offsets_uniform_and_deterministic():
    cat = small_catalogue(4)
    a = plan_views(cat, 4, 270.0, seed=1, shards=3)
    b = plan_views(cat[::-1], 4, 270.0, seed=1, shards=3)
    assert len(a) == 16 and list(a["view"][:2]) == ["T0_v0", "T0_v1"]
    assert np.all(np.abs(a["offset_ra_arcsec"]) <= 270) and np.all(np.abs(a["offset_dec_arcsec"]) <= 270)
    b.sort("view")
    a.sort("view")
    assert np.allclose(a["offset_ra_arcsec"], b["offset_ra_arcsec"])  # independent of order
    c = plan_views(cat, 4, 270.0, seed=2, shards=3)
    c.sort("view")
    assert not np.allclose(a["offset_ra_arcsec"], c["offset_ra_arcsec"])
    # one cluster -> one shard
    for cid in set(a["cluster_id"]):
        assert len(set(a["shard"][a["cluster_id"] == cid])) == 1


def test_split_by_cluster_never_shares_a_cluster():
    views = [f"C{k}_v{j}" for k in range(50) for j in range(4)]
    clusters = [v.split("_")[0] for v in views]
    s = assign_split(views, clusters, "cluster", 0.1, seed=5)
    train = {c for v, c in zip(views, clusters) if s[v] == "train"}
    test = {c for v, c in zip(views, clusters) if s[v] == "test"}
    assert not train & test and len(test) == 5
    s2 = assign_split(views, clusters, "view", 0.1, seed=5)
    assert sum(x == "test" for x in s2.values()) == 20
    assert s2 == assign_split(views, clusters, "view", 0.1, seed=5)


def test_stage_end_to_end_tiny(tmp_path):
    from deepcee.catalogue.select import write_catalogue
    from deepcee.images import stage as S

    cfg = small_images_cfg(split={"by": "cluster", "test_fraction": 0.34})
    write_catalogue(small_catalogue(3), tmp_path / "sample.ecsv")
    S.make_views(tmp_path / "sample.ecsv", tmp_path / "views.ecsv", cfg, 11)
    fm, pm = [], []
    for k in range(2):
        fm.append(tmp_path / f"manifests/fits_{k}.json")
        pm.append(tmp_path / f"manifests/png_{k}.json")
        S.acquire_shard(tmp_path / "views.ecsv", k, tmp_path / "fits", fm[-1], cfg, 11)
        S.stretch_shard(tmp_path / "views.ecsv", k, tmp_path / "fits", tmp_path / "png", pm[-1], cfg)
    labels = S.build_labels(
        tmp_path / "views.ecsv", pm, tmp_path / "labels.ecsv", tmp_path / "summary.json", cfg, 11, fm
    )
    t = Table.read(tmp_path / "labels.ecsv", format="ascii.ecsv")
    assert len(t) == len(labels)
    flipped = np.asarray(t["flipped"], dtype=bool)
    assert np.all(np.asarray(t["split"])[flipped] == "train")
    n_train = int(np.sum((np.asarray(t["split"]) == "train") & ~flipped))
    assert flipped.sum() == n_train  # every training image flipped once, test never
    for row in t[flipped]:
        assert (tmp_path / "png" / f"{row['view']}.png").exists()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["counts"]["clusters_in_both"] == 0 and summary["counts"]["views"] == 6
    assert "config_hash" in summary and "galsim" in summary["software"]
