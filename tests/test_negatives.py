"""Hard negatives (images.mock.negative_fraction): real training crops with nothing in them, no box.

The plan adds one ``<id>_n0`` view to a share of the training clusters; the render draws the bare
crop; the labels stage lists them (and their flips) in negatives.ecsv, never in labels.ecsv; the
training takes them as images with an empty target."""

from __future__ import annotations

import json

import numpy as np
import pytest
from astropy.table import Table

from deepcee.core.contracts import read_table, rows_table, write_table
from deepcee.core.errors import DeepCeeError
from deepcee.images.views import is_negative, plan_views
from images_helpers import BLANK, prepared_fields, small_catalogue, small_images_cfg

SPLIT = {"by": "cluster", "test_fraction": 0.25}
FIELDS = ["fieldA", "fieldB", "fieldC"]


def test_a_share_of_the_training_clusters_gets_one_negative_view():
    cat = small_catalogue(40)
    plan = plan_views(cat, 1, 100.0, seed=2, split=SPLIT, negative_fraction=0.5, real_fields=FIELDS)
    names = np.asarray(plan["view"], dtype=str)
    negative = np.array([is_negative(row) for row in plan])
    assert negative.sum() == np.char.endswith(names, "_n0").sum()
    train_clusters = set(np.asarray(plan["cluster_id"])[(np.asarray(plan["split"]) == "train") & ~negative])
    neg = plan[negative]
    assert 0 < len(neg) < len(train_clusters) and set(neg["cluster_id"]) <= train_clusters
    assert set(neg["split"]) == {"train"} and set(neg["background"]) == {"sdss_blank"}
    assert set(neg["field"]) <= set(FIELDS) and set(neg["members"]) == {"blank"}
    assert set(np.asarray(plan["members"])[~negative]) == {""}  # the others: images.mock.members decides
    # the positives are the plan without negatives, row for row
    plain = plan_views(cat, 1, 100.0, seed=2, split=SPLIT, real_fields=FIELDS)
    assert list(plain["view"]) == list(names[~negative]) and "members" not in plain.colnames
    again = plan_views(cat, 1, 100.0, seed=2, split=SPLIT, negative_fraction=0.5, real_fields=FIELDS)
    assert list(again["view"]) == list(plan["view"]) and list(again["field"]) == list(plan["field"])
    with pytest.raises(DeepCeeError, match="no real field"):
        plan_views(cat, 1, 100.0, seed=2, split=SPLIT, negative_fraction=0.5)


def test_negatives_are_rendered_bare_and_listed_apart_from_the_labels(tmp_path):
    from deepcee.catalogue.select import write_catalogue
    from deepcee.images import stage as S
    from deepcee.images.mock.real_fields import field_files

    fields = prepared_fields(tmp_path / "fields")
    manifest = tmp_path / "fields.json"
    manifest.write_text(json.dumps({"fields": [{"field": k, "fits": v} for k, v in fields.items()]}))
    cfg = small_images_cfg(
        split=SPLIT,
        views_per_cluster=1,
        mock={"mag_limit": 20.0, "blank_frames": str(BLANK), "real_view_pixels": 96, "negative_fraction": 1.0},
    )
    write_catalogue(small_catalogue(4), tmp_path / "sample.ecsv")
    views = S.make_views(tmp_path / "sample.ecsv", tmp_path / "views.ecsv", cfg, 11)
    n_neg = int(np.char.endswith(np.asarray(views["view"], dtype=str), "_n0").sum())
    assert n_neg == int(np.sum(np.asarray(views["split"]) == "train")) - n_neg > 0  # one per training cluster
    fm, pm = [], []
    for k in range(2):
        fm.append(tmp_path / f"manifests/fits_{k}.json")
        pm.append(tmp_path / f"manifests/png_{k}.json")
        S.acquire_shard(
            tmp_path / "views.ecsv", k, tmp_path / "fits", fm[-1], cfg, 11, real_fields=field_files(str(manifest))
        )
        S.stretch_shard(tmp_path / "views.ecsv", k, tmp_path / "fits", tmp_path / "png", pm[-1], cfg)
    infos = {i["view"]: i for m in fm for i in json.loads(m.read_text())["render_info"]}
    for name in np.asarray(views["view"], dtype=str):
        if name.endswith("_n0"):
            assert infos[name]["members"] == "blank" and infos[name]["cluster"] == 0
    S.build_labels(
        tmp_path / "views.ecsv",
        pm,
        tmp_path / "labels.ecsv",
        tmp_path / "summary.json",
        cfg,
        11,
        fm,
        flip_dir=tmp_path / "flips",
        negatives_path=tmp_path / "negatives.ecsv",
    )
    labels = Table.read(tmp_path / "labels.ecsv", format="ascii.ecsv")
    assert not any(str(v).startswith(tuple(f"{c}_n0" for c in views["cluster_id"])) for v in labels["view"])
    negatives = read_table("negatives", tmp_path / "negatives.ecsv")
    assert len(negatives) == 2 * n_neg  # each with its flipped copy
    assert set(negatives["split"]) == {"train"} and int(np.sum(negatives["flipped"])) == n_neg
    assert all((tmp_path / "flips" / f"{v}.png").is_file() for v in negatives["view"] if str(v).endswith("_flip"))
    assert json.loads((tmp_path / "summary.json").read_text())["counts"]["train_negatives"] == 2 * n_neg


