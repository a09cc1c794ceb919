"""deepcee.paper.provenance: results/provenance.json holds config, commit, versions, device, hashes, summaries."""

import hashlib
import json

from deepcee.paper.provenance import build_provenance, git_commit, training_device, write_provenance
from paper_fakes import make_results


def test_provenance_record(tmp_path):
    paths = make_results(tmp_path, figures=False)
    res = tmp_path / "resources"
    res.mkdir()
    (res / "a.csv").write_text("x\n1\n")
    (res / "sub").mkdir()
    (res / "sub/b.txt").write_text("hello")
    config = {"seed": 7, "paper": {"document_class": "auto"}}
    out = tmp_path / "provenance.json"
    write_provenance(
        out,
        config,
        {"catalogue": paths["catalogue_summary"], "train": paths["train_summary"], "evaluate": None},
        inputs=[res],
        repo=tmp_path,
        config_files=["config.yaml"],
    )
    record = json.loads(out.read_text())
    assert record["config"] == config and record["config_files"] == ["config.yaml"]
    assert record["git_commit"] == "unknown"  # tmp_path is not a git checkout
    assert record["training_device"] == "cpu"
    assert record["software"]["python"] and "astropy" in record["software"]
    assert record["inputs"]["resources/sub/b.txt"]["sha256"] == hashlib.sha256(b"hello").hexdigest()
    assert set(record["inputs"]) == {"resources/a.csv", "resources/sub/b.txt"}
    assert record["stages"]["catalogue"]["counts"]["sample"] == 10
    assert record["stages"]["evaluate"] == {}
    from deepcee.core.lineage import stage_hashes

    assert record["stage_config_hashes"] == stage_hashes(config) and "train" in record["stage_config_hashes"]


def test_git_commit_of_the_project(repo):
    commit = git_commit(repo)
    assert commit == "unknown" or len(commit) == 40


def test_training_device_unknown_without_summary():
    assert training_device({}) == "unknown"
    assert training_device({"device": "cuda:0"}) == "cuda:0"
    assert build_provenance({}, {})["training_device"] == "unknown"
