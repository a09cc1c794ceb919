"""Two fresh runs of configs/ci.yaml write the same results/, byte for byte except the volatile
fields listed once in tests/results_compare.py; and a FITS or PNG damaged by hand inside a
directory() output makes `snakemake -n` schedule its shard and everything downstream.

No run of its own: the two runs are the session's (tests/conftest.py ``CiRuns``): the end-to-end
test's local run and the second run, which goes through the one-node Slurm when there is one (so
the Slurm test's run is also this test's) and runs locally again when there is none.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from results_compare import differences

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def _snakemake(work: Path, *args: str) -> subprocess.CompletedProcess:
    from deepcee.bench.workflow import workflow_env

    return subprocess.run(
        [str(Path(sys.executable).parent / "snakemake"), "--cores", "2", "--configfile", "configs/ci.yaml", *args],
        cwd=work,
        env=workflow_env(),
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="module")
def second_run(ci_second_run) -> Path:
    """configs/ci.yaml once more, in another fresh copy of the workflow (other path, other time)."""
    return ci_second_run["work"]


def test_two_runs_write_the_same_bytes(ci_local_run, second_run):
    # report.html: written into the session run by the end-to-end test's `--report`, not by the run
    diff, compared = differences(ci_local_run, second_run, ignore=["report.html"])
    assert compared > 250  # the whole tree (about 300 files), not a few
    assert diff == [], "\n".join(diff[:40])


def _linked_copy(src: Path, dst: Path) -> Path:
    """The run's tree with results/ hard-linked (1 GB not copied; mtimes kept): a file is damaged
    by unlinking it, or by writing a new one in its place, so the original never changes."""
    shutil.copytree(src, dst, symlinks=True, ignore=shutil.ignore_patterns("results"))
    shutil.copytree(src / "results", dst / "results", symlinks=True, copy_function=os.link)
    return dst


def _job_counts(out: str) -> dict[str, int]:
    if "Job stats" not in out:
        return {}
    stats = out[out.index("Job stats") :].split("\n\n")[0]  # the table, up to its blank line
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, flags=re.M)}


def test_damaged_image_reruns_its_shard_and_downstream(second_run, tmp_path):
    intact = _snakemake(second_run, "-n")
    assert intact.returncode == 0 and "Nothing to be done" in intact.stdout + intact.stderr

    # damaged in a copy elsewhere; the move alone reruns only the provenance record (its params
    # hold the workflow's path), no image job
    work = _linked_copy(second_run, tmp_path / "damaged")
    moved = _job_counts(_snakemake(work, "-n").stdout)
    assert not [rule for rule in moved if rule.startswith("images_")], moved

    images = work / "results/02_images"
    png = sorted((images / "png/0").glob("*.png"))[0]
    png.unlink()
    fits = sorted((images / "fits/1").glob("*.fits"))[0]
    data = bytearray(fits.read_bytes())
    data[-1] ^= 0xFF  # one byte of the image data (same size)
    fits.unlink()
    fits.write_bytes(bytes(data))

    plan = _snakemake(work, "-n")
    out = plan.stdout + plan.stderr
    assert plan.returncode == 0, out[-4000:]
    counts = _job_counts(out)
    assert counts.get("images_render_shard") == 1  # the edited FITS's shard only
    assert counts.get("images_stretch_shard") == 2  # the PNG's shard, and the FITS shard's stretch
    for downstream in ("images_labels", "train_detector", "predict_test", "evaluate_test", "paper_numbers"):
        assert downstream in counts, (downstream, counts)
    assert "'seal-0' now: 'seal-1'" in out  # the reason: the seal's params marker
    assert png.exists() is False and fits.stat().st_size == len(data)  # -n repaired nothing
