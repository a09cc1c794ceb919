"""deepcee.core.files.run_script: the one way a rule script logs.

Each case runs a small rule script in a subprocess (run_script redirects the process's file
descriptors, which pytest's own capture must not see) with a stand-in for Snakemake's object.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest


def _run_rule_script(tmp_path, body: str) -> tuple[subprocess.CompletedProcess, str]:
    log = tmp_path / "logs" / "rule.log"
    script = tmp_path / "rule_script.py"
    script.write_text(
        "import logging, subprocess, sys, warnings\n"
        "from types import SimpleNamespace\n"
        "from deepcee.core.errors import DeepCeeError\n"
        "from deepcee.core.files import run_script\n\n"
        "def main(snakemake):\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n\n"
        f"run_script(main, SimpleNamespace(log=[{str(log)!r}]))\n"
        "print('after run_script', flush=True)\n"
    )
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    return proc, log.read_text() if log.exists() else ""


def test_stdout_stderr_logging_warnings_and_subprocesses_go_to_the_log(tmp_path):
    proc, log = _run_rule_script(
        tmp_path,
        """
        print("to stdout")
        print("to stderr", file=sys.stderr)
        logging.getLogger("deepcee.test").info("through logging")
        warnings.warn("a warning")
        subprocess.run([sys.executable, "-c", "print('from a subprocess')"], check=True)
    """,
    )
    assert proc.returncode == 0, proc.stderr
    for text in ("to stdout", "to stderr", "deepcee.test INFO through logging", "a warning", "from a subprocess"):
        assert text in log, text
        assert text not in proc.stdout + proc.stderr, text
    # The process's own streams are back once the rule's main has returned.
    assert proc.stdout == "after run_script\n"
    assert "after run_script" not in log


def test_deepcee_error_is_one_error_line_in_the_log_and_on_stderr(tmp_path):
    proc, log = _run_rule_script(
        tmp_path,
        """
        print("working")
        raise DeepCeeError("results/x.ecsv: missing required column 'z'")
    """,
    )
    assert proc.returncode == 1
    line = "ERROR: results/x.ecsv: missing required column 'z'"
    assert proc.stderr.splitlines() == [line]
    assert log.splitlines() == ["working", line]
    assert "Traceback" not in log and "after run_script" not in proc.stdout


def test_other_errors_keep_their_traceback_in_the_log(tmp_path):
    proc, log = _run_rule_script(
        tmp_path,
        """
        raise KeyError("boom")
    """,
    )
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "KeyError: 'boom'" in proc.stderr
    assert "KeyError: 'boom'" in log


def test_without_a_log_output_stays_on_the_terminal(tmp_path):
    script = tmp_path / "no_log.py"
    script.write_text(
        textwrap.dedent("""
        from types import SimpleNamespace
        from deepcee.core.errors import DeepCeeError
        from deepcee.core.files import run_script

        def main(snakemake):
            print("visible")
            raise DeepCeeError("bad input")

        run_script(main, SimpleNamespace(log=[]))
    """)
    )
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stdout == "visible\n" and proc.stderr == "ERROR: bad input\n"


def test_rebuild_hint_only_for_results_inputs_named_in_the_error():
    from types import SimpleNamespace

    from deepcee.core.files import rebuild_hint

    job = SimpleNamespace(input=["results/03_train/model.pt", "resources/abell.tsv"])
    hint = rebuild_hint("results/03_train/model.pt: unreadable model file (EOFError)", job)
    assert "snakemake --cores all --force results/03_train/model.pt" in hint
    assert rebuild_hint("resources/abell.tsv:4: RA 400 outside [0, 360)", job) == ""  # not the workflow's
    assert rebuild_hint("some other error", job) == "" and rebuild_hint("x", None) == ""


def test_full_disk_is_one_line_naming_the_file(tmp_path):
    """A writer that finds the disk full (OSError ENOSPC from write(), which names no file) used to end
    in chained tracebacks; now one ERROR line naming the output atomic_path was writing, on the job's
    stderr and in its log, exit 1 and no partial file."""
    out = tmp_path / "results" / "table.csv"
    proc, log = _run_rule_script(
        tmp_path,
        f"""
        import errno, os, pathlib
        from deepcee.core.files import write_text

        def full(self, *args, **kwargs):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        print("working")
        pathlib.Path.write_text = full
        write_text({str(out)!r}, "x" * 100)
    """,
    )
    line = (
        f"ERROR: {out}: the disk is full (No space left on device while writing it); free space on that disk "
        "and run the workflow again (the job's unfinished files are removed)"
    )
    assert proc.returncode == 1 and proc.stderr.splitlines() == [line], proc.stderr
    assert log.splitlines() == ["working", line]
    assert list(out.parent.iterdir()) == []


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
def test_full_disk_under_the_log_too_is_one_line(tmp_path):
    """The log on the same full disk (here /dev/full: every write fails with ENOSPC): still one line on
    the job's stderr, not a traceback of the log's own flush."""
    script = tmp_path / "rule_script.py"
    script.write_text(
        "from types import SimpleNamespace\n"
        "from deepcee.core.files import run_script\n\n"
        "def main(snakemake):\n"
        "    print('working')\n\n"
        "run_script(main, SimpleNamespace(log=['/dev/full'], output=['results/table.csv']))\n"
    )
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.splitlines() == [
        "ERROR: a file of this job (/dev/full, results/table.csv): the disk is full (No space left on device "
        "while writing it); free space on that disk and run the workflow again (the job's unfinished files are removed)"
    ]
