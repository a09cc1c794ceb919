"""Metrics: hand-made cases and the paper's own Tables 2 and 3 (Chan & Stott 2019)."""

import math

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table

from deepcee.core.cosmology import COSMO, kpc_per_arcsec
from deepcee.core.errors import DeepCeeError
from deepcee.evaluate import metrics

# --- the paper's Table 2 (test set) and Table 3 (redMaPPer set), copied verbatim -------------
# threshold, TP, FP, FN, precision, recall, F1 (as printed)
PAPER_TABLE2 = """\
0 203 60997 1 0.003317 0.9951 0.006612
10 198 538 6 0.2690 0.9706 0.4213
20 197 391 7 0.3350 0.9657 0.4975
30 193 302 11 0.3899 0.9461 0.5522
40 191 243 13 0.4401 0.9363 0.5987
50 188 202 16 0.4821 0.9216 0.6330
60 181 163 23 0.5262 0.8873 0.6606
70 177 119 27 0.5980 0.8676 0.7080
80 165 72 39 0.6962 0.8088 0.7483
90 136 29 68 0.8242 0.6667 0.7371
100 0 0 204 0.00 0.00 0.00"""

PAPER_TABLE3 = """\
0 30 9270 1 0.003226 0.9677 0.006430
10 29 50 2 0.3671 0.9355 0.5273
20 29 29 2 0.50 0.9355 0.6517
30 29 23 2 0.5577 0.9355 0.6988
40 28 18 3 0.6087 0.9032 0.7273
50 28 14 3 0.6667 0.9032 0.7671
60 28 11 3 0.7179 0.9032 0.80
70 27 8 4 0.7714 0.8710 0.8182
80 23 4 8 0.8519 0.7419 0.7931
90 17 0 14 1.00 0.5484 0.7083
100 0 0 31 0.00 0.00 0.00"""


def _parse(text):
    return [line.split() for line in text.splitlines()]


def _half_ulp(printed: str) -> float:
    """Half a unit in the last printed place (the rounding tolerance of a printed number)."""
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    return 0.5 * 10 ** (-decimals) + 1e-12


@pytest.mark.parametrize("table,n_truth,best", [(PAPER_TABLE2, 204, 80.0), (PAPER_TABLE3, 31, 70.0)])
def test_paper_tables_recomputed(table, n_truth, best):
    rows = []
    for t, tp, fp, fn, p_txt, r_txt, f_txt in _parse(table):
        tp, fp, fn = int(tp), int(fp), int(fn)
        assert tp + fn == n_truth  # TP + FN = number of test clusters on every row
        p, r, f = metrics.precision_recall_f1(tp, fp, fn)
        for value, printed in ((p, p_txt), (r, r_txt), (f, f_txt)):
            assert abs(value - float(printed)) <= _half_ulp(printed), (t, value, printed)
        rows.append((float(t), tp, fp, fn, p, r, f))
    sweep = Table(rows=rows, names=metrics.SWEEP_COLUMNS)
    assert metrics.choose_threshold(sweep, "best") == best  # paper: 80 % (Table 2), 70 % (Table 3)
    assert metrics.choose_threshold(sweep, 80) == 80.0


