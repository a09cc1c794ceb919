"""Training: the loss falls, runs are deterministic on CPU, killed runs resume, bad input is one line."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from deepcee.core.errors import DeepCeeError
from deepcee.detector.dataset import write_synthetic_set
from deepcee.detector.training import LOSS_COLUMNS, read_losses, resolve_device, train

SIZE = 96
CFG = {
    "steps": 20,
    "batch_size": 1,
    "workers": 0,
    "checkpoint_every": 5,
    "device": "cpu",
    "optimiser": {"name": "adamw", "lr": 3e-4},
}


@pytest.fixture(scope="module")
def labels(tmp_path_factory):
    return write_synthetic_set(tmp_path_factory.mktemp("syn"), n=6, size=SIZE, seed=1, n_test=2, fits_binning=1)


def _run(labels, out: Path, cfg=CFG, seed=7, **kw):
    # One intra-op thread: what training.deterministic promises bit-identical results for.
    return train(
        cfg,
        seed,
        labels,
        out / "model.pt",
        out / "losses.csv",
        out / "checkpoints",
        tensorboard_dir=kw.pop("tb", None),
        summary_path=out / "summary.json",
        threads=1,
        log=lambda m: None,
        **kw,
    )


def _run_dir(labels, out: Path, cfg=CFG, seed=7) -> Path:
    """The checkpoint folder of ``cfg`` on ``labels`` (one per config and labels file)."""
    from deepcee.core.files import file_sha256
    from deepcee.detector.training import learning_hash, run_folder, train_config

    return run_folder(out / "checkpoints", learning_hash(train_config(cfg), seed), file_sha256(labels))


def _losses(path):
    return [[r[c] for c in LOSS_COLUMNS[:6]] for r in read_losses(path)]


@pytest.fixture(scope="module")
def reference(labels, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref")
    _run(labels, out, tb=out / "tb")
    return out


def test_outputs_and_loss_falls(reference):
    rows = read_losses(reference / "losses.csv")
    assert [r["step"] for r in rows] == list(range(1, 21))
    with open(reference / "losses.csv") as handle:
        assert next(csv.reader(handle)) == LOSS_COLUMNS
    first = sum(r["loss_total"] for r in rows[:3]) / 3
    last = sum(r["loss_total"] for r in rows[-5:]) / 5
    assert last < 0.7 * first
    model = torch.load(reference / "model.pt", weights_only=True)  # tensors and plain types only
    assert model["step"] == 20 and model["detector"]["backbone"] == "mobilenet_v3_large_fpn"
    assert model["image_size"] == SIZE and "model" in model
    assert (reference / "summary.json").exists()
    assert any((reference / "tb").iterdir())  # TensorBoard events


def test_cpu_determinism(labels, reference, tmp_path):
    """Same seed, config, one CPU thread → the same 20 losses, bit for bit, and the same model.pt bytes."""
    summary = _run(labels, tmp_path)
    assert summary["threads"] == 1 and summary["deterministic"] is True
    assert _losses(tmp_path / "losses.csv") == _losses(reference / "losses.csv")
    assert (tmp_path / "model.pt").read_bytes() == (reference / "model.pt").read_bytes()
    assert not torch.are_deterministic_algorithms_enabled()  # restored after the run


class _Payload:
    """Stands for any object a pickle could carry (and run code on load)."""

    def __reduce__(self):
        return (print, ("unpickled!",))


def test_pickled_object_refused(labels, tmp_path):
    """A checkpoint holding an arbitrary pickled object is refused, not unpickled."""
    ckpt = _run_dir(labels, tmp_path) / "last.pt"
    ckpt.parent.mkdir(parents=True)
    torch.save({"model": {}, "payload": _Payload()}, ckpt)
    with pytest.raises(DeepCeeError, match="unreadable checkpoint") as err:
        _run(labels, tmp_path)
    assert str(ckpt) in str(err.value) and "\n" not in str(err.value)


def test_resume_after_exception(labels, reference, tmp_path):
    """Interrupted at step 8 (checkpoint at 5): the rerun resumes, ends at step 20, same losses."""

    def boom(step, values):
        if step == 8:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run(labels, tmp_path, on_step=boom)
    assert not (tmp_path / "model.pt").exists()
    live = read_losses(_run_dir(labels, tmp_path) / "losses.csv")
    assert live[-1]["step"] == 8
    summary = _run(labels, tmp_path)
    assert summary["counts"]["resumed_from_step"] == 5
    rows = read_losses(tmp_path / "losses.csv")
    assert [r["step"] for r in rows] == list(range(1, 21))  # continuous, no duplicates
    assert _losses(tmp_path / "losses.csv") == _losses(reference / "losses.csv")  # bit-identical on CPU


def test_resume_after_kill_9(labels, tmp_path):
    """A training process killed with SIGKILL is resumed by simply running it again."""
    cfg = dict(CFG, steps=12, checkpoint_every=3)
    script = textwrap.dedent(f"""
        import sys
        from deepcee.detector.training import train
        train({cfg!r}, 7, {str(labels)!r}, {str(tmp_path / "model.pt")!r}, {str(tmp_path / "losses.csv")!r},
              {str(tmp_path / "checkpoints")!r}, threads=1)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = _run_dir(labels, tmp_path, cfg=cfg) / "last.pt"
    deadline = time.time() + 400
    while time.time() < deadline and proc.poll() is None:
        if ckpt.exists():
            step = torch.load(ckpt, weights_only=True)["step"]
            if step >= 3:
                break
        time.sleep(0.2)
    assert proc.poll() is None, "training finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "model.pt").exists()
    summary = _run(labels, tmp_path, cfg=cfg)
    assert summary["counts"]["resumed_from_step"] >= 3
    assert [r["step"] for r in read_losses(tmp_path / "losses.csv")] == list(range(1, 13))
    assert torch.load(tmp_path / "model.pt", weights_only=True)["step"] == 12