def test_training_takes_negatives_as_images_without_a_box(tmp_path):
    from deepcee.detector.dataset import DetectionDataset, read_negatives, write_synthetic_set
    from deepcee.detector.training import train

    labels = write_synthetic_set(tmp_path / "syn", n=4, size=96, seed=1, n_test=1, fits_binning=1)
    pngs = sorted((tmp_path / "syn").rglob("*.png"))[:2]
    path = tmp_path / "negatives.ecsv"
    write_table("negatives", rows_table("negatives", [(p.stem, str(p), "", "train", False) for p in pngs]), path)
    negatives = read_negatives(path)
    image, target = DetectionDataset(negatives)[0]
    assert target["boxes"].shape == (0, 4) and len(target["labels"]) == 0 and image.shape[0] == 3
    cfg = {"steps": 4, "batch_size": 2, "workers": 0, "checkpoint_every": 2, "device": "cpu"}
    common = dict(threads=1, log=lambda m: None)
    with_neg = train(
        cfg, 7, labels, tmp_path / "a.pt", tmp_path / "a.csv", tmp_path / "ck", negatives_path=path, **common
    )
    without = train(cfg, 7, labels, tmp_path / "b.pt", tmp_path / "b.csv", tmp_path / "ck", **common)
    assert with_neg["counts"]["train_images"] == without["counts"]["train_images"] + 2
    # another training set: its own checkpoint folder, never resumed from the other's
    assert len([p for p in (tmp_path / "ck").iterdir() if p.is_dir()]) == 2


def test_the_views_rule_plans_the_configured_negatives(repo, tmp_path):
    """The workflow's images_views job hands images.mock.negative_fraction to the plan."""
    from deepcee.bench.workflow import copy_workflow
    from snakemake_run import run_snakemake

    work = copy_workflow(repo, tmp_path / "workflow")
    (work / "neg.yaml").write_text("images:\n  mock:\n    negative_fraction: 0.25\n")
    target = "results/02_images/views.ecsv"
    result = run_snakemake(work, target, "--cores", "2", "--quiet", "--configfile", "neg.yaml", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    views = Table.read(work / target, format="ascii.ecsv")
    negative = np.array([is_negative(row) for row in views])
    assert negative.sum() > 0 and views.meta["negative_fraction"] == 0.25


def test_negatives_need_the_mock(tmp_path):
    from deepcee.catalogue.select import write_catalogue
    from deepcee.images import stage as S

    write_catalogue(small_catalogue(4), tmp_path / "sample.ecsv")
    cfg = small_images_cfg(source="skyview", mock={"blank_frames": str(BLANK), "negative_fraction": 0.5})
    with pytest.raises(DeepCeeError, match="images.mock.negative_fraction: hard negatives are crops"):
        S.make_views(tmp_path / "sample.ecsv", tmp_path / "views.ecsv", cfg, 11)
    assert not (tmp_path / "views.ecsv").exists()