@pytest.mark.parametrize("table,n_images", [(PAPER_TABLE2, 204), (PAPER_TABLE3, 31)])
def test_paper_zero_row_recounted_from_300_boxes_per_image(table, n_images):
    """The paper's 0 % row, recounted through ``metrics.sweep`` from 300 boxes on each image.

    Every image but the FN ones gets one box on its cluster; all other boxes lie anywhere
    (some near the found cluster, most far away). The paper's TP and FP must come back,
    which holds only under ``extra_boxes: count_as_fp``.
    """
    tp_pub, fp_pub, fn_pub = (int(v) for v in _parse(table)[0][1:4])
    labels = Table(
        rows=[
            dict(view=f"V{i}", cluster_id=f"C{i}", ra=150.0, dec=10.0 + 0.1 * i, z=Z, split="test")
            for i in range(n_images)
        ]
    )
    rng = np.random.default_rng(1)
    view, ra, dec, score = [], [], [], []
    for i in range(n_images):
        dist = rng.uniform(200.0, 3000.0, 300)  # far from the cluster...
        if i >= fn_pub:
            dist[0] = 10.0  # ...but one box on it
            dist[1:4] = rng.uniform(20.0, 90.0, 3)  # and three more near it
        view += [f"V{i}"] * 300
        ra += [150.0] * 300
        dec += list(10.0 + 0.1 * i + dist / kpc_per_arcsec(Z) / 3600.0)
        score += list(rng.uniform(0.01, 1.0, 300))
    matched = metrics.match_predictions(
        Table(dict(view=view, ra=ra, dec=dec, score=score)), metrics.truth_table(labels)
    )
    row = metrics.sweep(matched, n_images, [0])[0]
    assert (int(row["tp"]), int(row["fp"]), int(row["fn"])) == (tp_pub, fp_pub, fn_pub)
    old = metrics.sweep(matched, n_images, [0], extra_boxes="ignore_near_found")[0]
    assert int(old["fp"]) == fp_pub - 3 * tp_pub  # the older rule drops the near-cluster extras


def test_tp_plus_fp_is_passing_boxes_on_every_row():
    """Known boxes per image (1-40, random scores and places): TP + FP = passing boxes on every row."""
    rng = np.random.default_rng(7)
    n_images = 25
    labels = Table(
        rows=[dict(view=f"V{i}", cluster_id=f"C{i}", ra=30.0 + i, dec=-5.0, z=Z, split="test") for i in range(n_images)]
    )
    per_image = rng.integers(1, 41, n_images)
    rows = []
    for i, k in enumerate(per_image):
        for d, s in zip(rng.uniform(0.0, 400.0, k), rng.uniform(0.0, 1.0, k)):
            rows.append(_pred(f"V{i}", 30.0 + i, -5.0, float(d), float(s)))
    preds = Table(rows=rows)
    res = metrics.evaluate(preds, labels)
    assert res["boxes_per_image"]["total"] == int(per_image.sum())
    assert res["boxes_per_image"]["min"] == int(per_image.min())
    assert res["boxes_per_image"]["max"] == int(per_image.max())
    for r in res["sweep"]:
        passing = int(np.sum(np.asarray(preds["score"]) > r["threshold"] / 100.0))
        assert int(r["tp"]) + int(r["fp"]) == passing, r
        assert int(r["tp"]) + int(r["fn"]) == n_images
    older = metrics.sweep(res["matched"], n_images, extra_boxes="ignore_near_found")
    assert all(int(a["fp"]) == int(b["fp"]) + int(b["duplicates"]) for a, b in zip(res["sweep"], older))
    assert any(int(b["duplicates"]) > 0 for b in older)  # the two rules differ on these data


def test_normalised_zero_row():
    sweep = Table(rows=[(0.0, 203, 31000, 1, 0, 0, 0)], names=metrics.SWEEP_COLUMNS)
    row = metrics.normalised_zero_row(sweep, 204, 300)
    assert (row["tp"], row["fp"], row["fn"]) == (203, 60997, 1)
    assert row["precision"] == pytest.approx(0.003317, abs=5e-7)


def test_extra_boxes_rule_must_be_known():
    truth = metrics.truth_table(_labels())
    m = metrics.match_predictions(_predictions(), truth)
    with pytest.raises(DeepCeeError, match="evaluate.extra_boxes"):
        metrics.sweep(m, 3, extra_boxes="drop")


def test_ks_critical_value_formula():
    assert metrics.ks_critical_value(100, 100, 0.05) == pytest.approx(1.3581 * math.sqrt(2 / 100), rel=1e-4)
    # the paper's sizes (204 test clusters, 165 recovered at 80 %): 0.1422; the paper prints 0.1289
    assert metrics.ks_critical_value(204, 165) == pytest.approx(0.1422, abs=5e-4)


