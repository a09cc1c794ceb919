"""Re-splitting the labelled images beyond the paper: a cluster-level split and k folds.

The paper split its 1,988 images at random, so one cluster can be in the training set
at one offset and in the test set at another (its own §4.1 names k-fold cross
validation as the fix). Both functions here work on ``labels.ecsv`` and return a new
labels table of the same schema with ``split`` re-assigned, grouping ALL views of a
cluster (and their flipped copies) into the same side:

* rows of a test cluster keep only their un-flipped views (test rows are never flipped);
* rows of a training cluster keep their un-flipped views and whatever flipped copies
  the image stage made of them (``<view>_flip``). Views that were test images in the
  image stage have no flipped copy, so a fold's training set holds fewer flips than the
  main one — stated in docs/deviations.md ("Fold models").

Assignments come from ``deepcee.core.seeds.rng(seed, "folds", ...)``: same seed, same folds.
"""

from __future__ import annotations

import numpy as np
from astropy.table import Table

from deepcee.core.errors import DeepCeeError
from deepcee.core.seeds import rng


def _clusters(labels: Table, what: str) -> list[str]:
    for name in ("view", "cluster_id", "split"):
        if name not in labels.colnames:
            raise DeepCeeError(f"{what}: missing column '{name}'")
    if len(labels) == 0:
        raise DeepCeeError(f"{what}: no labelled images")
    return sorted({str(c) for c in labels["cluster_id"]})


def _flipped(labels: Table) -> np.ndarray:
    if "flipped" in labels.colnames:
        return np.asarray(labels["flipped"], dtype=bool)
    return np.asarray([str(v).endswith("_flip") for v in labels["view"]], dtype=bool)


def assign(labels: Table, test_clusters: set[str]) -> Table:
    """A copy of ``labels`` where the views of ``test_clusters`` are test, the rest train."""
    flipped = _flipped(labels)
    is_test = np.asarray([str(c) in test_clusters for c in labels["cluster_id"]], dtype=bool)
    keep = ~(is_test & flipped)
    out = labels[keep].copy()
    out.replace_column("split", np.where(is_test[keep], "test", "train"))
    return out


def kfold_test_clusters(labels: Table, k: int, seed: int, what: str = "labels.ecsv") -> list[set[str]]:
    """``k`` disjoint sets of cluster ids (sizes differ by at most one) covering every cluster."""
    clusters = _clusters(labels, what)
    if k < 2:
        raise DeepCeeError(f"evaluate.kfold.k: need k >= 2 folds (got {k})")
    if k > len(clusters):
        raise DeepCeeError(f"evaluate.kfold.k: {k} folds but only {len(clusters)} clusters in {what}")
    order = rng(seed, "folds", "kfold", k).permutation(len(clusters))
    return [{clusters[j] for j in order[i::k]} for i in range(k)]


def kfold_labels(labels: Table, k: int, fold: int, seed: int, what: str = "labels.ecsv") -> Table:
    """Labels for fold ``fold`` of ``k``: that fold's clusters are the test set."""
    if not 0 <= fold < k:
        raise DeepCeeError(f"k-fold: fold {fold} is not in 0..{k - 1}")
    out = assign(labels, kfold_test_clusters(labels, k, seed, what)[fold])
    out.meta.update({"split_by": "cluster", "kfold_k": k, "kfold_fold": fold, "seed": seed})
    return out


def cluster_split_labels(
    labels: Table, seed: int, test_fraction: float | None = None, what: str = "labels.ecsv"
) -> Table:
    """A cluster-level hold-out split with (about) the image stage's test fraction.

    Uses the image stage's own ``deepcee.images.split.assign_split(..., by="cluster")``, so it
    is exactly the split that ``images.split.by: cluster`` would have made with the same
    seed and fraction. ``test_fraction`` defaults to the fraction of un-flipped images
    that are test rows in ``labels`` (the paper's ~10 %).
    """
    from deepcee.images.split import assign_split

    _clusters(labels, what)
    flipped = _flipped(labels)
    base = labels[~flipped]
    if test_fraction is None:
        test_fraction = float(np.mean([str(s) == "test" for s in base["split"]]))
    if not 0 < test_fraction < 1:
        raise DeepCeeError(f"{what}: cluster split needs a test fraction in (0, 1) (got {test_fraction})")
    split = assign_split(
        [str(v) for v in base["view"]], [str(c) for c in base["cluster_id"]], "cluster", float(test_fraction), int(seed)
    )
    test_clusters = {str(c) for v, c in zip(base["view"], base["cluster_id"]) if split[str(v)] == "test"}
    out = assign(labels, test_clusters)
    out.meta.update({"split_by": "cluster", "test_fraction": test_fraction, "seed": seed})
    return out


def leaks(labels: Table) -> set[str]:
    """Cluster ids that have views on both sides of the split (empty for a cluster split)."""
    train = {str(c) for c, s in zip(labels["cluster_id"], labels["split"]) if str(s) == "train"}
    test = {str(c) for c, s in zip(labels["cluster_id"], labels["split"]) if str(s) == "test"}
    return train & test
