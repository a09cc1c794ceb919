"""The code stays clean under the linters `make lint` runs (settings in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys

import pytest

LINTERS = {
    "ruff check": ["-m", "ruff", "check", "."],
    "ruff format": ["-m", "ruff", "format", "--check", "."],
    "snakefmt": ["-m", "snakefmt", "--check", "Snakefile", "rules/"],
}


@pytest.mark.parametrize("name", sorted(LINTERS))
def test_linter_is_clean(repo, name):
    result = subprocess.run([sys.executable, *LINTERS[name]], cwd=repo, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{name}:\n{(result.stdout + result.stderr)[-3000:]}"


def test_make_lint_runs_the_same_linters(repo):
    """`make lint` and this test check the same things."""
    makefile = (repo / "Makefile").read_text()
    recipe = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    for args in LINTERS.values():
        assert " ".join(args[1:]) in recipe, args
