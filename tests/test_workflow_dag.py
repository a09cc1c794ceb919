"""`snakemake -n` on the default config resolves the whole DAG to its final targets."""

from __future__ import annotations

import subprocess
import sys


def test_default_dag_resolves(repo):
    result = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--quiet", "rules"],
                            cwd=repo, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    assert "train_detector" in out or "Nothing to be done" in out


def test_paper_profile_dag_resolves(repo):
    result = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--quiet", "rules",
                             "--configfile", "configs/paper.yaml"],
                            cwd=repo, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
