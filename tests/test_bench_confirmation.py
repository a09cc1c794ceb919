"""The operating selection on blank real pixels (src/deepcee/bench/confirmation.py):
random boxes inside the fields, the purity projection's arithmetic, the whole blank-sky path on a
tiny synthetic field, and refusal of bad arguments."""

from __future__ import annotations

import json

import numpy as np
import pytest
from astropy.table import Table

from deepcee.bench import confirmation as bc
from deepcee.core.errors import DeepCeeError
from deepcee.core.seeds import rng

SHAPES = {"wide": (160, 240), "small": (100, 100)}  # (ny, nx)


def test_random_positions_lie_inside_their_field_and_are_seeded():
    side = 50.0
    pos = bc.random_positions(SHAPES, side, 2000, rng(7, "test"))
    assert len(pos) == 2000
    for name, x, y in pos:
        ny, nx = SHAPES[name]
        assert x - side / 2 >= -0.5 and x + side / 2 <= nx - 0.5  # the whole box on the field
        assert y - side / 2 >= -0.5 and y + side / 2 <= ny - 0.5
    share = np.mean([name == "wide" for name, _, _ in pos])
    assert share == pytest.approx(190 * 110 / (190 * 110 + 50 * 50), abs=0.03)  # each field by the room it offers
    assert bc.random_positions(SHAPES, side, 2000, rng(7, "test")) == pos  # seeded
    assert bc.random_positions(SHAPES, side, 2000, rng(8, "test")) != pos


def test_random_positions_refuse_a_box_larger_than_a_field():
    with pytest.raises(DeepCeeError, match="does not fit"):
        bc.random_positions(SHAPES, 120.0, 10, rng(1, "test"))


def test_purity_projection_arithmetic_and_interval():
    true, false = [2.0, 0.9], [bc.rate(10, 1.0), bc.fraction(1, 100)]
    p = bc.project_purity(true, false, rng(3, "test"), draws=20_000)
    assert p["true_per_deg2"] == pytest.approx(1.8)
    assert p["false_per_deg2"] == pytest.approx(0.1)
    assert p["purity"] == pytest.approx(1.8 / 1.9)
    assert 0 < p["ci_lo"] <= p["purity"] <= p["ci_hi"] <= 1
    assert p["false_interval"][0] <= 0.1 <= p["false_interval"][1]
    assert bc.project_purity(true, false, rng(3, "test"), draws=20_000) == p  # seeded
    fixed = bc.project_purity([1.0], [0.25], rng(3, "test"), draws=1000)
    assert (fixed["purity"], fixed["ci_lo"], fixed["ci_hi"]) == pytest.approx((0.8, 0.8, 0.8))
    none_pass = bc.project_purity(true, [bc.rate(10, 1.0), bc.fraction(0, 400)], rng(3, "test"), draws=20_000)
    assert none_pass["purity"] == 1.0 and none_pass["ci_hi"] == 1.0 and none_pass["ci_lo"] < 1.0
    assert bc.project_purity(true, [bc.fraction(0, 0)], rng(3, "test"))["purity"] is None  # nothing measured


def test_redmapper_density_and_completeness_inputs(tmp_path):
    cat = Table(
        {
            "ra": [1.0, 5.0, 9.0, 5.0, 20.0],
            "dec": [1.0, 5.0, 9.0, 5.0, 5.0],
            "z": [0.15, 0.3, 0.12, 0.15, 0.15],
            "richness": [25.0, 40.0, 20.0, 10.0, 50.0],  # the 4th is a group, the 5th outside the region
        }
    )
    area = 10 * np.degrees(np.sin(np.radians(10.0))) * 1.0  # 10 deg of RA x (sin 10 - sin 0) rad -> deg2
    d = bc.redmapper_density(cat, (0, 10, 0, 10), (0.1, 0.2), 20.0)
    assert d["n"] == 2 and d["area_deg2"] == pytest.approx(area) and d["per_deg2"] == pytest.approx(2 / area)
    assert bc.redmapper_density(cat, (0, 10, 0, 10), (0.0, np.inf), 20.0)["n"] == 3
    assert bc.completeness_inputs(tmp_path, None)["0.1<z<0.2"]["value"] == 0.9  # no search summary: the goal
    assert bc.completeness_inputs(tmp_path, 0.8)["all z"]["value"] == 0.8
    (tmp_path / "07_search").mkdir()
    bands = [
        {"band": "trained", "n_found": 9, "n_clusters": 10},
        {"band": "trained_poor", "n_found": 3, "n_clusters": 5},
        {"band": "all", "n_found": 20, "n_clusters": 30},
    ]
    (tmp_path / "07_search" / "summary.json").write_text(
        json.dumps({"natural": {"completeness": {"confirmed": bands}}})
    )
    got = bc.completeness_inputs(tmp_path, None)
    assert got["0.1<z<0.2"]["value"] == bc.fraction(12, 15)  # lambda >= 20: trained + trained_poor
    assert got["all z"]["value"] == bc.fraction(20, 30)