# --- hand-made cases ---------------------------------------------------------------------------
Z = 0.15


def _labels(n=3, extra_train=True):
    rows = []
    for i in range(n):
        rows.append(
            dict(
                view=f"C{i}_v0",
                cluster_id=f"C{i}",
                ra=150.0 + i,
                dec=10.0,
                z=Z,
                richness=30.0 + 10 * i,
                bcg_rmag=np.nan,
                split="test",
                flipped=False,
                offset_ra_arcsec=10.0 * i,
                offset_dec_arcsec=-5.0 * i,
            )
        )
    if extra_train:
        rows.append(
            dict(
                view="T_v0",
                cluster_id="T",
                ra=200.0,
                dec=20.0,
                z=0.12,
                richness=40.0,
                bcg_rmag=np.nan,
                split="train",
                flipped=False,
                offset_ra_arcsec=0.0,
                offset_dec_arcsec=0.0,
            )
        )
        rows.append(
            dict(
                view="T_v0_flip",
                cluster_id="T",
                ra=200.0,
                dec=20.0,
                z=0.12,
                richness=40.0,
                bcg_rmag=np.nan,
                split="train",
                flipped=True,
                offset_ra_arcsec=0.0,
                offset_dec_arcsec=0.0,
            )
        )
    return Table(rows=rows)


def _pred(view, ra, dec, dist_kpc, score):
    """A prediction ``dist_kpc`` north of (ra, dec) at the truth redshift."""
    d_arcsec = dist_kpc / kpc_per_arcsec(Z)
    return dict(
        view=view, x=0.0, y=0.0, x0=0.0, y0=0.0, x1=1.0, y1=1.0, score=score, ra=ra, dec=dec + d_arcsec / 3600.0
    )


def _predictions():
    rows = [
        _pred("C0_v0", 150.0, 10.0, 20.0, 0.95),  # C0 found at every t < 95
        _pred("C0_v0", 150.0, 10.0, 60.0, 0.85),  # duplicate within 100 kpc
        _pred("C0_v0", 150.0, 10.0, 500.0, 0.55),  # FP
        _pred("C1_v0", 151.0, 10.0, 150.0, 0.91),  # FP (outside 100 kpc)
        _pred("C1_v0", 151.0, 10.0, 90.0, 0.35),  # C1 found at t < 35
        _pred("C2_v0", 152.0, 10.0, 2000.0, 0.05),  # C2 never found
    ]
    return Table(rows=rows)


def test_distance_is_separation_times_angular_diameter_distance():
    truth = metrics.truth_table(_labels())
    m = metrics.match_predictions(_predictions(), truth)
    p = _predictions()
    for k in range(len(p)):
        t = truth[int(m["truth_index"][k])]
        sep = SkyCoord(p["ra"][k] * u.deg, p["dec"][k] * u.deg).separation(SkyCoord(t["ra"] * u.deg, t["dec"] * u.deg))
        expect = (sep.to_value(u.rad) * COSMO.angular_diameter_distance(t["z"])).to_value(u.kpc)
        assert m["distance_kpc"][k] == pytest.approx(expect, rel=1e-6)
    assert list(m["distance_kpc"]) == pytest.approx([20, 60, 500, 150, 90, 2000], rel=1e-4)


def test_truth_excludes_train_and_flipped():
    truth = metrics.truth_table(_labels())
    assert list(truth["view"]) == ["C0_v0", "C1_v0", "C2_v0"]


