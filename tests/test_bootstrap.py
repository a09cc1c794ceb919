"""Bootstrap intervals: per-image shares add up to the sweep, clusters are drawn whole, seeds repeat."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table

from deepcee.evaluate import bootstrap, metrics


def _matched():
    """Four test images of three clusters (c2 seen twice); boxes with known scores and distances."""
    truth = Table(rows=[("v0", "c0"), ("v1", "c1"), ("v2a", "c2"), ("v2b", "c2")], names=("view", "cluster_id"))
    preds = Table(
        rows=[  # truth_index, score, distance_kpc
            (0, 0.95, 20.0),
            (0, 0.90, 60.0),
            (0, 0.85, 800.0),
            (1, 0.40, 30.0),
            (1, 0.92, 700.0),
            (2, 0.88, 90.0),
            (3, 0.10, 10.0),
            (3, 0.97, 400.0),
            (3, 0.99, 1500.0),
        ],
        names=("truth_index", "score", "distance_kpc"),
    )
    return preds, truth


def _counts(rows, n):
    c = metrics.counts_at(rows, n, 50.0, 100.0, "greater")
    return c.tp, c.fp, c.fn


def _centre(rows, n):
    rows = rows.copy()
    rows["pred_index"] = np.arange(len(rows))
    return float(metrics.tp_centres(rows, n, 50.0, 100.0, "greater")["distance_kpc"][0])


def test_shares_add_up_to_the_sweep_row():
    preds, truth = _matched()
    shares = bootstrap.image_shares(preds, truth, _counts, _centre)
    whole = metrics.counts_at(preds, len(truth), 50.0, 100.0, "greater")
    assert (shares.tp.sum(), shares.fp.sum(), shares.fn.sum()) == (whole.tp, whole.fp, whole.fn)
    assert shares.tp.tolist() == [1, 0, 1, 0]
    assert shares.distance_kpc[0] == pytest.approx(20.0)  # the highest-scoring box within 100 kpc
    assert np.isnan(shares.distance_kpc[1])


def test_intervals_hold_the_estimate_and_repeat_with_the_seed():
    preds, truth = _matched()
    shares = bootstrap.image_shares(preds, truth, _counts, _centre)
    ci = bootstrap.intervals(shares, seed=7, what="test", n_boot=500)
    p, r, f = metrics.precision_recall_f1(shares.tp.sum(), shares.fp.sum(), shares.fn.sum())
    for name, value in (("precision", p), ("recall", r), ("f1", f)):
        lo, hi = ci[name]
        assert 0.0 <= lo <= value <= hi <= 1.0
    assert ci["n_clusters"] == 3 and ci["unit"] == "cluster"
    assert ci == bootstrap.intervals(shares, seed=7, what="test", n_boot=500)
    assert ci != bootstrap.intervals(shares, seed=8, what="test", n_boot=500)


def test_clusters_are_drawn_whole():
    """Images of one cluster always enter a replicate the same number of times."""
    weights = bootstrap._draw_counts(np.array(["a", "b", "b", "c", "b"]), n_boot=200, seed=1, what="w")
    assert weights.shape == (200, 5)
    assert (weights[:, 1] == weights[:, 2]).all() and (weights[:, 2] == weights[:, 4]).all()
    assert (weights[:, [0, 1, 3]].sum(axis=1) == 3).all()  # three clusters drawn per replicate


def test_all_found_gives_a_degenerate_interval():
    shares = bootstrap.ImageShares(
        tp=np.ones(5, int),
        fp=np.zeros(5, int),
        fn=np.zeros(5, int),
        distance_kpc=np.full(5, 30.0),
        groups=np.array(list("abcde")),
    )
    ci = bootstrap.intervals(shares, seed=3, what="x", n_boot=100)
    assert ci["f1"] == [1.0, 1.0]
    assert ci["sigma_kpc"] == pytest.approx([30.0, 30.0])
