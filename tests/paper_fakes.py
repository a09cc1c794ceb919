"""Fake stage outputs (summaries, tables, figures) for the paper-stage unit tests.

Every file is built from its contract in deepcee.core.contracts and written by the
contract's writer, so the fakes cannot drift from what the stages write; numbers.py,
provenance.py and latex.py are tested without running the upstream stages.
"""

from __future__ import annotations

from pathlib import Path

from deepcee.core.contracts import rows_table, write_summary_checked, write_table


def write_conformed(name: str, table, path) -> Path:
    """Write a unit test's hand-made ``table`` through contract ``name``'s writer.

    Columns the test does not care about are added as NaN, "", 0 or False and the contract's
    units are set, so the stage under test reads a file of the shape the producer writes.
    """
    import numpy as np

    from deepcee.core.contracts import table_contract

    out = table.copy()
    fill = {"float": np.nan, "str": "", "int": 0, "bool": False}
    dtypes = {"float": float, "str": str, "int": "int64", "bool": bool}
    for col in table_contract(name).columns:
        if col.name not in out.colnames:
            out[col.name] = np.full(len(out), fill[col.dtype], dtype=dtypes[col.dtype])
        if col.unit is not None:
            out[col.name].unit = col.unit
    write_table(name, out, path)
    return Path(path)


#: (threshold %, TP, FP, FN) of a fake test-set sweep; F1 peaks at 80.
SWEEP_TEST = [
    (0, 19, 5981, 1),
    (10, 19, 60, 1),
    (20, 18, 40, 2),
    (30, 18, 30, 2),
    (40, 18, 22, 2),
    (50, 17, 15, 3),
    (60, 17, 10, 3),
    (70, 16, 7, 4),
    (80, 16, 3, 4),
    (90, 12, 1, 8),
    (100, 0, 0, 20),
]
SWEEP_RM = [
    (0, 6, 1794, 0),
    (10, 6, 20, 0),
    (20, 6, 12, 0),
    (30, 6, 8, 0),
    (40, 6, 5, 0),
    (50, 5, 3, 1),
    (60, 5, 2, 1),
    (70, 5, 1, 1),
    (80, 4, 1, 2),
    (90, 3, 0, 3),
    (100, 0, 0, 6),
]


def _prf(tp, fp, fn):
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def write_sweep(path: Path, rows) -> None:
    """A Table 2/3 CSV of (threshold %, TP, FP, FN) rows, through the sweep contract's writer."""
    write_table(
        "sweep",
        rows_table("sweep", [(float(t), tp, fp, fn, *_prf(tp, fp, fn), 0, tp + fp) for t, tp, fp, fn in rows]),
        path,
    )


def write_sweep_tex(path: Path, rows, float_wrapper: bool = False) -> None:
    body = [
        "\\begin{tabular}{rrrrrrr}",
        "\\hline",
        "Threshold (\\%) & TP & FP & FN & Precision & Recall & F1 \\\\",
        "\\hline",
    ]
    for t, tp, fp, fn in rows:
        p, r, f = _prf(tp, fp, fn)
        body.append(f"{t} & {tp} & {fp} & {fn} & {p:.4f} & {r:.4f} & {f:.4f} \\\\")
    body += ["\\hline", "\\end{tabular}"]
    if float_wrapper:
        body = [
            "\\begin{table*}",
            "\\centering",
            "\\caption{A stage's own caption}",
            "\\label{tab:own}",
            *body,
            "\\end{table*}",
        ]
    path.write_text("\n".join(body) + "\n")