def _synthetic_results(tmp_path):
    """A results folder with one 240 x 160 px noise field and four blank-sky boxes on it."""
    from astropy.wcs import WCS

    from deepcee.core.contracts import rows_table, write_table
    from deepcee.images.fits import BANDS, write_view_fits

    w = WCS(naxis=2)
    w.wcs.ctype, w.wcs.crval, w.wcs.crpix = ["RA---TAN", "DEC--TAN"], [10.0, -60.0], [120.5, 80.5]
    w.wcs.cd = np.diag([-1.584, 1.584]) / 3600.0
    noise = rng(0, "test-field").normal(0.0, 0.01, size=(3, 160, 240)).astype(np.float32)
    fits_path = tmp_path / "field.fits"
    write_view_fits(fits_path, {b: noise[k] for k, b in enumerate(BANDS)}, w)
    (tmp_path / "02_images" / "real_fields").mkdir(parents=True)
    manifest = {"fields": [{"field": "fake", "fits": str(fits_path)}]}
    (tmp_path / "02_images" / "real_fields" / "test.json").write_text(json.dumps(manifest))
    rows = []
    for x, y, score in [(60, 80, 0.9), (70, 80, 0.7), (180, 80, 0.6), (100, 40, 0.3)]:
        ra, dec = (float(v) for v in w.pixel_to_world_values(x, y))
        rows.append(("fake", 0, x, y, score, ra, dec, 40.0, False, ""))
    blank = tmp_path / "04_evaluate" / "real_sky" / "blank"
    blank.mkdir(parents=True)
    write_table("blank_detections", rows_table("blank_detections", rows), blank / "detections.ecsv")
    area = 240 * 160 * (1.584 / 3600) ** 2
    summary = {"threshold": 50.0, "n_false": 3, "false_per_deg2": 3 / area, "false_per_deg2_interval": [0, 1]}
    (blank / "summary.json").write_text(json.dumps(summary | {"area_deg2": area}))
    return area


def test_blank_sky_selection_and_projection_on_a_synthetic_field(tmp_path, monkeypatch, capsys):
    """Measurement faked (the left half of the field is 'red'): the merge, the threshold, the
    confirmed count per deg², the pass rates and the projection all follow from it."""
    import deepcee.redshift.stage as stage
    import deepcee.search.merge as merge

    def fake(cat, region, relation, cfg):
        red = region.centre[0] < 120
        return {"colour_excess": 10.0 if red else 0.0, "z_est": np.nan, "richness_est": np.nan}

    monkeypatch.setattr(stage, "measure_detection", fake)
    monkeypatch.setattr(merge, "load_catalogues", lambda config, path: {})
    area = _synthetic_results(tmp_path)
    blank = bc.blank_sky_selection(tmp_path, {"catalogue": {"match_radius_arcmin": 3.0}}, 400, 5, box_arcsec=40.0)
    a, b = blank["a"], blank["b"]
    assert a["n_candidates"] == 2  # 0.9 and 0.7 are one candidate (15.8" apart); 0.3 is below 0.5
    assert a["confirmed"]["n"] == 1 and a["confirmed"]["per_deg2"] == pytest.approx(1 / area)
    lo, hi = a["confirmed"]["interval"]
    assert lo < 1 / area < hi
    assert blank["detector"]["n_false"] == 2
    assert b["detections"]["all z"]["passing"] == 1 and b["detections"]["all z"]["n"] == 2
    side = 40 / 1.584
    expected = (120 - (side / 2 - 0.5)) / (240 - side)  # the share of the allowed centres with x < 120
    assert b["random"]["all z"]["n"] == 400
    assert b["random"]["all z"]["fraction"] == pytest.approx(expected, abs=0.07)
    assert bc.blank_sky_selection(tmp_path, {"catalogue": {}}, 400, 5, box_arcsec=40.0)["b"] == b  # seeded

    cat = Table({"ra": [160.0, 170.0], "dec": [20.0, 30.0], "z": [0.15, 0.3], "richness": [30.0, 30.0]})
    proj = bc.projection(blank, bc.completeness_inputs(tmp_path, None), cat, (150, 220, 10, 50), 20.0, 5, 5000)
    trained = proj["by_z"]["0.1<z<0.2"]
    rm_area = trained["redmapper"]["area_deg2"]
    direct = trained["purity"]["direct (a)"]
    assert direct["true_per_deg2"] == pytest.approx(0.9 / rm_area)
    assert direct["false_per_deg2"] == pytest.approx(1 / area)  # no calibration: every confirmed counts
    via_detections = trained["purity"]["blank-sky detections"]
    assert via_detections["false_per_deg2"] == pytest.approx(2 / area * 0.5)
    assert direct["ci_lo"] <= direct["purity"] <= direct["ci_hi"]
    json.dumps(bc._jsonable({"blank": blank, "projection": proj}), allow_nan=False)  # strict JSON
    bc.print_blank(blank, proj)
    printed = capsys.readouterr().out
    assert "(c) projected real-sky purity" in printed and "direct (a)" in printed


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--positions", "0"], "--positions must be at least 1"),
        (["--completeness", "1.5"], "--completeness must be in (0, 1]"),
        (["--box-arcsec", "-3"], "--box-arcsec must be positive"),
        (["--redmapper-region", "10", "5", "0", "1"], "--redmapper-region"),
        (["--results", "{tmp}/missing"], "results folder not found"),
    ],
)
def test_bad_arguments_are_one_line(tmp_path, capsys, argv, message):
    config = tmp_path / "config.yaml"
    config.write_text("seed: 1\n")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    with pytest.raises(SystemExit) as err:
        bc.main(["--config", str(config), *argv])
    text = str(err.value.code)
    assert text.startswith("bench.confirmation: ") and message in text and "\n" not in text
