"""deepcee.paper.numbers: every number the paper quotes, from fake stage outputs (tests/paper_fakes.py)."""

import csv
import json

import pytest

from deepcee.core.errors import DeepCeeError
from deepcee.paper import numbers
from deepcee.paper.numbers import (
    PUBLISHED,
    PUBLISHED_TABLE2,
    best_row,
    collect_numbers,
    format_value,
    parse_numbers_tex,
    read_sweep,
    write_comparison,
    write_numbers,
)
from paper_fakes import SWEEP_TEST, make_results

CONFIG = {
    "seed": 2019,
    "catalogue": {"source": "bundled", "cuts": {"z_min": 0.1, "z_max": 0.2, "min_members": 20}},
    "images": {"source": "mock", "views_per_cluster": 2, "pixels": 500, "stretch": {"output_size": 500}},
    "train": {
        "detector": {"backbone": "mobilenet_v3_large_fpn", "weights": "none"},
        "optimiser": {"name": "adamw", "lr": 0.0003},
        "batch_size": 4,
    },
    "evaluate": {"distance_kpc": 100.0},
}


@pytest.fixture
def fake(tmp_path):
    return make_results(tmp_path, figures=False)


def test_counts_come_from_the_contract_files(fake):
    n = collect_numbers(fake, CONFIG)
    assert n["NSample"] == 10
    assert n["NImages"] == 20 and n["NTest"] == 4 and n["NTrain"] == 16
    assert n["NTrainAugmented"] == 32  # flipped copies are rows too
    assert n["NRedmapperClusters"] == 6
    assert n["TrainSteps"] == 50 and n["TrainDevice"] == "cpu"
    assert n["Backbone"] == "mobilenet_v3_large_fpn" and n["ImageSizePx"] == 500
    assert n["TrainSizePx"] == 500  # train.detector.image_size absent/null: the PNG side


def test_train_size_is_the_detector_image_size_when_set(fake):
    config = {**CONFIG, "train": {**CONFIG["train"], "detector": {**CONFIG["train"]["detector"], "image_size": 320}}}
    assert collect_numbers(fake, config)["TrainSizePx"] == 320


def test_sweep_numbers_are_the_chosen_row_of_table2(fake):
    n = collect_numbers(fake, CONFIG)
    row = next(r for r in read_sweep(fake["sweep_test"]) if r["threshold"] == 80)
    assert n["TestBestThreshold"] == 80
    assert (n["TestBestTP"], n["TestBestFP"], n["TestBestFN"]) == (row["tp"], row["fp"], row["fn"])
    assert n["TestBestFOne"] == pytest.approx(row["f1"])
    assert n["TestZeroFP"] == SWEEP_TEST[0][2]
    assert n["RMBestThreshold"] == 70


def test_summary_numbers_std_error_and_ks(fake):
    n = collect_numbers(fake, CONFIG)
    assert n["StdErrKpc"] == 21.5
    assert n["KSRedshift"] == 0.1 and n["KSRichness"] == 0.2 and n["KSCritical"] == 0.43
    assert n["KSBCG"] is None  # the bundled catalogue has no BCG magnitudes: n/a, not invented
    assert "cannot reject" in n["KSVerdict"] and "BCG" in n["KSVerdict"]


def test_best_row_ties_go_to_the_higher_threshold_unless_chosen():
    rows = [{"threshold": t, "f1": f} for t, f in ((10, 0.5), (20, 0.7), (30, 0.7), (40, 0.1))]
    assert best_row(rows)["threshold"] == 30
    assert best_row(rows, chosen=10)["threshold"] == 10


