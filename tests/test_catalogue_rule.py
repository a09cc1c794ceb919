"""The catalogue rule through Snakemake: bad input gives one ERROR line and no output."""

from __future__ import annotations

import shutil
import subprocess
import sys

import yaml


def _copy_workflow(repo, dest):
    for name in ("Snakefile", "config.yaml"):
        shutil.copy(repo / name, dest / name)
    for name in ("rules", "scripts", "schemas", "src", "profiles", "report", "envs", "configs"):
        shutil.copytree(repo / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))


def test_missing_column_stops_the_rule_with_one_line(repo, tmp_path):
    _copy_workflow(repo, tmp_path)
    bad = tmp_path / "bad_redmapper.csv"
    bad.write_text("ID,name,RA,dec,lambda\n1,RMJ000000.0+000000.0,10.0,5.0,30\n")
    override = tmp_path / "bad.yaml"
    override.write_text(
        yaml.safe_dump(
            {
                "catalogue": {
                    "bundled": {
                        "abell": [str(repo / "resources/abell-aco-vii110a/abell_north.tsv")],
                        "redmapper": str(bad),
                    }
                }
            }
        )
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--cores",
            "1",
            "results/01_catalogue/sample.ecsv",
            "--configfile",
            str(override),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("ERROR:")]
    assert errors and errors[0] == f"ERROR: {bad}: missing required column 'redshift' (has: ID, name, RA, dec, lambda)"
    assert not (tmp_path / "results/01_catalogue/sample.ecsv").exists()
    assert not list((tmp_path / "results").rglob("*.ecsv"))
