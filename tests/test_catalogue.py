"""The catalogue stage on the bundled real data, and its bad-input errors."""

from __future__ import annotations

import csv
import gzip

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import Angle

from deepcee.catalogue import select as cat
from deepcee.core.errors import DeepCeeError

CUTS = {"z_min": 0.1, "z_max": 0.2, "min_members": 20, "dec_min": 0.0, "abell_only": True}


@pytest.fixture(scope="module")
def bundled_cfg(resources):
    return {
        "source": "bundled",
        "bundled": {
            "abell": [
                str(resources / "abell-aco-vii110a/abell_north.tsv"),
                str(resources / "abell-aco-vii110a/abell_south.tsv"),
            ],
            "redmapper": str(resources / "redmapper-sdss-dr8-v5.10/sdss_redmapper.csv.gz"),
        },
        "match_radius_arcmin": 3.0,
        "cuts": dict(CUTS),
        "max_clusters": None,
    }


@pytest.fixture(scope="module")
def selection(bundled_cfg):
    parent, redmapper, notes = cat.load_sources(bundled_cfg)
    sample, counts = cat.select_sample(parent, bundled_cfg)
    return parent, redmapper, sample, counts


def test_abell_reader_reads_every_aco_row(resources):
    abell = cat.read_abell_tsv(
        [resources / "abell-aco-vii110a/abell_north.tsv", resources / "abell-aco-vii110a/abell_south.tsv"]
    )
    assert len(abell) == 4076
    assert sorted(abell["aco"]) == list(range(1, 4077))
    # PROVENANCE sanity check: ACO 2142 -> 15 58.3 +27 13.
    row = abell[abell["aco"] == 2142][0]
    assert row["ra"] == pytest.approx(Angle("15h58.3m").deg)
    assert row["dec"] == pytest.approx(27 + 13 / 60)


def test_every_selected_cluster_satisfies_every_cut(selection):
    _, _, sample, _ = selection
    assert np.all((sample["z"] > 0.1) & (sample["z"] < 0.2))
    assert np.all(sample["n_members"] >= 20)
    assert np.all(sample["dec"] > 0)
    assert all(name.startswith("A") for name in sample["abell"])
    assert len(set(sample["id"])) == len(sample)
    assert set(sample.colnames) >= set(cat.SCHEMA_COLUMNS)


def test_selection_count_matches_an_independent_count(selection, resources):
    """Recount from the raw files with plain csv + a brute-force nearest match."""
    _, _, sample, counts = selection
    with gzip.open(resources / "redmapper-sdss-dr8-v5.10/sdss_redmapper.csv.gz", "rt") as handle:
        rows = list(csv.DictReader(handle))
    aco = []
    for name in ("abell_north.tsv", "abell_south.tsv"):
        lines = (resources / "abell-aco-vii110a" / name).read_text().splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("----")) + 1
        for line in lines[start:]:
            if line.strip() and not line.startswith("#"):
                number, ra, dec = line.split("\t")[:3]
                hh, mm = ra.split()
                dd, am = dec.split()
                sign = -1 if dd.startswith("-") else 1
                aco.append((int(number), 15 * (int(hh) + float(mm) / 60), sign * (abs(int(dd)) + int(am) / 60)))
    rm_xyz = _unit_vectors(np.array([float(r["RA"]) for r in rows]), np.array([float(r["dec"]) for r in rows]))
    aco_xyz = _unit_vectors(np.array([a[1] for a in aco]), np.array([a[2] for a in aco]))
    claimed = {}
    for start in range(0, len(aco_xyz), 500):  # brute force: every Abell against every redMaPPer
        cosines = np.clip(aco_xyz[start : start + 500] @ rm_xyz.T, -1, 1)
        for row in cosines:
            j = int(np.argmax(row))
            sep = np.degrees(np.arccos(row[j])) * 60
            if sep <= 3.0 and (j not in claimed or sep < claimed[j]):
                claimed[j] = sep
    n = sum(
        1
        for j in claimed
        if 0.1 < float(rows[j]["redshift"]) < 0.2 and float(rows[j]["lambda"]) >= 20 and float(rows[j]["dec"]) > 0
    )
    assert len(sample) == n
    assert 380 <= n <= 440  # "about 410 real clusters" (docs/design.md §4)
    assert counts[-1]["n"] == n


def _unit_vectors(ra_deg, dec_deg):
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=1)


def test_redmapper_comparison_is_the_whole_catalogue(selection):
    _, redmapper, _, _ = selection
    assert len(redmapper) == 26350
    assert not cat.has_bcg_magnitudes(redmapper)


