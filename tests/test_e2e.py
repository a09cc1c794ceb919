"""CI end to end: the shrunken config (configs/ci.yaml) through the whole DAG to paper/ms.pdf and the report.

Runs in a temporary COPY of the workflow (results never collide with a user's), then checks
that every artefact of the paper exists and is non-empty, that results/numbers.tex matches
the tables, and that a second run has nothing to do.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from deepcee.bench.workflow import workflow_env
from deepcee.core.contracts import read_table
from deepcee.paper.numbers import parse_numbers_tex, read_sweep

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

# The paper's Figures 1-17, then beyond it: false positives by cause (18), redshifts and
# richnesses (19, 20), the blind search (21-23), the test set over a real sky (24).
FIGURES = [f"fig{n:02d}" for n in range(1, 27)]
TABLES = [
    "table1_examples",
    "table2_sweep_test",
    "table3_sweep_redmapper",
    "tableA1_losses",
    "table_comparison",
    "table_comparison_sweeps",
    "table_false_positives",
    "table_search_new_candidates",
    "table_real_sky_sweep",
    "table_real_sky_fields",
    "table_real_sky_members",
]
ARTEFACTS = [
    "results/numbers.tex",
    "results/provenance.json",
    "results/audit.html",
    "paper/ms.pdf",
    "results/report.html",
]


@pytest.fixture(scope="module")
def ci_run(ci_local_run):
    """The session's local CI run (conftest.ci_local_run), plus its report and a dry re-run."""
    work = ci_local_run
    snakemake = str(Path(sys.executable).parent / "snakemake")
    base = [snakemake, "--cores", "2", "--configfile", "configs/ci.yaml"]
    env = workflow_env()
    report = subprocess.run(
        base + ["--report", "results/report.html"], cwd=work, env=env, capture_output=True, text=True
    )
    assert report.returncode == 0, (report.stdout + report.stderr)[-4000:]
    again = subprocess.run(base + ["-n"], cwd=work, env=env, capture_output=True, text=True)
    return {"dir": work, "again": again.stdout + again.stderr}


def test_every_artefact_exists_and_is_non_empty(ci_run):
    work = ci_run["dir"]
    for name in FIGURES:
        for ext in ("pdf", "png"):
            found = list((work / "results/figures").glob(f"{name}_*.{ext}"))
            assert found, f"no results/figures/{name}_*.{ext}"
            assert all(p.stat().st_size > 0 for p in found)
    for name in TABLES:
        path = work / "results/tables" / f"{name}.tex"
        assert path.exists() and path.stat().st_size > 0, path
    for rel in ARTEFACTS:
        path = work / rel
        assert path.exists() and path.stat().st_size > 0, rel
    assert (work / "paper/ms.pdf").read_bytes()[:5] == b"%PDF-"


