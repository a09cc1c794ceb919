"""The evaluation stage on a small synthetic test set: every output file and figure is written."""

import json

import numpy as np
import pytest
from astropy.table import Table

from deepcee.core.contracts import read_table
from deepcee.core.cosmology import kpc_per_arcsec
from deepcee.core.errors import DeepCeeError
from deepcee.evaluate import figures as plots
from deepcee.evaluate import metrics, tables
from deepcee.evaluate import stage as evaluate_stage
from paper_fakes import write_conformed


def _make_inputs(tmp_path, n=12, seed=0):
    from PIL import Image

    rng = np.random.default_rng(seed)
    labels, preds = [], []
    for i in range(n):
        view = f"RM{i}_v0"
        png = tmp_path / f"{view}.png"
        Image.fromarray((rng.random((64, 64, 3)) * 255).astype(np.uint8)).save(png)
        z = 0.1 + 0.1 * rng.random()
        ra, dec = 150.0 + i, 20.0
        labels.append(
            dict(
                view=view,
                png=str(png),
                fits="",
                cluster_id=f"RM{i}",
                ra=ra,
                dec=dec,
                z=z,
                richness=20 + 60 * rng.random(),
                bcg_rmag=np.nan,
                offset_ra_arcsec=rng.uniform(-270, 270),
                offset_dec_arcsec=rng.uniform(-270, 270),
                x=32.0,
                y=32.0,
                x0=20.0,
                y0=20.0,
                x1=44.0,
                y1=44.0,
                split="test",
                flipped=False,
            )
        )
        for _ in range(5):
            d_kpc = rng.choice([rng.uniform(0, 90), rng.uniform(150, 2000)])
            score = rng.random()
            preds.append(
                dict(
                    view=view,
                    x=32.0,
                    y=32.0,
                    x0=20.0,
                    y0=20.0,
                    x1=44.0,
                    y1=44.0,
                    score=score,
                    ra=ra,
                    dec=dec + d_kpc / kpc_per_arcsec(z) / 3600.0,
                )
            )
    labels.append(dict(labels[0], view="RMX_v0", cluster_id="RMX", split="train"))
    lab, pr = Table(rows=labels), Table(rows=preds)
    write_conformed("labels", lab, tmp_path / "labels.ecsv")
    write_conformed("predictions", pr, tmp_path / "predictions.ecsv")
    sample = Table(
        rows=[(f"RM{i}", f"RMJ{i}", 150.0 + i, 20.0, 0.15, 30.0, 30.0, np.nan, f"A{100 + i}", "x") for i in range(n)],
        names=("id", "name", "ra", "dec", "z", "richness", "n_members", "bcg_rmag", "abell", "source"),
    )
    write_conformed("catalogue", sample, tmp_path / "sample.ecsv")
    return tmp_path / "predictions.ecsv", tmp_path / "labels.ecsv", tmp_path / "sample.ecsv"


def _outs(tmp_path):
    return {
        k: tmp_path / "out" / v
        for k, v in dict(
            sweep_csv="t2.csv",
            sweep_tex="t2.tex",
            distances="d.ecsv",
            ks="ks.json",
            recovered="rec.ecsv",
            table1_csv="t1.csv",
            table1_tex="t1.tex",
            summary="summary.json",
        ).items()
    }


