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


def test_images_are_tracked_outputs(repo, tmp_path):
    """Every FITS and PNG (flips included) lies in a declared directory() output of the rule that
    writes it, so Snakemake replaces them wholesale (no files left from an old config); a PNG
    deleted behind Snakemake's back stops its consumer with one line naming it (configs/ci.yaml,
    images stage only, in a copy of the workflow)."""
    from deepcee.bench.workflow import copy_workflow, workflow_env

    work = copy_workflow(repo, tmp_path / "workflow")
    images = work / "results/02_images"
    base = [sys.executable, "-m", "snakemake", "results/02_images/labels.ecsv", "--cores", "2",
            "--configfile", "configs/ci.yaml"]

    def run(*extra, ok=True):
        result = subprocess.run(base + list(extra), cwd=work, env=workflow_env(), capture_output=True,
                                text=True, timeout=900)
        assert (result.returncode == 0) == ok, (result.stdout + result.stderr)[-3000:]
        return result.stdout + result.stderr

    run()
    assert sorted(p.name for p in (images / "png").iterdir()) == ["0", "1"]
    assert sorted(p.name for p in (images / "fits").iterdir()) == ["0", "1"]
    assert list((images / "png_flip").glob("*_flip.png"))  # the flips are the labels rule's own output
    assert not list((images / "png").rglob("*_flip.png"))
    assert "Nothing to be done" in run("-n")
    # a rerun of the stretch shard replaces its whole folder (stale PNGs cannot survive it)
    plan = run("-n", "--forcerun", "images_stretch_shard")
    assert "images_stretch_shard" in plan and "images_labels" in plan

    png = sorted((images / "png/0").glob("*.png"))[0]
    png.unlink()
    out = run("--forcerun", "images_labels", ok=False)
    errors = [line for line in out.splitlines() if line.startswith("ERROR:")]
    assert errors and errors[0].startswith(f"ERROR: results/02_images/png/0/{png.name}: PNG of view")
    assert not (images / "labels.ecsv").exists()
