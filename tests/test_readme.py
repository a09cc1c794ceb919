"""The README is a front page, and every number in its results table is the measured run's.

The table under "What the default run gives (measured)" quotes the default run's
``results/numbers.tex`` (written by ``deepcee.paper.numbers``). ``ROWS`` below names, for each
row, the macro behind every number of its "this run" cell and of its "paper" cell, in the order
the numbers appear. The paper's column is checked against the published values
(``deepcee.paper.numbers.PUBLISHED``) always; this run's column against
``docs/measurements/default-run-numbers.tex``, the numbers.tex of the measured default run
(refreshed as the README says: ``python -m deepcee.bench.workflow --cores 2 --keep DIR``, then
``DIR/results/numbers.tex`` copied there). A README number equals its macro when it is the
macro's value rounded to the digits the README shows.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from deepcee.paper import numbers as numbers_module
from deepcee.paper.numbers import PUBLISHED, parse_numbers_tex

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
SNAPSHOT = REPO / "docs" / "measurements" / "default-run-numbers.tex"
SECTION = "## What the default run gives (measured)"
MAX_README_LINES = 250
MAX_ROWS = 13

#: row label -> (macros of the "this run" cell, macros of the "paper" cell), in reading order.
ROWS: dict[str, tuple[list[str], list[str]]] = {
    "sample / images / train (with flips) / test (clusters)": (
        ["NSample", "NImages", "NTrain", "NTrainAugmented", "NTest", "NTestClusters"],
        ["PubNSample", "PubNImages", "PubNTrain", "PubNTrainAugmented", "PubNTest"],
    ),
    "test set at the best threshold (the paper's counting)": (
        [
            "TestBestThreshold",
            "TestBestTP",
            "TestBestFP",
            "TestBestFN",
            "TestBestPrecision",
            "TestBestPrecisionLo",
            "TestBestPrecisionHi",
            "TestBestRecall",
            "TestBestRecallLo",
            "TestBestRecallHi",
            "TestBestFOne",
            "TestBestFOneLo",
            "TestBestFOneHi",
        ],
        ["PubTestBestThreshold", "PubTestBestPrecision", "PubTestBestRecall", "PubTestBestFOne"],
    ),
    "standard error of the centre (BCG centring, `train.predict.centre`)": (
        ["StdErrKpc", "TestStdErrKpcLo", "TestStdErrKpcHi", "TestBestTP"],
        ["PubStdErrKpc"],
    ),
    "the same predictions at their box centres (the paper's position)": (
        ["TestBoxCentreThreshold", "TestBoxCentreFOne", "StdErrKpcBoxCentre"],
        [],
    ),
    "boxes per test image at a score threshold of zero": (
        ["TestBoxesMin", "TestBoxesMax", "TestBoxesMedian", "TestZeroFP", "TestZeroFPNormalised"],
        ["PubTestBoxesMedian", "PubTestZeroFP"],
    ),
    "KS statistic, redshift / richness (critical value)": (
        ["KSRedshift", "KSRichness", "KSCritical"],
        ["PubKSRedshift", "PubKSRichness", "PubKSCritical"],
    ),
    "redMaPPer set at the best threshold": (
        [
            "NRedmapperClusters",
            "NRedmapperExcluded",
            "RMBestThreshold",
            "RMBestPrecision",
            "RMBestRecall",
            "RMBestFOne",
            "RMBestFOneLo",
            "RMBestFOneHi",
        ],
        ["PubNRedmapperClusters", "PubRMBestThreshold", "PubRMBestPrecision", "PubRMBestRecall", "PubRMBestFOne"],
    ),
    "**the test clusters over five real SDSS test fields** (no training view over any of them)": (
        [
            "RealSkyImages",
            "RealSkyBestThreshold",
            "RealSkyTP",
            "RealSkyFP",
            "RealSkyFN",
            "RealSkyBestPrecision",
            "RealSkyBestRecall",
            "RealSkyBestFOne",
            "RealSkyBestFOneLo",
            "RealSkyBestFOneHi",
            "RealSkyFOneGap",
            "RealSkyFOneAtSyntheticThreshold",
            "TestBestThreshold",
            "RealSkyStdErrKpc",
        ],
        [],
    ),
    "the same views with real SDSS galaxies as members; the controls: members scattered, the bare crop": (
        [
            "RealMembersThreshold",
            "RealMembersFOne",
            "RealMembersFOneLo",
            "RealMembersFOneHi",
            "ScatteredThreshold",
            "RealMembersFOneAtGalsimThreshold",
            "ScatteredWithBox",
            "BlankCropWithBox",
            "BlankCropN",
        ],
        [],
    ),
    "false detections on the blank real test fields (nothing injected)": (
        ["BlankAreaDeg", "BlankTiles", "BlankThreshold", "BlankBoxes", "BlankPerDeg", "BlankPerDegLo", "BlankPerDegHi"],
        [],
    ),
    "realism: mock crops against real crops (`images_realism`, whole fields held out)": (
        ["RealismAUC", "RealismAUCLo", "RealismAUCHi", "RealismGoalAUC", "RealismCrops", "RealismRealFields"],
        [],
    ),
    "redshift of recovered clusters, σ_z/(1+z)": (
        [
            "RzTestSigmaZ",
            "RzTestSigmaZLo",
            "RzTestSigmaZHi",
            "RzTestNZ",
            "RzRedmapperSigmaZ",
            "RzRedmapperSigmaZLo",
            "RzRedmapperSigmaZHi",
            "RzRedmapperNZ",
            "RzTestBiasZ",
        ],
        [],
    ),
    "blind search of the default region (`search.region`)": (
        [
            "SearchAreaDeg",
            "SearchTiles",
            "SearchTilesPerDegSq",
            "SearchCandidates",
            "SearchThreshold",
            "SearchNew",
            "SearchRedmapperFound",
            "SearchRedmapperN",
            "SearchNatRadius",
            "SearchCompleteness",
            "SearchCompletenessLo",
            "SearchCompletenessHi",
            "SearchNatDensity",
            "SearchNatPurity",
            "SearchNatPurityLo",
            "SearchNatPurityHi",
            "SearchNatTrue",
            "SearchNatJudged",
            "SearchConfirmed",
            "SearchNatConfPurity",
            "SearchNatConfPurityLo",
            "SearchNatConfPurityHi",
            "SearchNatConfTrue",
            "SearchNatConfJudged",
        ],
        [],
    ),
}

#: A number as the README writes it: optional sign, thousands commas, decimals. Not a digit that
#: ends a name ("F1") or continues another number.
_NUMBER = re.compile(r"(?<![\w.,])[+\-−]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?(?![0-9])")
#: Notation a row label may hold that is not a number of the run.
_LABEL_NOTATION = ("(1+z)",)


def _numbers(text: str) -> list[str]:
    return _NUMBER.findall(text)


def _value(text: str) -> float:
    """A README number ("1,988", "−0.001") or a numbers.tex body ("15\\,245", "0.8200")."""
    return float(text.replace(r"\,", "").replace(",", "").replace("−", "-"))


def _half_unit(text: str) -> float:
    """Half a unit in the last place a README number shows (0.5 for an integer)."""
    decimals = len(text.split(".", 1)[1]) if "." in text else 0
    return 0.5 * 10.0**-decimals


def _tex_rounding(text: str) -> float:
    """How far a numbers.tex body may lie from the value: half its last decimal; integers are exact."""
    return _half_unit(text) if "." in text else 0.0


def _table() -> list[list[str]]:
    """The cells of the results table's body rows (header and rule left out)."""
    text = README.read_text()
    assert SECTION in text, f"README.md has no section {SECTION!r}"
    lines = text.split(SECTION, 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
    header, rule, *body = rows
    assert header[1:] == ["this run", "paper"], header
    assert rule == ["---"] * 3, rule
    return body


def _known_macros() -> set[str]:
    """Every macro name deepcee.paper.numbers writes (without a run: the names its code spells)."""
    known = set(numbers_module.collect_numbers({}, {}))
    known |= set(numbers_module.interval_numbers("RealSky", {}))
    control = dict.fromkeys(
        ("views", "views_with_box", "fraction_with_box", "fraction_lo", "fraction_hi", "threshold"), 0
    )
    known |= set(numbers_module.real_sky_member_numbers({"scattered": control, "blank": control}))
    known |= set(re.findall(r'"([A-Z][A-Za-z]+)"', Path(numbers_module.__file__).read_text()))
    return known


def _mismatches(cells: dict[str, tuple[str, list[str]]], value_of) -> list[str]:
    """``cells``: label -> (cell text, macros); ``value_of(macro)`` -> the macro's text."""
    bad = []
    for label, (cell, macros) in cells.items():
        for shown, macro in zip(_numbers(cell), macros):
            expected = value_of(macro)
            try:
                value = _value(expected)
            except ValueError:
                bad.append(f"{label}: {shown} for \\{macro}, which is {expected!r}, not a number")
                continue
            slack = _half_unit(shown) + _tex_rounding(expected) + 1e-9
            if abs(_value(shown) - value) > slack:
                bad.append(f"{label}: README shows {shown}, \\{macro} is {expected}")
    return bad


def _run_and_paper_cells():
    body = {cells[0]: cells for cells in _table()}
    run = {label: (body[label][1], macros[0]) for label, macros in ROWS.items() if label in body}
    paper = {label: (body[label][2], macros[1]) for label, macros in ROWS.items() if label in body}
    return run, paper


def test_readme_is_a_front_page():
    """At most 250 lines; the results table at most 13 rows; the refresh command is given."""
    text = README.read_text()
    assert len(text.splitlines()) <= MAX_README_LINES
    assert len(_table()) <= MAX_ROWS
    assert "python -m deepcee.bench.workflow --cores 2 --keep" in text
    assert f"docs/measurements/{SNAPSHOT.name}" in text


def test_every_number_in_the_results_table_has_its_macro():
    """Each row is in ROWS (and each ROWS entry a row); each cell holds exactly the numbers its
    macros give; a row label holds no number; every macro is one numbers.tex has."""
    body = _table()
    labels = [cells[0] for cells in body]
    assert sorted(labels) == sorted(ROWS), "rows and ROWS differ: update ROWS with the table"
    bad = []
    for label, run_cell, paper_cell in body:
        stripped = label
        for notation in _LABEL_NOTATION:
            stripped = stripped.replace(notation, "")
        if _numbers(stripped):
            bad.append(f"{label}: a number in the label ({_numbers(stripped)}): put it in a cell with its macro")
        for column, cell, macros in (("this run", run_cell, ROWS[label][0]), ("paper", paper_cell, ROWS[label][1])):
            found = _numbers(cell)
            if len(found) != len(macros):
                bad.append(f"{label} ({column}): {len(found)} numbers {found} for {len(macros)} macros {macros}")
    unknown = sorted({m for run, paper in ROWS.values() for m in run + paper} - _known_macros())
    assert not bad and not unknown, bad + [f"not a macro of deepcee.paper.numbers: {unknown}"]


def test_the_paper_column_is_the_published_paper():
    """The paper's numbers are the published ones (deepcee.paper.numbers.PUBLISHED)."""
    _, paper = _run_and_paper_cells()
    bad = _mismatches(paper, lambda macro: str(PUBLISHED[macro.removeprefix("Pub")]))
    assert not bad, bad


def test_this_run_column_is_the_measured_default_run():
    """Every number of this run's column equals its macro in the measured run's numbers.tex."""
    if not SNAPSHOT.exists():
        pytest.skip(
            f"{SNAPSHOT.relative_to(REPO)} is missing: no measured default run's numbers.tex is committed yet "
            "(README, 'What the default run gives (measured)', says how to make it)"
        )
    snapshot = parse_numbers_tex(SNAPSHOT.read_text())
    run, paper = _run_and_paper_cells()
    missing = sorted({m for _, macros in [*run.values(), *paper.values()] for m in macros} - set(snapshot))
    assert not missing, f"{SNAPSHOT.name} has no macro {missing}"
    bad = _mismatches({**run, **{f"{k} (paper)": v for k, v in paper.items()}}, snapshot.__getitem__)
    assert not bad, bad