def test_sweep_counts_by_hand():
    truth = metrics.truth_table(_labels())
    m = metrics.match_predictions(_predictions(), truth)
    s = metrics.sweep(m, len(truth), [0, 10, 30, 40, 50, 60, 90, 100])
    got = {float(r["threshold"]): (int(r["tp"]), int(r["fp"]), int(r["fn"]), int(r["duplicates"])) for r in s}
    # the paper's rule: one TP box per found cluster, every other passing box an FP
    assert got[0.0] == (2, 4, 1, 1)  # C0, C1 found; FPs: 500, 150, 2000 kpc and the 60 kpc extra
    assert got[10.0] == (2, 3, 1, 1)  # 0.05 box gone
    assert got[30.0] == (2, 3, 1, 1)
    assert got[40.0] == (1, 3, 2, 1)  # C1's 0.35 box gone
    assert got[60.0] == (1, 2, 2, 1)  # 0.55 FP gone
    assert got[90.0] == (1, 1, 2, 0)  # 0.91 FP (C1) and 0.95 TP (C0) remain
    assert got[100.0] == (0, 0, 3, 0)
    old = metrics.sweep(m, len(truth), [0, 10, 40, 90], extra_boxes="ignore_near_found")
    old_got = {float(r["threshold"]): (int(r["tp"]), int(r["fp"]), int(r["fn"])) for r in old}
    assert old_got == {0.0: (2, 3, 1), 10.0: (2, 2, 1), 40.0: (1, 2, 2), 90.0: (1, 1, 2)}  # 60 kpc extra ignored
    for r in s:
        assert r["tp"] + r["fn"] == 3
    row0 = s[0]
    assert (row0["precision"], row0["recall"], row0["f1"]) == pytest.approx((2 / 6, 2 / 3, 4 / 9))
    p, rec, f1 = metrics.precision_recall_f1(2, 3, 1)
    assert p == pytest.approx(0.4) and rec == pytest.approx(2 / 3) and f1 == pytest.approx(0.5)
    # 0/0 conventions: no passing predictions -> precision 0, F1 0
    assert tuple(s[-1][["precision", "recall", "f1"]]) == (0.0, 0.0, 0.0)


def test_score_rule_greater_vs_greater_equal():
    truth = metrics.truth_table(_labels())
    preds = Table(rows=[_pred("C0_v0", 150.0, 10.0, 10.0, 1.0), _pred("C1_v0", 151.0, 10.0, 10.0, 0.5)])
    m = metrics.match_predictions(preds, truth)
    assert metrics.counts_at(m, 3, 100, score_rule="greater").tp == 0
    assert metrics.counts_at(m, 3, 100, score_rule="greater_equal").tp == 1
    assert metrics.counts_at(m, 3, 50, score_rule="greater").tp == 1
    assert metrics.counts_at(m, 3, 50, score_rule="greater_equal").tp == 2


def test_standard_error_and_tp_centres():
    truth = metrics.truth_table(_labels())
    m = metrics.match_predictions(_predictions(), truth)
    hs = metrics.tp_centres(m, 3, 0, tp_centre="highest_score")
    cl = metrics.tp_centres(m, 3, 0, tp_centre="closest")
    assert sorted(np.round(hs["distance_kpc"], 3)) == pytest.approx([20, 90], rel=1e-4)
    assert sorted(np.round(cl["distance_kpc"], 3)) == pytest.approx([20, 90], rel=1e-4)
    # at 0: C0 has boxes at 20 kpc (0.95) and 60 kpc (0.85): both rules pick the 20 kpc one here
    preds = Table(rows=[_pred("C0_v0", 150.0, 10.0, 60.0, 0.95), _pred("C0_v0", 150.0, 10.0, 20.0, 0.6)])
    m2 = metrics.match_predictions(preds, truth)
    assert metrics.tp_centres(m2, 3, 0, tp_centre="highest_score")["distance_kpc"][0] == pytest.approx(60, rel=1e-4)
    assert metrics.tp_centres(m2, 3, 0, tp_centre="closest")["distance_kpc"][0] == pytest.approx(20, rel=1e-4)
    assert metrics.standard_error([3.0, 4.0]) == pytest.approx(math.sqrt(12.5))
    assert math.isnan(metrics.standard_error([]))


