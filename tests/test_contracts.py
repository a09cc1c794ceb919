"""deepcee.core.contracts: one declaration per results file; a file that breaks it is refused by name."""

import json

import pytest

from deepcee.core.contracts import (
    SUMMARIES,
    TABLES,
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
