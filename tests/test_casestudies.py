"""Case studies (paper Figs 8-11) and the false-positive breakdown, on a tiny rendered mock."""

import json

import numpy as np
import pytest
from astropy.table import Table

from deepcee.core.cosmology import kpc_per_arcsec
from deepcee.evaluate import casestudies, metrics
from deepcee.evaluate import stage as evaluate_stage
from deepcee.images.labels import sky_to_png_pixel
from deepcee.images.stage import acquire_shard, build_labels, stretch_shard
from deepcee.images.views import plan_views, write_views
from images_helpers import small_catalogue, small_images_cfg
from paper_fakes import write_conformed


def test_pick_case_studies_nearest_distances():
    truth = Table(
        rows=[(f"V{i}", f"C{i}", 10.0, 0.0, 0.15, "test") for i in range(6)],
        names=("view", "cluster_id", "ra", "dec", "z", "split"),
    )
    rows = []
    for i, d in enumerate([80.0, 150.0, 1000.0, 230.0, 20.0, 600.0]):
        rows.append(dict(view=f"V{i}", score=0.9, ra=10.0, dec=d / kpc_per_arcsec(0.15) / 3600.0))
        rows.append(dict(view=f"V{i}", score=0.5, ra=10.0, dec=0.0))  # lower score: never the top box
    m = metrics.match_predictions(Table(rows=rows), metrics.truth_table(truth))
    cases = casestudies.pick_case_studies(truth, m)
    assert [c["view"] for c in cases] == ["V0", "V1", "V3", "V2"]
    assert [round(c["distance_kpc"]) for c in cases] == [80, 150, 230, 1000]


