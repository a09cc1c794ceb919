"""Shared fixtures: the repository root and the bundled real data."""

from __future__ import annotations

import os
import shutil
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


class CiRuns:
    """The session's runs of the shrunken config (configs/ci.yaml) through the whole DAG, each in a
    fresh copy of the workflow (a user's results/ are untouched), started the first time a test
    asks for one:

    - ``local``: ``snakemake --cores 2``; the end-to-end test checks its artefacts;
    - ``second`` (only when a collected test asks for it), started as soon as the local run ends
      (the end-to-end test's checks overlap it): through the one-node Slurm when DEEPCEE_SLURM=1 and
      a node answers (the Slurm tests check its jobs), else locally again. The Slurm and
      reproducibility tests compare its results/ with the local run's, byte for byte.

    One after the other, not side by side: on two cores both runs are bound by the CPUs (started
    together, in one trial, the local run took 1,059 s instead of about 400).
    """

    def __init__(self, repo: Path, root: Path, want_second: bool):
        self.repo, self.root, self.want_second = repo, root, want_second
        self.started: dict[str, dict] = {}
        self.done: dict[str, dict] = {}

    def _start_local(self, name: str) -> dict:
        import subprocess
        import sys

        from deepcee.bench.workflow import copy_workflow, workflow_env

        work = copy_workflow(self.repo, self.root / name / "workflow")
        log = work / f"ci_{name}_run.log"
        snakemake = str(Path(sys.executable).parent / "snakemake")
        with open(log, "w") as out:
            proc = subprocess.Popen(
                [snakemake, "--cores", "2", "--configfile", "configs/ci.yaml"],
                cwd=work,
                env=workflow_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return {"proc": proc, "work": work, "log": log, "kind": "local"}

    def _start_local_run(self) -> None:
        if self.started:
            return
        if shutil.which("latexmk") is None:
            pytest.skip(
                "latexmk not installed (Debian: latexmk texlive-latex-base texlive-latex-recommended "
                "texlive-latex-extra texlive-publishers)"
            )
        self.started["local"] = self._start_local("local")

    def _start_second_run(self) -> None:
        if "second" in self.started:
            return
        from slurm_support import slurm_node_up, start_slurm_run

        if slurm_node_up() is None:
            self.started["second"] = dict(start_slurm_run(self.root / "second"), kind="slurm")
        else:
            self.started["second"] = self._start_local("second")

    def _wait(self, name: str) -> dict:
        if name not in self.done:
            run = self.started[name]
            rc = run["proc"].wait(timeout=3600)
            out = run["log"].read_text()
            assert rc == 0, f"the {run['kind']} run of configs/ci.yaml failed (rc {rc}):\n{out[-6000:]}"
            self.done[name] = dict(run, out=out)
        return self.done[name]

    def get(self, name: str) -> dict:
        """The finished run ``name``: {"work", "log", "kind", "out"} (+ "targets", "fell_back" for Slurm)."""
        self._start_local_run()
        local = self._wait("local")
        if name == "local":
            if self.want_second:
                self._start_second_run()
            return local
        self._start_second_run()
        return self._wait("second")

    def stop(self) -> None:
        """Ctrl-C to a run still going when the session ends (Snakemake scancels its Slurm jobs)."""
        import signal
        import subprocess

        for run in self.started.values():
            if run["proc"].poll() is None:
                run["proc"].send_signal(signal.SIGINT)
                try:
                    run["proc"].wait(timeout=60)
                except subprocess.TimeoutExpired:
                    run["proc"].kill()


@pytest.fixture(scope="session")
def ci_runs(request, repo, tmp_path_factory):
    want_second = any("ci_second_run" in item.fixturenames for item in request.session.items)
    runs = CiRuns(repo, tmp_path_factory.mktemp("ci-runs"), want_second)
    yield runs
    runs.stop()


@pytest.fixture(scope="session")
def ci_local_run(ci_runs) -> Path:
    """The workflow copy of the session's local run of configs/ci.yaml (see CiRuns)."""
    return ci_runs.get("local")["work"]


@pytest.fixture(scope="session")
def ci_second_run(ci_runs) -> dict:
    """The session's second run of configs/ci.yaml, through Slurm where there is one (see CiRuns)."""
    return ci_runs.get("second")