def test_numbers_match_the_tables(ci_run):
    work = ci_run["dir"]
    macros = parse_numbers_tex((work / "results/numbers.tex").read_text())
    rows = read_sweep(work / "results/tables/table2_sweep_test.csv")
    chosen = int(macros["TestBestThreshold"])
    row = next(r for r in rows if int(round(r["threshold"])) == chosen)
    assert int(macros["TestBestTP"]) == int(row["tp"])
    assert int(macros["TestBestFP"].replace("\\,", "")) == int(row["fp"])
    assert int(macros["TestBestFN"]) == int(row["fn"])
    assert float(macros["TestBestFOne"]) == pytest.approx(row["f1"], abs=5e-5)
    assert int(macros["NTest"]) == int(row["tp"] + row["fn"])  # TP + FN = test images on every row
    for r in rows:  # the paper's counting: every passing box is a TP or an FP (Tables 2 and 3)
        assert r["tp"] + r["fp"] == r["passing"], r
    rm_rows = read_sweep(work / "results/tables/table3_sweep_redmapper.csv")
    rm = next(r for r in rm_rows if int(round(r["threshold"])) == int(macros["RMBestThreshold"]))
    assert float(macros["RMBestFOne"]) == pytest.approx(rm["f1"], abs=5e-5)
    real = read_sweep(work / "results/tables/table_real_sky_sweep.csv")
    best_real = next(r for r in real if int(round(r["threshold"])) == int(macros["RealSkyBestThreshold"]))
    assert float(macros["RealSkyBestFOne"]) == pytest.approx(best_real["f1"], abs=5e-5)
    # every test view over a real test field (evaluate.real_sky.views_per_cluster: null), each
    # field's rows adding up to the pooled one
    assert int(macros["RealSkyImages"]) == int(macros["NTest"])
    with open(work / "results/tables/table_real_sky_fields.csv", newline="") as handle:
        fields = list(csv.DictReader(handle))
    pooled = next(r for r in fields if r["field"] == "pooled")
    per_field = [r for r in fields if r["field"] != "pooled"]
    assert len(per_field) == int(macros["RealSkyNFields"]) >= 3
    for key in ("images", "tp", "fp", "fn"):
        assert sum(int(r[key]) for r in per_field) == int(pooled[key]), key
    # every real-sky view once per member kind (config.yaml's evaluate.real_sky.member_kinds): real-galaxy
    # members drawn from the galaxy library (measured at 1.584", summed to ci's 6.336" pixels)
    for key in ("RealMembersImages", "ScatteredN", "BlankCropN"):
        assert int(macros[key]) == int(macros["RealSkyImages"]), key
    assert float(macros["ScatteredThreshold"]) == float(macros["RealSkyBestThreshold"])
    members = read_table("real_sky_members", work / "results/tables/table_real_sky_members.csv")
    assert list(members["kind"]) == ["galsim", "real", "scattered", "blank"]
    assert int(members["tp"][0]) == int(macros["RealSkyTP"])
    assert (work / "results/figures/fig29_galaxy_library.png").stat().st_size > 0
    assert float(macros["BlankAreaDeg"]) > 0 and float(macros["BlankPerDegLo"]) <= float(macros["BlankPerDeg"])
    assert 0.0 <= float(macros["RealismAUC"]) <= 1.0
    assert float(macros["RealSkyFOneGap"]) == pytest.approx(
        float(macros["TestBestFOne"]) - float(macros["RealSkyBestFOne"]), abs=2e-4
    )
    with open(work / "results/tables/table_comparison.csv", newline="") as handle:
        comparison = {r["macro"]: r for r in csv.DictReader(handle)}
    assert comparison["NSample"]["published"] == "497"
    assert comparison["NSample"]["this_run"] == macros["NSample"]
    numbers = json.loads((work / "results/06_paper/numbers.json").read_text())["numbers"]
    for key in (
        "NSample",
        "NImages",
        "NTrain",
        "NTest",
        "TrainSteps",
        "StdErrKpc",
        "KSRedshift",
        "KSCritical",
        "NRedmapperClusters",
        "TestBestThreshold",
        "RMBestThreshold",
        "TestBestFOneLo",
        "TestBestFOneHi",
        "TestBoxesMedian",
        "SearchTiles",
        "RzCalibClusters",
        "RealSkyBestFOne",
    ):
        assert numbers[key] is not None, f"{key} not produced by the CI run"


def test_provenance_and_audit(ci_run):
    work = ci_run["dir"]
    record = json.loads((work / "results/provenance.json").read_text())
    assert record["training_device"] != "unknown"
    assert record["config"]["catalogue"]["max_clusters"] == 40  # the ci.yaml override is the resolved config
    assert any(k.startswith("resources/") for k in record["inputs"])
    audit = json.loads((work / "results/06_paper/audit_summary.json").read_text())
    assert {"catalogue", "images", "train", "evaluate", "real_sky", "real_sky_members"} <= set(audit["sections"])
    # each real-sky view shown in its four member kinds, side by side
    assert len(audit["real_sky_member_kind_views"]) % 4 == 0 and audit["real_sky_member_kind_views"]
    # the figures are in the page (an Agg backend once left every plt.show() out of it)
    assert (work / "results/audit.html").read_text().count("data:image/jpeg") >= 8


def test_second_run_does_nothing(ci_run):
    assert "Nothing to be done" in ci_run["again"]


def test_search_summary_adds_up(ci_run):
    """The blind search's counts: every candidate above the threshold is known, an injected cluster
    found, or new; purity's true, group and false add up to the candidates; the tiles are at the
    grid's density and the candidates carry their box centres beside their position."""
    work = ci_run["dir"]
    s = json.loads((work / "results/07_search/summary.json").read_text())
    assert s["n_known"] + s["n_injected_found"] + s["n_new"] == s["n_candidates_above_threshold"]
    p = s["purity"]
    assert p["n_real"] + p["n_group"] + p["n_false"] == p["n_candidates"] == s["n_candidates_above_threshold"]
    assert sum(p["groups"]["n_detected"]) == p["n_group"]
    assert s["injection"]["headline"]["n_injected"] <= s["injection"]["n_injected"]
    assert s["tiles_per_deg2"] <= 70
    # the headline purity is at the sky's own density: candidates near injected clusters left out,
    # the rest true or false (groups and second looks false), the density named
    for name in ("detector", "confirmed"):
        n = s["natural"][name]
        assert n["n_judged"] + n["n_excluded_on_injected"] == n["n_candidates"]
        assert n["n_true"] + n["n_false"] == n["n_judged"] and n["n_on_group"] + n["n_second_look"] <= n["n_false"]
        assert n["match_radius_arcmin"] <= 1.0 and n["sky_clusters_per_deg2"] is not None
    assert s["natural"]["detector"]["n_candidates"] == s["n_candidates_above_threshold"]
    from deepcee.core.contracts import read_table

    cands = read_table("candidates", work / "results/07_search/candidates.ecsv")
    assert {"box_ra", "box_dec", "on_bcg"} <= set(cands.colnames)