def test_evaluate_test_writes_everything(tmp_path):
    pred, lab, sample = _make_inputs(tmp_path)
    out = _outs(tmp_path)
    q = evaluate_stage.evaluate_test(pred, lab, out, cfg={}, sample=sample)
    for path in out.values():
        assert path.exists(), path
    sweep = tables.read_csv(out["sweep_csv"])
    assert len(sweep) == 11 and list(sweep.colnames) == list(metrics.SWEEP_TABLE_COLUMNS)
    assert all(sweep["tp"] + sweep["fn"] == 12)
    summary = json.loads(out["summary"].read_text())
    scores = np.asarray(Table.read(pred, format="ascii.ecsv")["score"], dtype=float)
    for row in sweep:  # the paper's arithmetic: TP + FP = passing boxes, TP + FN = test images
        assert int(row["tp"]) + int(row["fp"]) == int(np.sum(scores > row["threshold"] / 100.0)) == int(row["passing"])
    assert summary["extra_boxes"] == "count_as_fp"
    assert summary["other_extra_boxes_rule"]["extra_boxes"] == "ignore_near_found"
    assert summary["boxes_per_image_at_zero"]["median"] == 5 and summary["boxes_per_image_at_zero"]["max"] == 5
    assert summary["zero_row_normalised_300"]["fp"] == 12 * 300 - summary["sweep"][0]["tp"]
    assert summary["chosen_by"] == "best_f1" and summary["chosen_threshold"] in summary["thresholds"]
    assert summary["ks"]["properties"]["bcg_rmag"]["available"] is False
    assert "at_paper_threshold" in summary and summary["paper"]["sigma_kpc"] == 17.40
    assert len(summary["examples"]) == 3 and summary["examples"][0]["name"].startswith("A1")
    dist = read_table("distances", out["distances"])
    assert np.all(dist["score"] > summary["chosen_threshold"] / 100)
    assert q["n_test_images"] == 12

    # figures from the written files
    rec = read_table("recovered", out["recovered"])
    ks = json.loads(out["ks"].read_text())
    figs = tmp_path / "figs"
    plots.fig12_precision_recall_test(sweep, figs / "f12.pdf", figs / "f12.png", chosen=summary["chosen_threshold"])
    plots.fig13_distances(dist, figs / "f13.pdf", figs / "f13.png")
    plots.fig14_offsets_recovered(rec, rec["recovered"], figs / "f14.pdf", figs / "f14.png")
    plots.fig15_properties_ks(rec, rec["recovered"], ks, figs / "f15.pdf", figs / "f15.png")
    from PIL import Image

    ex = [
        {
            "image": np.asarray(Image.open(str(rec["png"][0]))),
            "truth": (20, 20, 44, 44),
            "boxes": [(10, 10, 30, 30, 0.9)],
            "label": "(a)",
        }
    ]
    plots.fig07_examples(ex, figs / "f07.pdf", figs / "f07.png")
    region = {"ra_min": 150, "ra_max": 160, "dec_min": 15, "dec_max": 25}
    lab_t = read_table("labels", lab)
    plots.fig16_sky_map_redmapper(
        lab_t[lab_t["split"] == "train"],
        lab_t[lab_t["split"] == "test"],
        read_table("catalogue", sample),
        read_table("catalogue", sample)[:3],
        region,
        figs / "f16.pdf",
        figs / "f16.png",
    )
    for name in ("f07", "f12", "f13", "f14", "f15", "f16"):
        assert (figs / f"{name}.pdf").stat().st_size > 0 and (figs / f"{name}.png").stat().st_size > 0


def test_fixed_threshold_and_kfold_table(tmp_path):
    pred, lab, _ = _make_inputs(tmp_path)
    q = evaluate_stage.evaluate_test(pred, lab, _outs(tmp_path), cfg={"chosen_threshold": 80})
    assert q["chosen_threshold"] == 80.0 and q["chosen_by"] == "config"
    sweeps = []
    for k in range(2):
        (tmp_path / f"f{k}").mkdir()
        p2, l2, _ = _make_inputs(tmp_path / f"f{k}", seed=k)
        csv = tmp_path / f"f{k}" / "sweep.csv"
        evaluate_stage.sweep_only(p2, l2, csv, tmp_path / f"f{k}" / "sweep.tex", {})
        sweeps.append(csv)
    agg = evaluate_stage.kfold_table(
        sweeps,
        tmp_path / "k.csv",
        tmp_path / "k.tex",
        summary=tmp_path / "k.json",
        figure_paths=(tmp_path / "k.pdf", tmp_path / "k.png"),
    )
    assert len(agg) == 11 and (tmp_path / "k.png").exists()


