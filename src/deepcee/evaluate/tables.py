"""CSV + LaTeX writers for the paper's Tables 1, 2, 3 and the k-fold / cluster-split tables.

CSV files are the machine-readable record (full precision); the ``.tex`` twins are a
bare ``tabular`` (booktabs rules, no ``table`` float, no caption) that paper/ms.tex
``\\input``s inside its own ``table`` environment. Numbers in the LaTeX follow the
paper's style: counts as integers, ratios to 4 significant figures.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from astropy.table import Table

from deepcee.core.contracts import csv_text, rows_table, table_contract, write_table
from deepcee.core.errors import DeepCeeError
from deepcee.core.files import write_text
from deepcee.core.text import latex_escape
from deepcee.evaluate.metrics import SWEEP_COLUMNS


def _fmt_ratio(value) -> str:
    value = float(value)
    if not math.isfinite(value):
        return "--"
    if value == 0:
        return "0.00"
    return f"{value:.4g}"


def _fmt_number(value, digits: int = 2) -> str:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "--"
    if not math.isfinite(value):
        return "--"
    return f"{value:.{digits}f}"


def write_csv(path, header, rows) -> None:
    write_text(path, csv_text(header, rows))


def read_csv(path) -> Table:
    return Table.read(str(path), format="ascii.csv")


def _tabular(align: str, header: list[str], rows: list[list[str]]) -> str:
    lines = [f"\\begin{{tabular}}{{{align}}}", r"\toprule", " & ".join(header) + r" \\", r"\midrule"]
    lines += [" & ".join(r) + r" \\" for r in rows]
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- Tables 2 and 3
def sweep_rows(sweep_table: Table) -> list[list]:
    return [[sweep_table[c][i].item() for c in SWEEP_COLUMNS] for i in range(len(sweep_table))]


def write_sweep(sweep_table: Table, csv_path, tex_path) -> None:
    """Table 2 / Table 3: ``threshold, tp, fp, fn, precision, recall, f1`` (one row per threshold)."""
    write_table("sweep", sweep_table, csv_path)
    rows = sweep_rows(sweep_table)
    header = ["Confidence score threshold (\\%)", "\\# TP", "\\# FP", "\\# FN", "Precision", "Recall", "F1-score"]
    body = [
        [
            f"{r[0]:g}",
            str(int(r[1])),
            str(int(r[2])),
            str(int(r[3])),
            _fmt_ratio(r[4]),
            _fmt_ratio(r[5]),
            _fmt_ratio(r[6]),
        ]
        for r in rows
    ]
    write_text(tex_path, _tabular("rrrrrrr", header, body))


# --------------------------------------------------------------------------- the real sky, field by field
def write_real_sky_fields(rows: list[dict], csv_path, tex_path) -> None:
    """Each real test field and the pooled set at the pooled threshold, with the F1 interval."""
    name = "real_sky_fields"
    write_table(name, rows_table(name, [[r[c] for c in table_contract(name).colnames] for r in rows]), csv_path)
    header = ["Field", "Images", "Clusters", "TP", "FP", "FN", "Precision", "Recall", "F1 (95\\% interval)", "Own best"]
    body = [
        [
            latex_escape(str(r["field"]).replace("sdss-frames-", "").replace("-gri", "")),
            str(int(r["images"])),
            str(int(r["clusters"])),
            str(int(r["tp"])),
            str(int(r["fp"])),
            str(int(r["fn"])),
            _fmt_ratio(r["precision"]),
            _fmt_ratio(r["recall"]),
            f"{_fmt_number(r['f1'], 3)} [{_fmt_number(r['f1_lo'], 3)}, {_fmt_number(r['f1_hi'], 3)}]",
            f"{_fmt_number(r['best_f1'], 3)} at {float(r['best_threshold']):g}\\%",
        ]
        for r in rows
    ]
    write_text(tex_path, _tabular("lrrrrrrrll", header, body))


def real_sky_member_rows(members: dict) -> list[dict]:
    """One row per member kind of the summary's ``members`` (evaluate.stage._real_sky_member_kinds)."""
    nan = float("nan")
    rows = []
    for kind in ("galsim", "real"):
        if kind not in members:
            continue
        m = members[kind]
        at, ci = m["at_chosen"], m["f1_interval"]
        rows.append(
            {
                "kind": kind,
                "views": int(m["views"]),
                "threshold": float(m["chosen_threshold"]),
                **{k: at[k] for k in ("tp", "fp", "fn", "precision", "recall", "f1")},
                "f1_lo": ci[0],
                "f1_hi": ci[1],
                "views_with_box": -1,
                "fraction_with_box": nan,
                "fraction_lo": nan,
                "fraction_hi": nan,
                "boxes_per_view": nan,
            }
        )
    for kind in ("scattered", "blank"):
        if kind not in members:
            continue
        c = members[kind]
        rows.append(
            {
                "kind": kind,
                "views": c["views"],
                "threshold": c["threshold"],
                "tp": -1,
                "fp": c["boxes"],
                "fn": -1,
                "precision": nan,
                "recall": nan,
                "f1": nan,
                "f1_lo": nan,
                "f1_hi": nan,
                **{
                    k: c[k]
                    for k in ("views_with_box", "fraction_with_box", "fraction_lo", "fraction_hi", "boxes_per_view")
                },
            }
        )
    return rows


