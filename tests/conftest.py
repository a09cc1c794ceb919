"""Shared fixtures: the repository root and the bundled real data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RESOURCES = REPO / "resources"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def resources() -> Path:
    return RESOURCES


def pytest_collection_modifyitems(config, items):
    """Tests that need the network are skipped unless DEEPCEE_NETWORK=1."""
    if os.environ.get("DEEPCEE_NETWORK") == "1":
        return
    skip = pytest.mark.skip(reason="needs the network (set DEEPCEE_NETWORK=1 to run)")
    for item in items:
        if "network" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def ci_local_run(repo, tmp_path_factory) -> Path:
    """The shrunken CI config (configs/ci.yaml) run locally through the whole DAG, once a session.

    Runs in a copy of the workflow so a user's results/ are untouched. The end-to-end test
    checks its artefacts; the Slurm test compares its own run against it.
    """
    import shutil
    import subprocess
    import sys

    from deepcee.bench.workflow import copy_workflow, workflow_env

    if shutil.which("latexmk") is None:
        pytest.skip(
            "latexmk not installed (Debian: latexmk texlive-latex-base texlive-latex-recommended "
            "texlive-latex-extra texlive-publishers)"
        )
    work = copy_workflow(repo, tmp_path_factory.mktemp("ci-local") / "workflow")
    snakemake = str(Path(sys.executable).parent / "snakemake")
    run = subprocess.run(
        [snakemake, "--cores", "2", "--configfile", "configs/ci.yaml"],
        cwd=work,
        env=workflow_env(),
        capture_output=True,
        text=True,
    )
    (work / "ci_local_run.log").write_text(run.stdout + run.stderr)
    assert run.returncode == 0, (run.stdout + run.stderr)[-6000:]
    return work