def test_bad_inputs_name_the_file(tmp_path):
    pred, lab, _ = _make_inputs(tmp_path)
    with pytest.raises(DeepCeeError, match="file not found"):
        evaluate_stage.evaluate_test(tmp_path / "nope.ecsv", lab, _outs(tmp_path), cfg={})
    with pytest.raises(DeepCeeError, match=r"evaluate.thresholds.*120"):
        evaluate_stage.evaluate_test(pred, lab, _outs(tmp_path), cfg={"thresholds": [0, 120]})


def test_real_sky_summary_sits_beside_the_synthetic_one(tmp_path):
    """The real-sky sweep is Table 2's, its summary quotes the synthetic result and the gap."""
    pred, lab, sample = _make_inputs(tmp_path)
    syn = evaluate_stage.evaluate_test(pred, lab, _outs(tmp_path), cfg={}, sample=sample)
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    rpred, rlab, _ = _make_inputs(real_dir, seed=7)
    out = {k: real_dir / f"out_{k}" for k in ("sweep_csv", "sweep_tex", "summary")}
    q = evaluate_stage.evaluate_real_sky(rpred, rlab, _outs(tmp_path)["summary"], out, cfg={}, seed=1)
    summary = json.loads(out["summary"].read_text())
    assert summary["synthetic"]["at_chosen"]["f1"] == pytest.approx(syn["at_chosen"]["f1"])
    assert summary["f1_gap"] == pytest.approx(syn["at_chosen"]["f1"] - q["at_chosen"]["f1"])
    assert summary["at_synthetic_threshold"]["threshold"] == syn["chosen_threshold"]
    assert summary["blank_frames"][0].endswith("sdss-frames-run5390-camcol2-gri")
    lo, hi = summary["intervals_at_chosen"]["f1"]
    assert lo <= q["at_chosen"]["f1"] <= hi
    sweep = tables.read_csv(out["sweep_csv"])
    assert all(sweep["tp"] + sweep["fn"] == 12)


def test_bcg_centres_are_counted_and_the_box_centres_reported_beside(tmp_path):
    """Predictions centred on BCGs (deepcee.detector.centring) are what the sweep counts; the
    summary also gives the paper's box-centre result (here every box centre is 150-2000 kpc off)."""
    pred, lab, sample = _make_inputs(tmp_path)
    table = read_table("predictions", pred)
    table["box_ra"], table["box_dec"] = table["ra"], table["dec"] + 0.5  # boxes ~1 deg off
    truth = {
        str(v): (r, d) for v, r, d in zip(*(Table.read(lab, format="ascii.ecsv")[c] for c in ("view", "ra", "dec")))
    }
    table["on_bcg"] = np.ones(len(table), dtype=bool)
    table["ra"] = [truth[str(v)][0] for v in table["view"]]  # the BCG: on the true centre
    table["dec"] = [truth[str(v)][1] for v in table["view"]]
    write_conformed("predictions", table, pred)
    summary = evaluate_stage.evaluate_test(pred, lab, _outs(tmp_path), cfg={}, sample=sample)
    assert summary["centre"] == "bcg"
    assert summary["sigma_kpc"] == pytest.approx(0.0, abs=1e-6)
    assert summary["box_centre"]["at_chosen"]["tp"] == 0
    assert summary["at_chosen"]["tp"] > 0


