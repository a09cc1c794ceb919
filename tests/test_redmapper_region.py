"""The redMaPPer comparison region, and the cluster-level re-splits (k-fold, cluster split)."""

import numpy as np
import pytest
from astropy.table import Table

from deepcee.core.errors import DeepCeeError
from deepcee.evaluate import folds
from deepcee.evaluate.redmapper_region import box_area_deg2, in_box, select_region


def _cat(rows):
    return Table(rows=rows, names=("id", "ra", "dec", "z"))


REGION = {"ra_min": 133.0, "ra_max": 143.7, "dec_min": 5.0, "dec_max": 15.0}


def test_area_of_default_box_is_about_105_deg2():
    assert box_area_deg2(**REGION) == pytest.approx(105.2, abs=0.1)
    assert box_area_deg2(0, 360, -90, 90) == pytest.approx(41252.96, rel=1e-5)
    assert box_area_deg2(350, 10, 0, 10) == pytest.approx(box_area_deg2(0, 20, 0, 10))


def test_in_box_wraps_ra():
    assert list(in_box([355, 5, 20], [1, 1, 1], 350, 10, 0, 5)) == [True, True, False]


def test_select_region_cuts_and_exclusions():
    rm = _cat(
        [
            ("A", 135.0, 10.0, 0.15),  # kept
            ("B", 136.0, 10.0, 0.25),  # z out
            ("C", 137.0, 10.0, 0.10),  # z = 0.1 excluded (strict 0.1 < z < 0.2)
            ("D", 138.0, 10.0, 0.12),  # 1 arcmin from a sample cluster -> excluded
            ("E", 150.0, 10.0, 0.15),  # outside box
            ("F", 139.0, 10.0, 0.18),  # 5 arcmin from a labelled image cluster: kept at 3'
        ]
    )
    sample = _cat([("S1", 138.0, 10.0 + 1 / 60, 0.12)])
    labels = Table({"ra": [139.0], "dec": [10.0 + 5 / 60]})
    out, s = select_region(rm, sample, REGION, labels=labels)
    assert list(out["id"]) == ["A", "F"]
    assert s["n_in_box"] == 5 and s["n_in_box_and_z"] == 3 and s["n_excluded_train_or_test"] == 1
    assert s["excluded_ids"] == ["D"] and s["n_selected"] == 2
    out, s = select_region(rm, sample, REGION, labels=labels, match_radius_arcmin=6.0)
    assert list(out["id"]) == ["A"]
    assert np.all(out["nearest_sample_arcmin"] > 6.0)


def test_empty_region_is_one_line_error():
    rm = _cat([("A", 10.0, 10.0, 0.15)])
    with pytest.raises(DeepCeeError, match="evaluate.redmapper.region"):
        select_region(rm, _cat([("S", 0.0, 0.0, 0.1)]), REGION)


def test_bad_region():
    with pytest.raises(DeepCeeError, match="dec_min"):
        select_region(_cat([("A", 10.0, 10.0, 0.15)]), _cat([]), {**REGION, "dec_min": 20.0})


def test_default_region_on_bundled_redmapper_holds_31(repo):
    """The default region on the bundled real catalogues: 31 kept (paper §3.2: 31), measured.

    The training/test clusters to exclude are the default sample, selected here from the bundled
    Abell and redMaPPer files exactly as the select_catalogue rule does, so the test needs no run.
    """
    import yaml

    from deepcee.catalogue.select import load_sources, read_redmapper_bundled, select_sample

    cfg = yaml.safe_load((repo / "config.yaml").read_text())
    catalogue = {
        **cfg["catalogue"],
        "bundled": {
            "abell": [str(repo / p) for p in cfg["catalogue"]["bundled"]["abell"]],
            "redmapper": str(repo / cfg["catalogue"]["bundled"]["redmapper"]),
        },
    }
    parent, _, _ = load_sources(catalogue, None, None)
    sample, _ = select_sample(parent, catalogue)
    rm = read_redmapper_bundled(catalogue["bundled"]["redmapper"])
    r = cfg["evaluate"]["redmapper"]
    out, s = select_region(rm, sample, r["region"], r["z_min"], r["z_max"], r["match_radius_arcmin"])
    assert s["n_selected"] == 31 and s["n_excluded_train_or_test"] == 5
    assert len(out) == 31


# --- re-splits ---------------------------------------------------------------------------------
def _labels(n_clusters=10, views=2):
    rows = []
    for c in range(n_clusters):
        for k in range(views):
            split = "test" if (c + k) % 5 == 0 else "train"
            rows.append((f"C{c}_v{k}", f"C{c}", split, False))
            if split == "train":
                rows.append((f"C{c}_v{k}_flip", f"C{c}", "train", True))
    return Table(rows=rows, names=("view", "cluster_id", "split", "flipped"))


def test_random_split_leaks_but_cluster_split_does_not():
    labels = _labels()
    assert folds.leaks(labels)  # the paper's image-level split shares clusters
    cs = folds.cluster_split_labels(labels, seed=1)
    assert not folds.leaks(cs)
    assert not np.any(np.asarray(cs["flipped"]) & (np.asarray(cs["split"]) == "test"))
    assert 1 <= len({c for c, s in zip(cs["cluster_id"], cs["split"]) if s == "test"}) < 10
    again = folds.cluster_split_labels(labels, seed=1)
    assert list(again["split"]) == list(cs["split"])


def test_kfold_partitions_clusters():
    labels = _labels()
    k = 3
    sets = folds.kfold_test_clusters(labels, k, seed=7)
    assert sorted(len(s) for s in sets) == [3, 3, 4]
    assert set().union(*sets) == {f"C{c}" for c in range(10)}
    for fold in range(k):
        lab = folds.kfold_labels(labels, k, fold, seed=7)
        assert not folds.leaks(lab)
        test_clusters = {c for c, s in zip(lab["cluster_id"], lab["split"]) if s == "test"}
        assert test_clusters == sets[fold]
        assert not np.any(np.asarray(lab["flipped"]) & (np.asarray(lab["split"]) == "test"))
    with pytest.raises(DeepCeeError, match="kfold.k"):
        folds.kfold_test_clusters(labels, 11, seed=7)
    with pytest.raises(DeepCeeError, match="kfold.k"):
        folds.kfold_test_clusters(labels, 1, seed=7)