def test_ecsv_round_trip_keeps_units_and_masks(selection, tmp_path):
    _, _, sample, _ = selection
    path = tmp_path / "sample.ecsv"
    cat.write_catalogue(sample, path, description="test")
    back = cat.read_catalogue(path)
    assert back["ra"].unit == u.deg and back["bcg_rmag"].unit == u.mag
    assert np.all(back["bcg_rmag"].mask)
    assert list(back["id"]) == list(sample["id"])


def test_missing_column_names_file_and_column(tmp_path):
    bad = tmp_path / "bad_redmapper.csv"
    bad.write_text("ID,name,RA,dec,lambda\n1,RMJ1,10.0,5.0,30\n")
    with pytest.raises(DeepCeeError, match=r"bad_redmapper.csv: missing required column 'redshift'"):
        cat.read_redmapper_bundled(bad)


def test_empty_selection_names_the_cuts(selection):
    parent = selection[0]
    with pytest.raises(DeepCeeError, match=r"empty after the cuts .*0.5 < z < 0.6"):
        cat.apply_cuts(parent, cat.Cuts(z_min=0.5, z_max=0.6))


def test_max_clusters_shrinks_deterministically(bundled_cfg):
    cfg = dict(bundled_cfg, max_clusters=7)
    parent, _, _ = cat.load_sources(cfg)
    a, counts = cat.select_sample(parent, cfg)
    b, _ = cat.select_sample(parent, cfg)
    assert len(a) == 7 and list(a["id"]) == list(b["id"])
    assert counts[-1] == {"cut": "max_clusters = 7", "n": 7}


def test_abell_names_from_whl12_other_column():
    assert cat.abell_name_from_text("A1795; RXC J1348.8+2635") == "A1795"
    assert cat.abell_name_from_text("Abell 2142") == "A2142"
    assert cat.abell_name_from_text("ZwCl 1234") == ""
    assert cat.abell_name_from_text("") == ""


def _edited_redmapper(resources, tmp_path, edits: dict[int, dict[str, str]], n: int | None = 400):
    """A copy of the bundled redMaPPer CSV (first ``n`` rows), with some values replaced."""
    with gzip.open(resources / "redmapper-sdss-dr8-v5.10/sdss_redmapper.csv.gz", "rt") as handle:
        rows = list(csv.DictReader(handle))[:n]
    for i, changes in edits.items():
        rows[i].update(changes)
    path = tmp_path / "redmapper_edited.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path, rows


def test_non_numeric_value_names_file_row_and_column(resources, tmp_path):
    path, rows = _edited_redmapper(resources, tmp_path, {5: {"redshift": "abc"}})
    with pytest.raises(DeepCeeError) as err:
        cat.read_redmapper_bundled(path)
    message = str(err.value)
    assert message.startswith(f"{path}: row 6 (id RM{rows[5]['ID']}): column 'redshift' is not a number")
    assert "\n" not in message


def test_missing_position_is_refused(resources, tmp_path):
    path, rows = _edited_redmapper(resources, tmp_path, {3: {"dec": ""}})
    with pytest.raises(DeepCeeError, match=rf"row 4 \(id RM{rows[3]['ID']}\): column 'dec' has no value"):
        cat.read_redmapper_bundled(path)


@pytest.mark.parametrize(
    ("edit", "column", "what"),
    [
        ({"RA": "400"}, "RA", "outside [0, 360) deg"),
        ({"RA": "-1"}, "RA", "outside [0, 360) deg"),
        ({"dec": "91"}, "dec", "outside [-90, 90] deg"),
        ({"redshift": "-0.1"}, "redshift", "not a positive finite redshift"),
        ({"redshift": "inf"}, "redshift", "not a positive finite redshift"),
        ({"lambda": "0"}, "lambda", "not a positive finite member count"),
    ],
)
def test_impossible_value_names_file_row_and_column(resources, tmp_path, edit, column, what):
    """A value present but off the sky or unphysical is refused on load, not carried into the sample."""
    path, rows = _edited_redmapper(resources, tmp_path, {9: edit})
    with pytest.raises(DeepCeeError) as err:
        cat.read_redmapper_bundled(path)
    message = str(err.value)
    assert message.startswith(f"{path}: row 10 (id RM{rows[9]['ID']}): column '{column}' = ")
    assert message.endswith(what) and "\n" not in message


def test_repeated_cluster_id_is_refused(resources, tmp_path):
    path, rows = _edited_redmapper(resources, tmp_path, {})
    rows_id = rows[4]["ID"]
    path, _ = _edited_redmapper(resources, tmp_path, {12: {"ID": rows_id}})
    with pytest.raises(DeepCeeError, match=rf"^{path}: row 13: id RM{rows_id} repeats row 5 \(ids must be unique\)$"):
        cat.read_redmapper_bundled(path)


