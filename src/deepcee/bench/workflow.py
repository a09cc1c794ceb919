"""Measure the README's one command: wall time and peak memory of a whole workflow run.

    .venv/bin/python -m deepcee.bench.workflow                 # fresh copy in a temp dir, --cores 2
    .venv/bin/python -m deepcee.bench.workflow --configfile configs/ci.yaml --keep /tmp/run

It copies the tracked sources of the workflow (as a fresh clone has them: no results/,
.snakemake/ or logs/) into a temporary directory, runs ``snakemake --cores N`` there
and then ``snakemake --report results/report.html``, and prints one JSON line:
wall seconds, the peak resident memory of the whole process tree (snakemake and every
job it runs, summed, sampled every 0.2 s), and whether a second run does nothing.
Targets: the default config within 10 minutes and 6 GiB on 2 cores (the project's budget).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: What a fresh clone holds that the workflow needs (results/ and caches are generated).
WORKFLOW_SOURCES = (
    "Snakefile",
    "config.yaml",
    "pyproject.toml",
    "rules",
    "scripts",
    "schemas",
    "src",
    "resources",
    "configs",
    "profiles",
    "paper",
    "notebooks",
    "report",
    "envs",
)
_IGNORE = shutil.ignore_patterns(
    "__pycache__",
    "*.pyc",
    "*.egg-info",
    "build",
    "*.pdf",
    "*.aux",
    "*.log",
    "*.fls",
    "*.fdb_latexmk",
    ".ipynb_checkpoints",
)


def copy_workflow(src: str | Path, dst: str | Path) -> Path:
    """Copy the tracked workflow sources from ``src`` into ``dst`` (created)."""
    src, dst = Path(src), Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_SOURCES:
        path = src / name
        if path.is_dir():
            shutil.copytree(path, dst / name, ignore=_IGNORE, dirs_exist_ok=True)
        elif path.is_file():
            shutil.copy2(path, dst / name)
    (dst / "results").mkdir(exist_ok=True)
    return dst


def workflow_env(venv_bin: str | Path | None = None) -> dict[str, str]:
    """The environment for a run: the venv's bin first on PATH (jupyter for the notebook rule)."""
    env = dict(os.environ)
    venv_bin = Path(venv_bin) if venv_bin else Path(sys.executable).parent
    env["PATH"] = f"{venv_bin}{os.pathsep}{env.get('PATH', '')}"
    return env


def _tree_rss(pid: int) -> int:
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root] + root.children(recursive=True)
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += proc.memory_info().rss
    return total


def run_measured(
    cmd: list[str], cwd: str | Path, env: dict | None = None, log: str | Path | None = None, interval_s: float = 0.2
) -> dict:
    """Run ``cmd``; return its exit code, wall seconds and the peak summed RSS of its process tree."""
    with open(log, "w") if log else contextlib.nullcontext(subprocess.DEVNULL) as out:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, _tree_rss(proc.pid))
            time.sleep(interval_s)
        wall = time.monotonic() - start
    return {"returncode": proc.returncode, "wall_s": round(wall, 1), "peak_rss_gib": round(peak / 2**30, 3)}


def _cores(text: str) -> str:
    """An argparse type: Snakemake's --cores, a whole number above 0 or ``all``."""
    if text != "all" and not (text.isdigit() and int(text) > 0):
        raise argparse.ArgumentTypeError(f"must be a whole number above 0 or all (got {text})")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default=str(Path(__file__).resolve().parents[3]), help="the workflow checkout")
    parser.add_argument("--cores", type=_cores, default="2", help="a number, or all")
    parser.add_argument("--configfile", nargs="*", default=[], help="extra config files (e.g. configs/ci.yaml)")
    parser.add_argument("--keep", default=None, help="run in this directory and keep it (default: a temp dir)")
    parser.add_argument("--out", default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    # Before anything is copied: Snakemake's own "No Snakefile found" would lie in a kept temp folder's log.
    if not (Path(args.source) / "Snakefile").is_file():
        why = "holds no Snakefile" if Path(args.source).is_dir() else "is no folder"
        parser.error(f"argument --source: {args.source} {why} (give the workflow checkout)")
    for name in args.configfile:  # the run reads them in its copy of the checkout (or at an absolute path)
        if not (Path(args.source) / name).is_file():
            parser.error(f"argument --configfile: {name}: no such file in {args.source}")

    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="deepcee-bench-"))
    copy_workflow(args.source, workdir)
    snakemake = str(Path(sys.executable).parent / "snakemake")
    base = [snakemake, "--cores", str(args.cores)] + (["--configfile", *args.configfile] if args.configfile else [])
    env = workflow_env()
    run = run_measured(base, workdir, env, log=workdir / "bench_run.log")
    report = run_measured(base + ["--report", "results/report.html"], workdir, env, log=workdir / "bench_report.log")
    again = subprocess.run(base + ["-n"], cwd=workdir, env=env, capture_output=True, text=True)
    result = {
        "command": " ".join(
            ["snakemake", "--cores", str(args.cores)] + (["--configfile", *args.configfile] if args.configfile else [])
        ),
        "workdir": str(workdir),
        "run": run,
        "report": report,
        "second_run_does_nothing": "Nothing to be done" in (again.stdout + again.stderr),
        "cpus": os.cpu_count(),
        "targets": {"wall_s": 600, "peak_rss_gib": 6.0},
        "within_targets": run["returncode"] == 0 and run["wall_s"] <= 600 and run["peak_rss_gib"] <= 6.0,
    }
    text = json.dumps(result)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    if not args.keep:
        print(f"(run directory kept for inspection: {workdir})", file=sys.stderr)
    return 0 if run["returncode"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