def test_classify_false_positives_by_hand():
    z = 0.15
    truth = Table(rows=[("V0", "C0", 10.0, 0.0, z, "test")], names=("view", "cluster_id", "ra", "dec", "z", "split"))
    deg = 1.0 / kpc_per_arcsec(z) / 3600.0  # degrees per kpc at z

    def at(kpc_north, kpc_east=0.0):
        return 10.0 + kpc_east * deg, kpc_north * deg

    mock = Table(
        rows=[
            ("V0", "group", 1, True, *at(0, 800), 17.0, 0.3),
            ("V0", "star", 0, False, *at(-900, 0), 12.0, 0.0),
            ("V0", "field", 0, False, *at(-1500, -1500), 19.0, 0.2),
            ("V0", "cluster", 0, True, *at(0, -700), 17.5, 0.3),  # a catalogued cluster outside the sample
        ],
        names=("view", "member", "group", "central", "ra", "dec", "mag_r", "z"),
    )
    sample = Table(rows=[("C0", 10.0, 0.0, z), ("C9", *at(1200, -1200), 0.12)], names=("id", "ra", "dec", "z"))
    fps = Table(
        rows=[
            ("V0", *at(50), 50.0),
            ("V0", *at(300), 300.0),
            ("V0", *at(0, 800), 800.0),
            ("V0", *at(-900, 5), 900.0),
            ("V0", *at(1200 * 0.12 / 0.15, -1200), 1700.0),
            ("V0", *at(-1500, 1500), 2100.0),
            ("V0", *at(0, -700), 700.0),
        ],
        names=("view", "ra", "dec", "distance_kpc"),
    )
    got = casestudies.classify_false_positives(
        fps, metrics.truth_table(truth), mock, sample, found=np.array([True]), distance_kpc=100.0
    )
    assert list(got["fp_class"])[:4] == [
        "duplicate on the found target",
        "near the target but > 100 kpc",
        "on an uncatalogued group",
        "on a bright star or foreground galaxy",
    ]
    assert got["fp_class"][5] == "nothing"
    assert got["fp_class"][6] == "on another catalogued cluster" and got["structure_z"][6] == pytest.approx(0.3)
    rows = casestudies.breakdown(got)
    assert [r["fp_class"] for r in rows] == list(casestudies.FP_CLASSES)
    assert sum(r["n"] for r in rows) == len(fps)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Six mock clusters, one view each, rendered, stretched and labelled (half in the test set)."""
    tmp = tmp_path_factory.mktemp("cases")
    cfg = small_images_cfg(
        views_per_cluster=1,
        shards=1,
        mock={
            "mag_limit": 21.0,
            "exact_mag": 18.5,
            "groups_per_deg2": 0.0,
            "bright_stars_per_deg2": 0.0,
            "foreground_per_deg2": 0.0,
        },
        split={"by": "view", "test_fraction": 0.67},
    )
    cat = small_catalogue(6)
    views = plan_views(cat, 1, 30.0, seed=4, shards=1)
    write_views(views, tmp / "views.ecsv")
    write_conformed("catalogue", cat, tmp / "sample.ecsv")
    acquire_shard(tmp / "views.ecsv", 0, tmp / "fits", tmp / "fits_0.json", cfg, 4, truth_path=tmp / "truth_0.ecsv")
    stretch_shard(tmp / "views.ecsv", 0, tmp / "fits", tmp / "png", tmp / "png_0.json", cfg)
    labels = build_labels(tmp / "views.ecsv", [tmp / "png_0.json"], tmp / "labels.ecsv", tmp / "images.json", cfg, 4)
    return tmp, labels


def test_case_studies_and_false_positives_end_to_end(rendered):
    tmp, labels = rendered
    test = labels[(labels["split"] == "test") & ~labels["flipped"]]
    assert len(test) >= 4
    rows = []
    size = 80
    for k, t in enumerate(test):
        kpa = kpc_per_arcsec(float(t["z"]))
        for d, score in ((20.0 + 60 * k, 0.95), (50.0, 0.9), (300.0, 0.85), (3000.0, 0.1)):
            ra, dec = float(t["ra"]), float(t["dec"]) + d / kpa / 3600.0
            x, y = sky_to_png_pixel(str(t["fits"]), ra, dec, size)
            rows.append(
                dict(
                    view=str(t["view"]),
                    x=float(x),
                    y=float(y),
                    x0=float(x) - 8,
                    y0=float(y) - 8,
                    x1=float(x) + 8,
                    y1=float(y) + 8,
                    score=score,
                    ra=ra,
                    dec=dec,
                )
            )
    write_conformed("predictions", Table(rows=rows), tmp / "predictions.ecsv")
    ev = {
        k: tmp / "ev" / v
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
    evaluate_stage.evaluate_test(
        tmp / "predictions.ecsv", tmp / "labels.ecsv", ev, cfg={"chosen_threshold": 50}, sample=tmp / "sample.ecsv"
    )
    out = {
        k: tmp / "cs" / v
        for k, v in dict(
            cases="cases.ecsv",
            fp_ecsv="fp.ecsv",
            fp_csv="fp.csv",
            fp_tex="fp.tex",
            fp_pdf="fp.pdf",
            fp_png="fp.png",
            summary="cs.json",
        ).items()
    }
    out["case_pdfs"] = [tmp / "cs" / f"fig{n:02d}.pdf" for n in range(8, 12)]
    out["case_pngs"] = [tmp / "cs" / f"fig{n:02d}.png" for n in range(8, 12)]
    res = casestudies.case_studies(
        tmp / "predictions.ecsv",
        tmp / "labels.ecsv",
        tmp / "sample.ecsv",
        [tmp / "truth_0.ecsv"],
        ev["distances"],
        ev["recovered"],
        ev["summary"],
        out,
    )
    for path in out.values():
        for p in path if isinstance(path, list) else [path]:
            assert p.exists() and p.stat().st_size > 0, p
    n = len(test)
    # at 50 %: per image 3 passing boxes, one TP (the 20+60k kpc box where <= 100 kpc) -> the rest FPs
    summary = json.loads(ev["summary"].read_text())
    assert res["n_false_positives"] == summary["at_chosen"]["fp"] == 3 * n - summary["at_chosen"]["tp"]
    classes = {r["fp_class"]: r["n"] for r in res["false_positive_classes"]}
    # the 300 kpc boxes, and the top boxes at 140 and 200 kpc (images 2, 3; found through their 50 kpc box)
    far_top = sum(1 for k in range(n) if 20.0 + 60 * k > 100.0)
    assert classes["near the target but > 100 kpc"] == n + far_top  # no groups, stars or foreground here
    assert classes["duplicate on the found target"] == n - far_top  # the 50 kpc box beside a closer TP box
    assert classes["on an uncatalogued group"] == 0 and classes["on a bright star or foreground galaxy"] == 0
    assert sum(classes.values()) == res["n_false_positives"]
    cases = Table.read(out["cases"], format="ascii.ecsv")
    assert len(cases) == 4 and len(set(cases["view"])) == 4
    assert np.all(cases["n_target_in_top_box"] >= 1)  # the top box lies on the rendered cluster