def write_real_sky_members(members: dict, csv_path, tex_path) -> None:
    """The real-sky test by member kind: F1 with GalSim and with real-galaxy members, and the
    scattered-member and blank controls' views with a passing box."""
    name = "real_sky_members"
    rows = real_sky_member_rows(members)
    write_table(name, rows_table(name, [[r[c] for c in table_contract(name).colnames] for r in rows]), csv_path)
    header = ["Members", "Views", "Threshold", "TP", "FP", "FN", "F1 (95\\% interval)", "Views with a box"]
    body = []
    for r in rows:
        control = r["kind"] in ("scattered", "blank")
        f1 = (
            "--"
            if control
            else f"{_fmt_number(r['f1'], 3)} [{_fmt_number(r['f1_lo'], 3)}, {_fmt_number(r['f1_hi'], 3)}]"
        )
        boxes = (
            f"{int(r['views_with_box'])} ({_fmt_number(100 * r['fraction_with_box'], 1)}\\% "
            f"[{_fmt_number(100 * r['fraction_lo'], 1)}, {_fmt_number(100 * r['fraction_hi'], 1)}])"
            if control
            else "--"
        )
        body.append(
            [
                r["kind"],
                str(int(r["views"])),
                f"{float(r['threshold']):g}\\%",
                "--" if control else str(int(r["tp"])),
                str(int(r["fp"])),
                "--" if control else str(int(r["fn"])),
                f1,
                boxes,
            ]
        )
    write_text(tex_path, _tabular("lrrrrrll", header, body))


# --------------------------------------------------------------------------- Table 1
TABLE1_COLUMNS = tuple(table_contract("examples").colnames)


def write_examples(rows: list[dict], csv_path, tex_path) -> None:
    """Table 1: example test clusters with their confidence, redshift, BCG r magnitude, richness."""
    write_table("examples", rows_table("examples", [[r.get(c) for c in TABLE1_COLUMNS] for r in rows]), csv_path)
    header = [
        "ID",
        "Cluster",
        "Confidence Score (\\%)",
        "Photometric Redshift",
        "$r$-band Magnitude of the BCG",
        "Richness",
    ]
    body = []
    for r in rows:
        score = r.get("score_percent")
        body.append(
            [
                f"({latex_escape(r['id'])})",
                latex_escape(r.get("name") or r["cluster_id"]),
                "--" if score is None or not math.isfinite(float(score)) else f"{float(score):.0f}",
                _fmt_number(r.get("z"), 4),
                _fmt_number(r.get("bcg_rmag"), 2),
                _fmt_number(r.get("richness"), 2),
            ]
        )
    write_text(tex_path, _tabular("llrrrr", header, body))


# --------------------------------------------------------------------------- k-fold / several sweeps
def aggregate_sweeps(sweeps: list[Table]) -> Table:
    """Mean and sample standard deviation (ddof=1; 0 for one sweep) per threshold over several sweeps."""
    if not sweeps:
        raise DeepCeeError("k-fold: no fold sweeps to aggregate")
    thresholds = [float(t) for t in sweeps[0]["threshold"]]
    for k, s in enumerate(sweeps):
        if [float(t) for t in s["threshold"]] != thresholds:
            raise DeepCeeError(f"k-fold: fold {k} was swept at other thresholds than fold 0")
    out = Table()
    out["threshold"] = thresholds
    out.meta["n_folds"] = len(sweeps)
    for name in SWEEP_COLUMNS[1:]:
        values = np.array([np.asarray(s[name], dtype=float) for s in sweeps])
        out[f"{name}_mean"] = values.mean(axis=0)
        out[f"{name}_std"] = values.std(axis=0, ddof=1) if len(sweeps) > 1 else np.zeros(len(thresholds))
    return out


def write_aggregate(table: Table, csv_path, tex_path) -> None:
    """The k-fold table: mean ± std per threshold of TP, FP, FN, precision, recall, F1."""
    write_csv(csv_path, table.colnames, [[table[c][i] for c in table.colnames] for i in range(len(table))])
    header = ["Threshold (\\%)", "\\# TP", "\\# FP", "\\# FN", "Precision", "Recall", "F1-score"]
    body = []
    for i in range(len(table)):
        row = [f"{float(table['threshold'][i]):g}"]
        for name in ("tp", "fp", "fn"):
            row.append(f"${table[name + '_mean'][i]:.1f} \\pm {table[name + '_std'][i]:.1f}$")
        for name in ("precision", "recall", "f1"):
            row.append(f"${table[name + '_mean'][i]:.3f} \\pm {table[name + '_std'][i]:.3f}$")
        body.append(row)
    write_text(tex_path, _tabular("rrrrrrr", header, body))


def ensure_parent(path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
