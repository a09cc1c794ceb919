"""Snakemake as a user runs it, in a copy of the workflow (``deepcee.bench.workflow.copy_workflow``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run_snakemake(work: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """``python -m snakemake ARGS`` in ``work`` with the workflow's environment; output captured.
    Put targets first: ``--configfile`` takes every word after it."""
    from deepcee.bench.workflow import workflow_env

    return subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=work,
        env=workflow_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
