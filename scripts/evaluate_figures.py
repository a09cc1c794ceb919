"""Evaluation figures (paper Figs 7, 12-15; 16-17 for the redMaPPer set; 24 the real sky): params.figure picks one."""

import json
from pathlib import Path

import numpy as np

from deepcee.core.contracts import read_table
from deepcee.core.files import run_script
from deepcee.evaluate import figures as plots


def _example_images(snakemake):
    """Figure 7: the Table 1 clusters' test images, true box and predicted boxes above the chosen threshold."""
    from PIL import Image

    summary = json.loads(Path(snakemake.input.summary).read_text())
    t = summary["chosen_threshold"] / 100.0
    rule = summary.get("score_rule", "greater")
    examples_tab = read_table("examples", snakemake.input.table1)
    recovered = read_table("recovered", snakemake.input.recovered)
    preds = read_table("predictions", snakemake.input.predictions)
    by_view = {str(r["view"]): r for r in recovered}
    out = []
    for ex in examples_tab:
        view = str(ex["view"])
        truth = by_view[view]
        image = np.asarray(Image.open(str(truth["png"])).convert("RGB"))
        sel = np.asarray([str(v) == view for v in preds["view"]])
        score = np.asarray(preds["score"], dtype=float)
        ok = sel & ((score > t) if rule == "greater" else (score >= t))
        boxes = sorted(
            ((float(p["x0"]), float(p["y0"]), float(p["x1"]), float(p["y1"]), float(p["score"])) for p in preds[ok]),
            key=lambda b: -b[4],
        )[: int(snakemake.params.get("max_boxes", 5))]
        score_txt = "--" if not np.isfinite(ex["score_percent"]) else f"{float(ex['score_percent']):.0f}%"
        out.append(
            {
                "image": image,
                "truth": tuple(float(truth[c]) for c in ("x0", "y0", "x1", "y1")),
                "boxes": boxes,
                "label": f"({ex['id']}) {ex['cluster_id']} z={float(ex['z']):.3f} score {score_txt}",
            }
        )
    return out


def main(snakemake):
    fig = snakemake.params.figure
    paths = [snakemake.output.pdf, snakemake.output.png]
    if fig == "fig07":
        plots.fig07_examples(_example_images(snakemake), *paths)
        return
    if fig == "fig25":
        summary = json.loads(Path(snakemake.input.summary).read_text())
        plots.fig25_real_sky_fields(
            read_table("real_sky_field_sweeps", snakemake.input.field_sweeps),
            read_table("sweep", snakemake.input.sweep),
            json.loads(Path(snakemake.input.blank).read_text()),
            *paths,
            chosen=summary["chosen_threshold"],
        )
        return
    if fig in ("fig12", "fig17", "fig24"):
        summary = json.loads(Path(snakemake.input.summary).read_text())
        sweep = read_table("sweep", snakemake.input.sweep)
        func = {
            "fig12": plots.fig12_precision_recall_test,
            "fig17": plots.fig17_precision_recall_redmapper,
            "fig24": plots.fig24_precision_recall_real_sky,
        }[fig]
        func(sweep, *paths, chosen=summary["chosen_threshold"], intervals=summary["sweep_intervals"])
        return
    summary = json.loads(Path(snakemake.input.summary).read_text())
    t = summary["chosen_threshold"]
    if fig == "fig13":
        plots.fig13_distances(
            read_table("distances", snakemake.input.distances),
            *paths,
            distance_kpc=summary["distance_kpc"],
            threshold=t,
        )
    elif fig == "fig14":
        rec = read_table("recovered", snakemake.input.recovered)
        plots.fig14_offsets_recovered(rec, np.asarray(rec["recovered"], dtype=bool), *paths, threshold=t)
    elif fig == "fig15":
        rec = read_table("recovered", snakemake.input.recovered)
        ks = json.loads(Path(snakemake.input.ks).read_text())
        plots.fig15_properties_ks(rec, np.asarray(rec["recovered"], dtype=bool), ks, *paths, threshold=t)
    else:
        raise ValueError(f"unknown figure {fig}")


run_script(main, snakemake)