def test_sweep_with_another_column_name_is_refused_by_name(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("threshold_pct,tp,fp,fn,precision,recall,f1\n0,1,9,0,0.1,1.0,0.18\n")
    with pytest.raises(DeepCeeError, match=r"s.csv: missing column 'threshold'"):
        read_sweep(path)


def test_bad_sweep_is_one_line_naming_the_file(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("threshold,tp,fp,precision,recall,f1\n0,1,2,0.3,1,0.5\n")
    with pytest.raises(DeepCeeError, match=r"bad.csv: missing column 'fn'"):
        read_sweep(path)


def test_summary_missing_a_contract_key_is_refused_by_name(fake):
    data = json.loads(fake["evaluate_summary"].read_text())
    del data["sigma_kpc"]
    fake["evaluate_summary"].write_text(json.dumps(data))
    with pytest.raises(DeepCeeError, match=r"04_evaluate/summary.json: missing key 'sigma_kpc'"):
        collect_numbers(fake, CONFIG)


def test_ks_property_without_its_statistic_is_refused_by_name(fake):
    data = json.loads(fake["ks"].read_text())
    del data["properties"]["z"]["statistic"]
    fake["ks"].write_text(json.dumps(data))
    with pytest.raises(DeepCeeError, match=r"ks_test.json: key 'properties.z.statistic'"):
        collect_numbers(fake, CONFIG)


def test_labels_missing_a_column_is_refused_by_name(fake):
    from astropy.table import Table

    table = Table.read(fake["labels"], format="ascii.ecsv")
    table.remove_column("flipped")
    table.write(fake["labels"], format="ascii.ecsv", overwrite=True)
    with pytest.raises(DeepCeeError, match=r"labels.ecsv: missing column 'flipped'"):
        collect_numbers(fake, CONFIG)


def test_missing_stages_become_na_not_errors(tmp_path):
    n = collect_numbers({}, {})
    assert n["NSample"] is None and n["TestBestFOne"] is None
    missing = write_numbers(n, tmp_path / "numbers.tex", tmp_path / "numbers.json")
    assert "NSample" in missing
    assert r"\newcommand{\NSample}{\textit{n/a}}" in (tmp_path / "numbers.tex").read_text()


def test_numbers_tex_round_trip_and_formatting(fake, tmp_path):
    n = collect_numbers(fake, CONFIG)
    write_numbers(n, tmp_path / "numbers.tex", tmp_path / "numbers.json")
    macros = parse_numbers_tex((tmp_path / "numbers.tex").read_text())
    assert macros["NSample"] == "10"
    assert macros["PubTestZeroFP"] == r"60\,997"
    assert macros["PubStdErrKpc"] == "17.40"
    assert macros["Backbone"] == r"mobilenet\_v3\_large\_fpn"
    assert macros["TestBestPrecision"] == f"{n['TestBestPrecision']:.4f}"
    data = json.loads((tmp_path / "numbers.json").read_text())
    assert data["numbers"]["NSample"] == 10
    assert format_value("PubKSCritical", 0.1289) == "0.1289"


def test_comparison_tables_carry_the_published_numbers(fake, tmp_path):
    n = collect_numbers(fake, CONFIG)
    write_comparison(
        n,
        tmp_path / "c.tex",
        tmp_path / "c.csv",
        sweeps={"test": fake["sweep_test"], "redmapper": fake["sweep_redmapper"]},
        sweeps_tex=tmp_path / "s.tex",
        sweeps_csv=tmp_path / "s.csv",
    )
    text = (tmp_path / "c.tex").read_text()
    for value in ("497", "1988", "1784", "204", "17.40", "0.06275", "0.07335", "0.02193", "0.1289", "31"):
        assert value in text
    sweeps = (tmp_path / "s.tex").read_text()
    assert "60997" in sweeps and "9270" in sweeps
    assert sweeps.count("\\\\") >= 2 * len(PUBLISHED_TABLE2)
    rows = {(r["set"], int(r["threshold_pct"])): r for r in csv.DictReader((tmp_path / "s.csv").open())}
    best = rows[("test", PUBLISHED["TestBestThreshold"])]
    assert (int(best["pub_tp"]), int(best["pub_fp"]), int(best["pub_fn"])) == (
        PUBLISHED["TestBestTP"],
        PUBLISHED["TestBestFP"],
        PUBLISHED["TestBestFN"],
    )
    ours = rows[("test", 80)]
    assert (int(ours["tp"]), int(ours["fp"]), int(ours["fn"])) == (n["TestBestTP"], n["TestBestFP"], n["TestBestFN"])


def test_boxes_per_image_intervals_and_both_counting_rules_from_the_summary(fake):
    n = numbers.collect_numbers(fake)
    assert (n["TestBoxesMin"], n["TestBoxesMedian"], n["TestBoxesMax"]) == (120, 150.0, 210)
    assert n["TestZeroFPNormalised"] == 300 * 20 - 19 and n["TestExtraBoxesRule"] == "count_as_fp"
    assert n["TestOtherRuleBestThreshold"] == 80.0
    assert n["TestBestFOneLo"] < n["TestBestFOne"] < n["TestBestFOneHi"]
    assert (n["TestStdErrKpcLo"], n["TestStdErrKpcHi"], n["TestIntervalPct"]) == (15.0, 28.0, 95.0)
    assert n["RMBoxesMedian"] == 150.0 and n["RMBestFOneLo"] is not None
    assert numbers.format_value("TestBoxesMedian", 150.0) == "150"
    assert numbers.format_value("TestBestFOneLo", 0.61234) == "0.6123"
    rows = {m: (pub, ours) for m, _, pub, ours in numbers.comparison_rows(n)}
    assert rows["TestBoxesMedian"] == (300, 150.0) and rows["TestZeroFPNormalised"] == (60997, 5981)


def test_redshift_numbers_from_the_summary():
    """The redshift stage's macros: letters only, intervals as Lo/Hi, n/a where not measured."""
    summary = {
        "interval": 0.95,
        "outlier_threshold": 0.05,
        "calibration": {"n_measured": 200, "n_training_clusters": 371, "redshift": {"nmad_in_sample": 0.01}},
        "sets": {
            "test": {
                "n_detections": 50,
                "n_z_missing": 4,
                "n_richness_missing": 6,
                "n_recovered_clusters": 33,
                "redshift": {
                    "n": 31,
                    "sigma_nmad": 0.012,
                    "sigma_nmad_ci": [0.009, 0.016],
                    "bias": -0.002,
                    "bias_ci": [-0.005, 0.001],
                    "outlier_fraction": 0.03,
                    "outlier_fraction_ci": [0.0, 0.1],
                },
                "richness": {
                    "n": 30,
                    "scatter_log10": 0.15,
                    "scatter_log10_ci": [0.1, 0.2],
                    "slope": float("nan"),
                    "slope_ci": [float("nan"), float("nan")],
                },
            }
        },
    }
    m = numbers.redshift_numbers(summary)
    assert all(name.isalpha() for name in m)
    assert m["RzTestSigmaZ"] == pytest.approx(0.012) and m["RzTestSigmaZHi"] == pytest.approx(0.016)
    assert m["RzTestZMissing"] == 4 and m["RzCalibClusters"] == 200
    assert format_value("RzTestRichSlope", m["RzTestRichSlope"]) == r"\textit{n/a}"  # NaN: n/a, never a number
    assert m["RzRedmapperDetections"] is None  # a set that was not run


def test_search_numbers_from_the_summary():
    m = numbers.search_numbers(
        {"n_tiles": 78, "completeness": {"n_clusters": 4, "n_found": 1, "fraction": 0.25, "ci_lo": 0.1, "ci_hi": 0.5}}
    )
    assert all(name.isalpha() for name in m)
    assert m["SearchTiles"] == 78 and m["SearchRedmapperFound"] == 1
    assert m["SearchCompleteness"] == pytest.approx(25.0) and m["SearchCompletenessHi"] == pytest.approx(50.0)
    assert m["SearchPurity"] is None  # no purity in the summary: n/a
    confirmed = numbers.search_numbers(
        {
            "confirmation": {
                "min_red_excess": 5.0,
                "n_confirmed": 12,
                "purity": {"purity": 0.9, "ci_lo": 0.8, "ci_hi": 0.95},
                "injection": {"headline": {"completeness": 0.5, "ci_lo": 0.4, "ci_hi": 0.6}},
            }
        }
    )
    assert confirmed["SearchConfirmed"] == 12 and confirmed["SearchConfirmedPurity"] == pytest.approx(90.0)
    assert confirmed["SearchConfirmedInjHeadlineHi"] == pytest.approx(60.0)
    assert confirmed["SearchInjHeadline"] is None  # the detector's own headline absent: n/a


def test_blank_sky_and_realism_macros_from_their_summaries():
    """The blank-sky rate and the realism AUC reach numbers.tex as their summaries give them; a run
    without them (real sky off, a survey's images) gives the None the paper's \\ifartefact reads."""
    assert numbers.blank_sky_numbers({}) == {"BlankAreaDeg": None}
    assert numbers.realism_numbers({}) == {"RealismAUC": None}
    blank = numbers.blank_sky_numbers(
        {
            "threshold": 80.0,
            "area_deg2": 0.173,
            "n_tiles": 10,
            "n_boxes": 4,
            "n_false": 3,
            "false_per_deg2": 17.3,
            "false_per_deg2_interval": [3.6, 50.7],
            "fields": ["a", "b"],
        }
    )
    assert blank["BlankKnown"] == 1 and blank["BlankFalse"] == 3 and blank["BlankTiles"] == 10
    assert (blank["BlankPerDegLo"], blank["BlankPerDegHi"]) == (3.6, 50.7)
    assert blank["BlankIntervalPct"] == 95  # the Poisson interval's level when the summary names none
    realism = numbers.realism_numbers(
        {
            "auc": {"logistic": {"auc": 0.94, "ci": [0.91, 0.97]}},
            "goal_auc": 0.65,
            "n_real_fields": 10,
            "n_crops": {"real": 400, "mock": 370},
        }
    )
    assert realism == {
        "RealismAUC": 0.94,
        "RealismAUCLo": 0.91,
        "RealismAUCHi": 0.97,
        "RealismGoalAUC": 0.65,
        "RealismRealFields": 10,
        "RealismCrops": 770,
    }


def test_comparison_without_the_redmapper_stage_quotes_none_of_it(fake, tmp_path):
    """evaluate.redmapper.enabled: false (the rule then declares no redMaPPer file): no redMaPPer row
    in the comparison table, no Table 3 section in the row-by-row sweeps, rather than rows of "--"."""
    inputs = {k: v for k, v in fake.items() if k not in ("sweep_redmapper", "redmapper_summary", "redmapper_labels")}
    n = collect_numbers(inputs, CONFIG)
    assert n["NRedmapperClusters"] is None and n["RMBestFOne"] is None
    write_comparison(
        n,
        tmp_path / "c.tex",
        tmp_path / "c.csv",
        sweeps={"test": fake["sweep_test"], "redmapper": None},
        sweeps_tex=tmp_path / "s.tex",
        sweeps_csv=tmp_path / "s.csv",
        redmapper=False,
    )
    for name in ("c.tex", "c.csv", "s.tex", "s.csv"):
        text = (tmp_path / name).read_text()
        assert "redmapper" not in text.lower() and "Table 3" not in text, name
    assert "Test set (Table 2)" in (tmp_path / "s.tex").read_text()
    assert {r["set"] for r in csv.DictReader((tmp_path / "s.csv").open())} == {"test"}