def _pdf(path: Path, text: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.text(0.5, 0.5, text, ha="center")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    fig.savefig(path.with_suffix(".png"))
    plt.close(fig)


FIGURES = [
    "fig02_sample_properties",
    "fig03_offsets",
    "fig04_sky_map",
    "fig05_total_loss",
    "fig06_loss_components",
    "fig07_examples",
    "fig12_pr_test",
    "fig13_distances",
    "fig14_recovered_offsets",
    "fig15_ks",
    "fig16_redmapper_map",
    "fig17_pr_redmapper",
]


def make_results(root: Path, n_clusters: int = 10, views: int = 2, figures: bool = True) -> dict[str, Path]:
    """Write a small fake results/ tree under ``root``; return the paths numbers.collect_numbers takes."""
    res = root / "results"
    p = {
        "sample": res / "01_catalogue/sample.ecsv",
        "redmapper_catalogue": res / "01_catalogue/redmapper.ecsv",
        "catalogue_summary": res / "01_catalogue/summary.json",
        "labels": res / "02_images/labels.ecsv",
        "images_summary": res / "02_images/summary.json",
        "losses": res / "03_train/losses.csv",
        "train_summary": res / "03_train/summary.json",
        "sweep_test": res / "tables/table2_sweep_test.csv",
        "sweep_redmapper": res / "tables/table3_sweep_redmapper.csv",
        "evaluate_summary": res / "04_evaluate/summary.json",
        "ks": res / "04_evaluate/ks_test.json",
        "redmapper_summary": res / "05_redmapper/summary.json",
        "redmapper_labels": res / "05_redmapper/labels.ecsv",
    }
    rows = [
        (f"RM{i}", f"C{i}", 150.0 + i, 20.0 + i, 0.1 + 0.009 * i, 30.0 + i, 25.0, 16.0, f"A{i}", "fake")
        for i in range(n_clusters)
    ]
    write_table("catalogue", rows_table("catalogue", rows), p["sample"])
    write_table("catalogue", rows_table("catalogue", rows * 3), p["redmapper_catalogue"])
    labels = []
    k = 0
    for i in range(n_clusters):
        for v in range(views):
            split = "test" if k % 5 == 0 else "train"
            view = f"RM{i}_v{v}"
            base = (
                f"results/02_images/png/{view}.png",
                f"results/02_images/fits/{view}.fits",
                f"RM{i}",
                150.0 + i,
                20.0 + i,
                0.15,
                30.0,
                16.0,
                10.0,
                -5.0,
                100.0,
                120.0,
                50.0,
                70.0,
                150.0,
                170.0,
            )
            labels.append((view, *base, split, False))
            if split == "train":
                labels.append((f"{view}_flip", *base, split, True))
            k += 1
    write_table("labels", rows_table("labels", labels), p["labels"])
    rm_labels = [
        (f"X{i}_v0", "a.png", "a.fits", f"X{i}", 200.0, 30.0, 0.15, 30.0, 16.0, 0, 0, 1, 1, 0, 0, 2, 2, "test", False)
        for i in range(6)
    ]
    write_table("labels", rows_table("labels", rm_labels), p["redmapper_labels"])
    write_table(
        "losses",
        rows_table("losses", [(1, 1.5, 0.7, 0.1, 0.5, 0.2, 0.001, 1.0), (50, 0.4, 0.1, 0.05, 0.15, 0.1, 0.001, 60.0)]),
        p["losses"],
    )
    write_sweep(p["sweep_test"], SWEEP_TEST)
    write_sweep(p["sweep_redmapper"], SWEEP_RM)
    write_sweep_tex(p["sweep_test"].with_suffix(".tex"), SWEEP_TEST, float_wrapper=True)
    write_sweep_tex(p["sweep_redmapper"].with_suffix(".tex"), SWEEP_RM)
    (res / "tables/table1_examples.tex").write_text(
        "\\begin{tabular}{lrrrr}\nID & Score & $z$ & $r$ & Richness\\\\\n"
        "(a) & 98 & 0.15 & 15.0 & 78.5\\\\\n\\end{tabular}\n"
    )
    (res / "tables/tableA1_losses.tex").write_text(
        "\\begin{tabular}{rrrrrr}\nStep & Total & RPN obj & RPN box & DN cls & DN box\\\\\n"
        "50 & 0.4 & 0.1 & 0.05 & 0.15 & 0.1\\\\\n\\end{tabular}\n"
    )

    def sweep_summary(rows, chosen):
        """What the evaluate stage adds beyond the paper: counting rule, boxes per image, intervals."""
        tp, fp, fn = next((r[1], r[2], r[3]) for r in rows if r[0] == chosen)
        p, r, f = _prf(tp, fp, fn)
        return {
            "extra_boxes": "count_as_fp",
            "boxes_per_image_at_zero": {"min": 120, "median": 150.0, "max": 210, "mean": 152.5, "total": 6000},
            "zero_row_normalised_300": {
                "tp": rows[0][1],
                "fp": 300 * (rows[0][1] + rows[0][3]) - rows[0][1],
                "fn": rows[0][3],
                "precision": 0.003,
                "recall": 0.95,
                "f1": 0.006,
            },
            "centre": "bcg",
            "box_centre": {"chosen_threshold": float(chosen), "at_chosen": {"f1": f - 0.01}, "sigma_kpc": 41.5},
            "other_extra_boxes_rule": {
                "extra_boxes": "ignore_near_found",
                "best_f1_threshold": float(chosen),
                "chosen_threshold": float(chosen),
                "at_chosen": {"f1": f, "precision": p},
            },
            "intervals_at_chosen": {
                "precision": [p - 0.1, min(1.0, p + 0.1)],
                "recall": [r - 0.1, min(1.0, r + 0.1)],
                "f1": [f - 0.1, min(1.0, f + 0.1)],
                "sigma_kpc": [15.0, 28.0],
                "level": 0.95,
            },
            "sweep_intervals": [
                {
                    "threshold": float(row[0]),
                    "precision": [0.0, 1.0],
                    "recall": [0.0, 1.0],
                    "f1": [0.0, 1.0],
                    "level": 0.95,
                }
                for row in rows
            ],
        }

    summaries = {
        "catalogue_summary": {"counts": {"sample": n_clusters, "parent": 2 * n_clusters, "abell_clusters": 4076}},
        "images_summary": {"counts": {"views": n_clusters * views}},
        "train_summary": {"counts": {"steps": 50}, "device": "cpu", "seconds": 60.0},
        "evaluate_summary": {
            "counts": {"test_images": 4},
            "chosen_threshold": 80.0,
            "chosen_by": "best_f1",
            "sigma_kpc": 21.5,
            "distance_kpc": 100.0,
            "fraction_predictions_within": 0.84,
            **sweep_summary(SWEEP_TEST, 80),
        },
        "ks": {
            "chosen_threshold_percent": 80.0,
            "alpha": 0.05,
            "properties": {
                "z": {"available": True, "statistic": 0.1, "pvalue": 0.9, "critical_value": 0.43},
                "bcg_rmag": {"available": False, "reason": "no finite values"},
                "richness": {"available": True, "statistic": 0.2, "pvalue": 0.5, "critical_value": 0.43},
            },
        },
        "redmapper_summary": {
            "counts": {"clusters": 6},
            "chosen_threshold": 70.0,
            "chosen_by": "best_f1",
            "sigma_kpc": 30.0,
            "distance_kpc": 100.0,
            "fraction_predictions_within": 0.5,
            "region": {"area_deg2": 105.0},
            **sweep_summary(SWEEP_RM, 70),
        },
    }
    for key, data in summaries.items():
        write_summary_checked(key, p[key], data)
    if figures:
        for name in FIGURES:
            _pdf(res / "figures" / f"{name}.pdf", name)
    return p