def test_abell_position_off_the_sky_names_the_line(tmp_path):
    path = tmp_path / "abell.tsv"
    path.write_text("#comment\n----\n1\t00 05.0\t+10 00\n2\t05 10.0\t+95 00\n")
    with pytest.raises(DeepCeeError, match=rf"^{path}:4: ACO 2: RA 77.5 or Dec 95 deg is off the sky$"):
        cat.read_abell_tsv([path])


def test_missing_redshift_is_dropped_and_counted(resources, tmp_path):
    """A blank or NaN redshift: the z cut would drop the row anyway, so it is dropped and counted."""
    path, rows = _edited_redmapper(resources, tmp_path, {2: {"redshift": ""}, 7: {"redshift": "nan"}})
    table = cat.read_redmapper_bundled(path)
    assert len(table) == 398
    assert table.meta["dropped"] == ["dropped: missing z (2 rows)"]
    assert f"RM{rows[2]['ID']}" not in set(table["id"]) and np.isfinite(np.asarray(table["z"])).all()
    out = tmp_path / "redmapper.ecsv"
    cat.write_catalogue(table, out)
    back = cat.read_catalogue(out)
    assert np.isfinite(np.asarray(back["z"])).all() and len(back) == 398  # no NaN rows written


def test_select_rule_summary_counts_dropped_rows(resources, repo, tmp_path, bundled_cfg):
    """The stage summary (scripts/catalogue_select.py) lists the dropped rows."""
    import json
    from types import SimpleNamespace

    path, _ = _edited_redmapper(resources, tmp_path, {0: {"redshift": ""}}, n=None)
    cfg = dict(bundled_cfg, bundled=dict(bundled_cfg["bundled"], redmapper=str(path)))
    out = SimpleNamespace(
        sample=str(tmp_path / "sample.ecsv"),
        redmapper=str(tmp_path / "redmapper.ecsv"),
        summary=str(tmp_path / "summary.json"),
    )
    snakemake = SimpleNamespace(
        params=SimpleNamespace(catalogue=cfg), input={}, output=out, log=[str(tmp_path / "select.log")]
    )
    source = (repo / "scripts" / "catalogue_select.py").read_text()
    exec(compile(source, "catalogue_select.py", "exec"), {"snakemake": snakemake, "__name__": "rule"})
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["dropped"]["redmapper"] == ["dropped: missing z (1 rows)"]
    assert "dropped: missing z (1 rows)" in (tmp_path / "select.log").read_text()


@pytest.mark.parametrize("cut", ["half", "header"])
def test_truncated_compressed_catalogue_names_the_file(resources, tmp_path, cut):
    """A user's own .csv.gz cut short (no PROVENANCE record: not a bundled file): one line naming the
    file, not astropy's bare ValueError or UnicodeDecodeError."""
    data = (resources / "redmapper-sdss-dr8-v5.10/sdss_redmapper.csv.gz").read_bytes()
    path = tmp_path / "my_redmapper.csv.gz"
    path.write_bytes(data[: len(data) // 2] if cut == "half" else data[:50])
    with pytest.raises(DeepCeeError, match=rf"^{path}: truncated or damaged compressed file \(.*\)$"):
        cat.read_redmapper_bundled(path)


@pytest.mark.parametrize("text", [b"", b"ID,name,RA,dec,redshift,lambda\n"])
def test_empty_redmapper_file_is_blamed_on_the_file(tmp_path, text):
    path = tmp_path / "my_redmapper.csv.gz"
    path.write_bytes(gzip.compress(text))
    with pytest.raises(DeepCeeError, match=rf"^{path}: no rows"):
        cat.read_redmapper_bundled(path)


def test_empty_abell_file_is_blamed_on_the_file_not_the_cuts(resources, tmp_path, bundled_cfg):
    """An empty north file beside the south one used to leave only southern clusters, which the
    Dec > 0 cut then emptied: "the selection is empty after the cuts". Now the file is named."""
    north = tmp_path / "abell_north.tsv"
    north.write_text("#\n#   VizieR Astronomical Server\n")
    cfg = {**bundled_cfg, "bundled": {**bundled_cfg["bundled"]}}
    cfg["bundled"]["abell"] = [str(north), bundled_cfg["bundled"]["abell"][1]]
    with pytest.raises(DeepCeeError, match=rf"^{north}: no rows \("):
        cat.load_sources(cfg)
