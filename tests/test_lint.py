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


def test_report_captions_are_clean_rst(repo):
    """Snakemake renders each report/*.rst caption (Jinja, then reStructuredText) and logs any RST
    error into the report: `|Δz|` read as a substitution reference was one. Jinja expressions are
    stood in for by a word; docutils must then report nothing at warning level or above."""
    import io
    import re

    import docutils.core

    problems = {}
    for path in sorted((repo / "report").glob("*.rst")):
        text = re.sub(r"\{\{.*?\}\}", "X", path.read_text(), flags=re.S)
        text = re.sub(r"\{%.*?%\}", "", text, flags=re.S)
        stream = io.StringIO()
        docutils.core.publish_doctree(text, settings_overrides={"warning_stream": stream, "report_level": 2})
        if stream.getvalue():
            problems[path.name] = stream.getvalue().strip()
    assert not problems, problems