def test_changed_config_starts_fresh_restored_one_resumes(labels, tmp_path):
    """Checkpoints are kept per train config: a changed config (here more steps, the commonest
    change) trains from step 0 in a folder of its own, beside the old one; the old config, restored,
    resumes from its finished checkpoint (no step retrained); only the newest KEEP_RUNS are kept."""
    from deepcee.detector.training import KEEP_RUNS

    cfg = dict(CFG, steps=2, checkpoint_every=1)
    _run(labels, tmp_path, cfg=cfg)
    longer = dict(cfg, steps=3)
    assert _run(labels, tmp_path, cfg=longer)["counts"]["resumed_from_step"] == 0
    assert _run_dir(labels, tmp_path, cfg=cfg) != _run_dir(labels, tmp_path, cfg=longer)
    assert (_run_dir(labels, tmp_path, cfg=cfg) / "last.pt").exists()
    # restored; runtime-only keys (device, workers, checkpoint_every) share the folder
    restored = _run(labels, tmp_path, cfg=dict(cfg, checkpoint_every=2, device="auto"))
    assert restored["counts"]["resumed_from_step"] == 2
    assert [r["step"] for r in read_losses(tmp_path / "losses.csv")] == [1, 2]
    for lr in (1e-4, 2e-4, 4e-4):
        _run(labels, tmp_path, cfg=dict(cfg, steps=1, optimiser={"name": "adamw", "lr": lr}))
    kept = [p for p in (tmp_path / "checkpoints").iterdir() if p.is_dir()]
    assert len(kept) == KEEP_RUNS and _run_dir(labels, tmp_path, cfg=cfg) not in kept


def test_checkpoint_of_another_config_in_the_folder_is_refused(labels, tmp_path):
    """A checkpoint moved by hand into another config's folder is caught by its recorded hash."""
    cfg = dict(CFG, steps=2, checkpoint_every=1)
    _run(labels, tmp_path, cfg=cfg)
    other = dict(cfg, optimiser={"name": "adamw", "lr": 5e-4})
    target = _run_dir(labels, tmp_path, cfg=other)
    shutil.copytree(_run_dir(labels, tmp_path, cfg=cfg), target)
    with pytest.raises(DeepCeeError, match="another train config") as err:
        _run(labels, tmp_path, cfg=other)
    assert "\n" not in str(err.value)


