"""The paper profile, executed: every rule of configs/paper.yaml run to a built PDF, offline.

configs/paper.yaml is shrunk in size only (tests/paper_offline.yaml: 16 clusters, 2 views each,
250 px views, 2 training steps, the CPU). The network is answered from bundled real files in every job process
(tests/network_fakes.py through tests/offline_network/sitecustomize.py): VizieR's WHL12 and
redMaPPer tables through astroquery's own Vizier client, SkyView cutouts of real SDSS frames, the
SDSS spectra; torchvision finds "COCO weights" in TORCH_HOME as it finds a pre-fetched file.
What only a run with the network covers is listed in docs/testing.md.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

# The redshift stage is the one left out (tests/paper_offline.yaml says why).
LEFT_OUT = re.compile(r"^redshift_")


def _paper_rules(work: Path, env: dict) -> set[str]:
    """Every rule the unshrunk paper profile schedules (as submitted to a cluster)."""
    dry = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--forceall", "--quiet", "rules"]
        + ["--configfile", "configs/paper.yaml", "--executor", "slurm", "--jobs", "10"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert dry.returncode == 0, dry.stderr[-3000:]
    stats = dry.stdout[dry.stdout.index("Job stats:") :]
    return {m.group(1) for m in re.finditer(r"^(\w+)\s+\d+$", stats, flags=re.M) if m.group(1) != "total"}


def _fake_coco_weights(torch_home: Path) -> None:
    """A state dict of the paper's detector where torchvision caches the COCO weights
    ($TORCH_HOME/hub/checkpoints): the workflow loads it through torchvision's own cache lookup
    (random values: the download is the network's part)."""
    import torch
    from torchvision.models.detection import fasterrcnn_resnet50_fpn_v2

    from deepcee.detector.model import coco_weights_enum

    path = torch_home / "hub" / "checkpoints" / os.path.basename(coco_weights_enum("resnet50_fpn_v2").url)
    path.parent.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(fasterrcnn_resnet50_fpn_v2(weights=None, weights_backbone=None).state_dict(), path)


@pytest.fixture(scope="module")
def paper_run(repo, tmp_path_factory):
    from deepcee.bench.workflow import copy_workflow, workflow_env

    if shutil.which("latexmk") is None:
        pytest.skip("latexmk not installed (make latex installs it)")
    root = tmp_path_factory.mktemp("paper-profile")
    work = copy_workflow(repo, root / "workflow")
    shutil.copy(repo / "tests/paper_offline.yaml", work / "paper_offline.yaml")
    _fake_coco_weights(root / "torch")
    (root / "frames").mkdir()
    env = workflow_env()
    tests = repo / "tests"
    shim = [str(tests / "offline_network"), str(tests), env.get("PYTHONPATH")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in shim if p)
    env.update(
        DEEPCEE_OFFLINE_NETWORK=str(repo / "resources"),
        DEEPCEE_OFFLINE_NETWORK_LOG=str(root / "network.jsonl"),
        DEEPCEE_OFFLINE_NETWORK_CACHE=str(root / "frames"),
        TORCH_HOME=str(root / "torch"),
    )
    run = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", "configs/paper.yaml", "paper_offline.yaml"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=3000,
    )
    (root / "run.log").write_text(run.stdout + run.stderr)
    assert run.returncode == 0, (run.stdout + run.stderr)[-6000:]
    asked = Counter(json.loads(line)["service"] for line in (root / "network.jsonl").read_text().splitlines())
    yield {"work": work, "out": run.stdout + run.stderr, "asked": asked, "rules": _paper_rules(work, env)}
    # ResNet-50 checkpoints of four models: gigabytes the rest of the session need not keep
    shutil.rmtree(root / "torch", ignore_errors=True)
    shutil.rmtree(root / "frames", ignore_errors=True)
    shutil.rmtree(work / "results", ignore_errors=True)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_every_rule_of_the_paper_profile_runs(paper_run):
    ran = set(re.findall(r"^\s*(?:local)?rule (\w+):\s*$", paper_run["out"], flags=re.M))
    expected = {r for r in paper_run["rules"] if not LEFT_OUT.match(r)}
    assert {"download_vizier", "images_download_shard", "search_download_shard", "evaluate_sdss_redshifts"} <= expected
    # the one run of k-fold and the cluster split in the tests (configs/ci.yaml leaves them off)
    assert {"kfold_labels", "cluster_split_labels", "resplit_train", "resplit_predict", "kfold_table"} <= expected
    assert expected - ran == set()


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_the_network_was_asked_through_the_services(paper_run):
    asked = paper_run["asked"]
    assert asked["vizier"] >= 2 and asked["sdss"] >= 1
    assert asked["skyview"] >= 3 * 16  # g, r, i of every training/test view, then the comparison and search


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_the_paper_is_built_inside_its_own_results_folder(paper_run):
    work = paper_run["work"]
    assert (work / "results/paper/ms.pdf").read_bytes()[:5] == b"%PDF-"
    assert not (work / "paper/ms.pdf").exists() and not (work / "logs").exists()
    assert sorted(p.name for p in (work / "results").iterdir()) == ["paper"]
    summary = json.loads((work / "results/paper/03_train/summary.json").read_text())
    # the COCO weights were loaded: only the 2-class box predictor is new
    assert summary["skipped_pretrained_tensors"] and all(
        "box_predictor" in name for name in summary["skipped_pretrained_tensors"]
    )
