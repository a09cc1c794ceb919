"""deepcee.core.contracts: one declaration per results file; a file that breaks it is refused by name."""

import json

import pytest

from deepcee.core.contracts import (
    SUMMARIES,
    TABLES,
    contract_for,
    csv_text,
    read_summary,
    read_table,
    rows_table,
    write_summary_checked,
    write_table,
)
from deepcee.core.errors import DeepCeeError
from deepcee.evaluate.metrics import SWEEP_TABLE_COLUMNS


def test_sweep_contract_is_the_metrics_sweep():
    assert TABLES["sweep"].colnames == list(SWEEP_TABLE_COLUMNS)


def test_csv_round_trip_keeps_dtypes(tmp_path):
    path = tmp_path / "t.csv"
    write_table(
        "sweep",
        rows_table("sweep", [(0.0, 3, 5, 1, 0.375, 0.75, 0.5, 1, 8), (10.0, 2, 0, 2, 1.0, 0.5, 2 / 3, 0, 2)]),
        path,
    )
    assert path.read_text().splitlines()[0] == ",".join(SWEEP_TABLE_COLUMNS)
    back = read_table("sweep", path)
    assert back["tp"].dtype.kind == "i" and list(back["fp"]) == [5, 0]
    assert back["f1"][1] == pytest.approx(2 / 3, rel=1e-15)


def test_csv_cell_of_wrong_type_names_row_and_column(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("threshold,tp,fp,fn,precision,recall,f1,duplicates,passing\n0,3.5,5,1,0.3,0.7,0.5,0,8\n")
    with pytest.raises(DeepCeeError, match=r"t.csv: row 2: column 'tp' is '3.5', not int"):
        read_table("sweep", path)


def test_ecsv_unit_is_part_of_the_contract(tmp_path):
    table = rows_table("catalogue", [("RM1", "A1", 150.0, 20.0, 0.15, 30.0, 25.0, 16.0, "A1", "fake")])
    path = tmp_path / "sample.ecsv"
    write_table("catalogue", table, path)
    assert str(read_table("catalogue", path)["ra"].unit) == "deg"
    table["ra"].unit = "rad"
    table.write(path, format="ascii.ecsv", overwrite=True)
    with pytest.raises(DeepCeeError, match=r"sample.ecsv: column 'ra' has unit rad, the catalogue contract says deg"):
        read_table("catalogue", path)


def test_writer_refuses_a_table_that_breaks_the_contract_and_writes_nothing(tmp_path):
    table = rows_table("catalogue", [])
    table.remove_column("z")
    with pytest.raises(DeepCeeError, match=r"missing column 'z'"):
        write_table("catalogue", table, tmp_path / "sample.ecsv")
    assert not (tmp_path / "sample.ecsv").exists()


def test_summary_key_of_wrong_type_is_named(tmp_path):
    path = tmp_path / "summary.json"
    path.write_text(json.dumps({"counts": {"steps": 5}, "device": "cpu", "seconds": "fast"}))
    with pytest.raises(
        DeepCeeError, match=r"summary.json: key 'seconds' is str, the train_summary contract says number"
    ):
        read_summary("train_summary", path)
    with pytest.raises(DeepCeeError, match=r"missing key 'device'"):
        write_summary_checked("train_summary", tmp_path / "other.json", {"counts": {"steps": 5}, "seconds": 1.0})
    assert not (tmp_path / "other.json").exists()


def test_every_summary_the_paper_reads_is_declared():
    assert {"catalogue_summary", "train_summary", "evaluate_summary", "redmapper_summary", "ks"} <= set(SUMMARIES)


#: One plausible row per contract, in the contract's column order (built from the dtypes).
def _row(name: str, k: int = 0) -> tuple:
    value = {"str": f"v{k}", "float": 0.25 + k, "int": 3 + k, "bool": bool(k % 2)}
    return tuple(value[c.dtype] for c in TABLES[name].columns)


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_contract_round_trips(tmp_path, name):
    contract = TABLES[name]
    path = tmp_path / f"t.{contract.format}"
    write_table(name, rows_table(name, [_row(name, 0), _row(name, 1)]), path)
    back = read_table(name, path)
    assert back.colnames[: len(contract.columns)] == contract.colnames and len(back) == 2
    for col in contract.columns:
        assert back[col.name][1] == _row(name, 1)[contract.colnames.index(col.name)]
        if contract.format == "ecsv":
            assert (None if back[col.name].unit is None else str(back[col.name].unit)) == col.unit


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_contract_refuses_a_missing_column_by_name(tmp_path, name):
    contract = TABLES[name]
    path = tmp_path / f"broken.{contract.format}"
    table = rows_table(name, [_row(name)])
    dropped = contract.columns[-1].name
    table.remove_column(dropped)
    if contract.format == "ecsv":
        table.write(path, format="ascii.ecsv")
    else:
        path.write_text(csv_text(table.colnames, [list(r) for r in table]))
    with pytest.raises(DeepCeeError, match=rf"^\S*broken.{contract.format}: missing column '{dropped}'") as err:
        read_table(name, path)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_contract_refuses_a_wrong_dtype_by_name(tmp_path, name):
    contract = TABLES[name]
    path = tmp_path / f"broken.{contract.format}"
    col = next(c for c in contract.columns if c.dtype != "str")  # a number or flag written as text
    table = rows_table(name, [_row(name)])
    table[col.name] = ["not a number"]
    table[col.name].unit = col.unit if contract.format == "ecsv" else None
    if contract.format == "ecsv":
        table.write(path, format="ascii.ecsv")
        expected = rf"broken.ecsv: column '{col.name}' is <U12, the {name} contract says {col.dtype}"
    else:
        path.write_text(csv_text(table.colnames, [list(r) for r in table]))
        expected = rf"broken.csv: row 2: column '{col.name}' is 'not a number', not {col.dtype}"
    with pytest.raises(DeepCeeError, match=expected) as err:
        read_table(name, path)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "path, name",
    [
        ("results/02_images/truth/truth_3.ecsv", "truth"),
        ("results/04_evaluate/sdss_redshifts_test.ecsv", "truth"),
        ("results/05_redmapper/distances.ecsv", "distances"),
        ("results/07_search/shards/shard_12.ecsv", "search_detections"),
        ("results/08_redshift/detections_redmapper.ecsv", "redshift_detections"),
        ("results/tables/table1_examples.csv", "examples"),
    ],
)
def test_a_results_path_names_its_contract(path, name):
    assert contract_for(path) == name


def test_a_path_without_a_contract_is_refused():
    with pytest.raises(DeepCeeError, match=r"results/02_images/other.ecsv: no results-table contract"):
        contract_for("results/02_images/other.ecsv")


def test_producers_column_lists_are_the_contracts():
    from deepcee.evaluate.tables import TABLE1_COLUMNS
    from deepcee.images.mock.render import TRUTH_COLUMNS
    from deepcee.images.views import VIEW_COLUMNS
    from deepcee.redshift.stage import DETECTION_COLUMNS as REDSHIFT_COLUMNS
    from deepcee.search.stage import DETECTION_COLUMNS as SEARCH_COLUMNS

    assert list(TRUTH_COLUMNS) == TABLES["truth"].colnames
    assert list(VIEW_COLUMNS) == TABLES["views"].colnames
    assert list(REDSHIFT_COLUMNS) == TABLES["redshift_detections"].colnames
    assert list(SEARCH_COLUMNS) == TABLES["search_detections"].colnames
    assert list(TABLE1_COLUMNS) == TABLES["examples"].colnames