def test_inference_settings_resave_without_retraining(labels, tmp_path):
    """Changing the box NMS (used only when predicting) re-saves the finished model, same weights."""
    from deepcee.detector.inference import load_model

    cfg = dict(CFG, steps=2, checkpoint_every=1)
    _run(labels, tmp_path, cfg=cfg)
    first, _ = load_model(tmp_path / "model.pt")
    lossrows = _losses(tmp_path / "losses.csv")
    _run(labels, tmp_path, cfg=dict(cfg, detector={"box_nms_thresh": 0.3}))
    second, meta = load_model(tmp_path / "model.pt")
    assert meta["detector"]["box_nms_thresh"] == 0.3 and second.roi_heads.nms_thresh == 0.3
    assert first.roi_heads.nms_thresh == 0.6
    assert _losses(tmp_path / "losses.csv") == lossrows
    for a, b in zip(first.state_dict().values(), second.state_dict().values()):
        assert torch.equal(a, b)


def _labels_with(tmp_path, labels, changes):
    from astropy.table import Table

    table = Table.read(labels, format="ascii.ecsv")
    for (col, row), value in changes.items():
        table[col][row] = value
    path = tmp_path / "labels.ecsv"
    table.write(path, format="ascii.ecsv", overwrite=True)
    return path


def test_empty_training_set(labels, tmp_path):
    from astropy.table import Table

    table = Table.read(labels, format="ascii.ecsv")
    table["split"] = "test"
    path = tmp_path / "labels.ecsv"
    table.write(path, format="ascii.ecsv")
    with pytest.raises(DeepCeeError, match="empty training set") as err:
        _run(path, tmp_path)
    assert str(path) in str(err.value)


def test_box_outside_image(labels, tmp_path):
    path = _labels_with(tmp_path, labels, {("x1", 2): SIZE + 30.0})
    with pytest.raises(DeepCeeError, match=r"row 3 .*outside the 96x96 image") as err:
        _run(path, tmp_path)
    assert "syn0002_v0.png" in str(err.value)


def test_missing_png(labels, tmp_path):
    path = _labels_with(tmp_path, labels, {("png", 1): "nowhere/missing.png"})
    with pytest.raises(DeepCeeError, match="missing.png"):
        _run(path, tmp_path)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_requested_without_cuda():
    with pytest.raises(DeepCeeError, match="train.device.*no usable CUDA"):
        resolve_device("cuda")


def test_bad_config_values():
    from deepcee.detector.training import train_config

    with pytest.raises(DeepCeeError, match="train.optimiser.momentun"):
        train_config({"optimiser": {"momentun": 0.9}})
    with pytest.raises(DeepCeeError, match="train.precision"):
        train_config({"precision": "fp16"})


def test_unknown_train_key():
    """A typo in the train section is refused, not ignored (300 steps would run)."""
    from deepcee.detector.training import train_config

    with pytest.raises(DeepCeeError, match=r"unknown config key 'train\.stpes'"):
        train_config({"steps": 300, "stpes": 2})
    assert train_config({"steps": 3, "runtime_min": 5, "predict": {}})["steps"] == 3


def test_fused_adamw_takes_the_reference_adamw_step():
    """make_optimiser's fused AdamW (one kernel over all tensors) updates as torch's per-tensor loop does."""
    from deepcee.detector.training import make_optimiser

    torch.manual_seed(0)
    fused_model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2))
    loop_model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2))
    loop_model.load_state_dict(fused_model.state_dict())
    opt = {"name": "adamw", "lr": 1e-2, "weight_decay": 1e-4}
    fused = make_optimiser(fused_model, opt)
    loop = torch.optim.AdamW(loop_model.parameters(), lr=1e-2, weight_decay=1e-4, foreach=False)
    assert fused.defaults["fused"]
    x = torch.randn(8, 6)
    for _ in range(3):
        for model, optimiser in ((fused_model, fused), (loop_model, loop)):
            optimiser.zero_grad()
            model(x).square().sum().backward()
            optimiser.step()
    for a, b in zip(fused_model.parameters(), loop_model.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