def test_evaluate_end_to_end_small():
    res = metrics.evaluate(_predictions(), _labels(), distance_kpc=100.0)
    # F1 per threshold: t=0: P=2/6 -> 0.444; 10,20,30: P=2/5,R=2/3 -> 0.5; 40,50: 1/4,1/3 -> 0.286;
    # 60..80: 1/3,1/3 -> 0.333; 90: 1/2,1/3 -> 0.4
    assert res["threshold"] == 30.0  # best F1, ties -> higher threshold
    assert res["sigma_kpc"] == pytest.approx(math.sqrt((20**2 + 90**2) / 2), rel=1e-4)
    d = res["distances"]
    assert len(d) == 5 and int(d["within"].sum()) == 3 and int(d["tp_centre"].sum()) == 2
    ks = res["ks"]["properties"]
    assert ks["bcg_rmag"]["available"] is False  # all NaN: reported unavailable
    assert ks["z"]["available"] and ks["richness"]["n"] == 3 and ks["richness"]["m"] == 2
    assert len(res["examples"]) == 3
    assert metrics.evaluate(_predictions(), _labels(), chosen=90)["threshold"] == 90.0


def test_examples_contrasting():
    truth = metrics.truth_table(_labels())
    m = metrics.match_predictions(_predictions(), truth)
    ex = metrics.pick_examples(truth, m)
    best = metrics.best_score_within(m, 3)
    assert [truth["view"][i] for i in ex] == ["C0_v0", "C1_v0", "C2_v0"]
    assert best[0] == pytest.approx(0.95) and best[1] == pytest.approx(0.35) and math.isnan(best[2])


# --- bad input ---------------------------------------------------------------------------------
def test_prediction_for_unlabelled_view():
    preds = _predictions()
    preds.add_row(_pred("NOPE_v3", 1.0, 1.0, 1.0, 0.5))
    with pytest.raises(DeepCeeError, match=r"row 6: view 'NOPE_v3' has no test label"):
        metrics.evaluate(preds, _labels())
    train_pred = Table(rows=[_pred("T_v0", 200.0, 20.0, 1.0, 0.5)])
    with pytest.raises(DeepCeeError, match="T_v0"):
        metrics.evaluate(train_pred, _labels())


def test_empty_test_set():
    labels = _labels()
    labels["split"] = "train"
    with pytest.raises(DeepCeeError, match="no test images"):
        metrics.evaluate(_predictions(), labels)


@pytest.mark.parametrize("bad", [[0, 10, 110], [-5, 50], [], [10, 10], ["x"]])
def test_thresholds_out_of_range(bad):
    with pytest.raises(DeepCeeError, match="evaluate.thresholds"):
        metrics.evaluate(_predictions(), _labels(), thresholds=bad)


def test_errors_are_one_line():
    with pytest.raises(DeepCeeError) as err:
        metrics.check_thresholds([0, 150])
    assert "\n" not in str(err.value) and "150" in str(err.value)


def test_no_predictions_at_all():
    empty = _predictions()[:0]
    res = metrics.evaluate(empty, _labels())
    assert all(int(r["tp"]) == 0 and int(r["fn"]) == 3 and int(r["fp"]) == 0 for r in res["sweep"])
    assert math.isnan(res["sigma_kpc"])


@pytest.mark.parametrize("z,kpc", [(0.1, 1443.0), (0.2, 2588.0)])
def test_cosmology_pinned_to_the_paper(z, kpc):
    """Paper §2.2: the 792 arcsec (2000 x 0.396") field spans 1,443 kpc at z = 0.1 and 2,588 kpc at z = 0.2."""
    from deepcee.core.cosmology import arcsec_to_kpc

    assert abs(float(arcsec_to_kpc(792.0, z)) - kpc) < 1.0