def test_real_sky_member_kinds_are_evaluated_apart(tmp_path):
    """A real-sky plan with the four member kinds: the pooled and per-field tables are the galsim
    views' alone, real-galaxy members get their own sweep and interval, and the controls count the
    views with a box above the galsim operating threshold (every such box a false detection)."""
    from astropy.table import vstack

    pred, lab, sample = _make_inputs(tmp_path)
    evaluate_stage.evaluate_test(pred, lab, _outs(tmp_path), cfg={}, sample=sample)
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    gpred, glab, _ = _make_inputs(real_dir, seed=7)
    (real_dir / "r").mkdir()
    rpred, rlab, _ = _make_inputs(real_dir / "r", seed=8)
    glab_t, gpred_t = read_table("labels", glab), read_table("predictions", gpred)
    glab_t = glab_t[glab_t["split"] == "test"]
    parts_lab, parts_pred, kinds = [glab_t], [gpred_t], ["galsim"] * len(glab_t)
    rl, rp = read_table("labels", rlab), read_table("predictions", rpred)
    rl = rl[rl["split"] == "test"]
    for t in (rl, rp):
        t["view"] = [f"{v}-real" for v in t["view"]]
    parts_lab.append(rl)
    parts_pred.append(rp)
    kinds += ["real"] * len(rl)
    for kind, n_boxed in (("scattered", 5), ("blank", 2)):
        lab_k = glab_t.copy()
        lab_k["view"] = [f"{v}-{kind}" for v in lab_k["view"]]
        parts_lab.append(lab_k)
        kinds += [kind] * len(lab_k)
        boxes = gpred_t[:0].copy()
        for j, v in enumerate(lab_k["view"]):  # n_boxed views with one sure box, the rest one faint box
            row = dict(zip(gpred_t.colnames, gpred_t[0]))
            boxes.add_row({**row, "view": v, "score": 0.999 if j < n_boxed else 0.001})
        parts_pred.append(boxes)
    labels, predictions = vstack(parts_lab), vstack(parts_pred)
    write_conformed("labels", labels, real_dir / "all_labels.ecsv")
    write_conformed("predictions", predictions, real_dir / "all_predictions.ecsv")
    views = Table(
        {
            "view": np.asarray(labels["view"], dtype=str),
            "cluster_id": np.asarray(labels["cluster_id"], dtype=str),
            "field": np.asarray(["fieldA" if i % 2 else "fieldB" for i in range(len(labels))]),
            "members": np.asarray(kinds),
        }
    )
    write_conformed("views", views, real_dir / "views.ecsv")
    names = ("sweep_csv", "sweep_tex", "summary", "fields_csv", "fields_tex", "field_sweeps_csv")
    out = {k: real_dir / f"out_{k}" for k in (*names, "members_csv", "members_tex")}
    q = evaluate_stage.evaluate_real_sky(
        real_dir / "all_predictions.ecsv",
        real_dir / "all_labels.ecsv",
        _outs(tmp_path)["summary"],
        out,
        cfg={},
        seed=1,
        views=real_dir / "views.ecsv",
    )
    alone = {k: real_dir / f"alone_{k}" for k in names}
    q_alone = evaluate_stage.evaluate_real_sky(gpred, glab, _outs(tmp_path)["summary"], alone, cfg={}, seed=1)
    assert q["at_chosen"] == q_alone["at_chosen"]  # the galsim views' numbers, whatever else the plan holds
    assert q["n_test_images"] == 12
    members = q["members"]
    assert members["real"]["views"] == 12 and members["galsim"]["views"] == 12
    lo, hi = members["real"]["f1_interval"]
    assert lo <= members["real"]["at_chosen"]["f1"] <= hi
    assert members["scattered"]["views_with_box"] == 5 and members["blank"]["views_with_box"] == 2
    assert members["scattered"]["threshold"] == q["chosen_threshold"]
    assert members["scattered_vs_blank"]["scattered_no_more_than_blank"] is False
    table = read_table("real_sky_members", out["members_csv"])
    assert list(table["kind"]) == ["galsim", "real", "scattered", "blank"]
    assert list(table["views_with_box"][2:]) == [5, 2]
    assert "scattered" in out["members_tex"].read_text()
