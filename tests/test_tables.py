"""Table writers: CSV columns, LaTeX twins, k-fold aggregation."""

import math

import numpy as np
import pytest
from astropy.table import Table

from deepcee.core.errors import DeepCeeError
from deepcee.evaluate import metrics, tables

PAPER_ROWS = [(0, 203, 60997, 1), (10, 198, 538, 6), (80, 165, 72, 39), (100, 0, 0, 204)]


def _sweep(rows=PAPER_ROWS):
    out = []
    for t, tp, fp, fn in rows:
        out.append((float(t), tp, fp, fn, *metrics.precision_recall_f1(tp, fp, fn), 0, tp + fp))
    return Table(rows=out, names=metrics.SWEEP_TABLE_COLUMNS)


def test_sweep_csv_and_tex(tmp_path):
    tables.write_sweep(_sweep(), tmp_path / "t2.csv", tmp_path / "t2.tex")
    back = tables.read_csv(tmp_path / "t2.csv")
    assert back.colnames == list(metrics.SWEEP_TABLE_COLUMNS)
    assert list(back["tp"] + back["fp"]) == list(back["passing"])  # the paper's counting
    assert list(back["tp"] + back["fn"]) == [204] * 4
    assert back["precision"][2] == pytest.approx(165 / 237)
    tex = (tmp_path / "t2.tex").read_text()
    assert tex.startswith("\\begin{tabular}") and "\\bottomrule" in tex
    # the paper's printed style: 80 % row -> 0.6962 0.8088 0.7483; 100 % row -> 0.00
    assert "80 & 165 & 72 & 39 & 0.6962 & 0.8088 & 0.7483" in tex
    assert "100 & 0 & 0 & 204 & 0.00 & 0.00 & 0.00" in tex
    assert "0 & 203 & 60997 & 1 & 0.003317 & 0.9951 & 0.006612" in tex


def test_sweep_missing_column(tmp_path):
    with pytest.raises(DeepCeeError, match="missing column"):
        tables.write_sweep(Table({"threshold": [0.0]}), tmp_path / "a.csv", tmp_path / "a.tex")


def test_examples_table_handles_missing_bcg(tmp_path):
    rows = [
        dict(
            id="a",
            view="X_v0",
            cluster_id="X",
            name="Abell 1",
            ra=1.0,
            dec=2.0,
            score_percent=98.2,
            z=0.1474,
            bcg_rmag=float("nan"),
            richness=78.49,
        )
    ]
    tables.write_examples(rows, tmp_path / "t1.csv", tmp_path / "t1.tex")
    back = tables.read_csv(tmp_path / "t1.csv")
    assert back.colnames == list(tables.TABLE1_COLUMNS)
    assert np.ma.is_masked(back["bcg_rmag"][0]) or math.isnan(float(back["bcg_rmag"][0]))
    tex = (tmp_path / "t1.tex").read_text()
    assert "(a) & Abell 1 & 98 & 0.1474 & -- & 78.49" in tex


def test_aggregate_mean_std(tmp_path):
    a = _sweep([(0, 10, 5, 0), (50, 8, 1, 2)])
    b = _sweep([(0, 8, 7, 2), (50, 6, 1, 4)])
    agg = tables.aggregate_sweeps([a, b])
    assert list(agg["tp_mean"]) == [9.0, 7.0]
    assert agg["tp_std"][0] == pytest.approx(np.std([10, 8], ddof=1))
    assert agg["precision_mean"][1] == pytest.approx((8 / 9 + 6 / 7) / 2)
    tables.write_aggregate(agg, tmp_path / "k.csv", tmp_path / "k.tex")
    back = tables.read_csv(tmp_path / "k.csv")
    assert "f1_std" in back.colnames and len(back) == 2
    assert "\\pm" in (tmp_path / "k.tex").read_text()
    with pytest.raises(DeepCeeError, match="other thresholds"):
        tables.aggregate_sweeps([a, _sweep([(0, 1, 1, 1)])])
    with pytest.raises(DeepCeeError):
        tables.aggregate_sweeps([])
