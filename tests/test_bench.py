"""The GPU benchmarks' plumbing, exercised on the CPU with tiny images (no timing is asserted)."""

from __future__ import annotations

import json

import pytest
from astropy.table import Table

from deepcee.bench import detector as bench_detector
from deepcee.bench import gpu_check
from deepcee.core.contracts import write_table
from deepcee.detector.dataset import write_synthetic_set
from deepcee.images.labels import png_pixel_to_sky

pytestmark = pytest.mark.timeout(600)


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_bench_detector_bare_line(capsys):
    """--bare adds the bare model's rate and the fraction of it the project's loop reached."""
    assert (
        bench_detector.main(
            [
                "--size",
                "64",
                "--steps",
                "1",
                "--warmup",
                "1",
                "--batch",
                "1",
                "--images",
                "2",
                "--threads",
                "1",
                "--workers",
                "0",
                "--bare",
                "--mode",
                "infer",
            ]
        )
        == 0
    )
    lines = _json_lines(capsys.readouterr().out)
    info = next(line for line in lines if line.get("event") == "info")
    assert info["size"] == 64
    (infer,) = [line for line in lines if line.get("mode") == "infer"]
    assert infer["img_per_s"] > 0 and infer["bare_img_per_s"] > 0
    assert infer["fraction_of_bare"] == pytest.approx(infer["img_per_s"] / infer["bare_img_per_s"], rel=1e-2)


def test_gpu_check_kills_resumes_and_locates(tmp_path, capsys):
    """The short check's three phases on the CPU: the killed run resumes and predictions land on the sky."""
    labels = write_synthetic_set(tmp_path / "syn", n=3, size=64, seed=5, n_test=2, fits_binning=2)
    table = Table.read(labels, format="ascii.ecsv")
    ra, dec = zip(*(png_pixel_to_sky(row["fits"], row["x"], row["y"], 64) for row in table))
    table["ra"], table["dec"], table["z"] = [float(v) for v in ra], [float(v) for v in dec], 0.15
    table["ra"].unit = table["dec"].unit = "deg"
    write_table("labels", table, labels)

    assert (
        gpu_check.main(
            [
                "--labels",
                str(labels),
                "--root",
                "/",
                "--workdir",
                str(tmp_path / "work"),
                "--backbone",
                "mobilenet_v3_large_fpn",
                "--device",
                "cpu",
                "--steps",
                "16",
                "--kill-after",
                "2",
                "--checkpoint-every",
                "1",
                "--batch",
                "1",
                "--precision",
                "fp32",
                "--workers",
                "0",
            ]
        )
        == 0
    )
    killed, resumed, predicted = _json_lines(capsys.readouterr().out)
    assert killed["phase"] == "killed" and not killed["model_written"]
    assert resumed["resumed_from_step"] >= 1 and resumed["steps_continuous"]
    assert predicted["test_images"] == 2 and predicted["boxes"] > 0
    assert predicted["truth_box_centre_to_cluster_arcsec_max"] < 0.01


# ------------------------------------------------------------------ bad arguments: argparse's one line


@pytest.mark.parametrize(
    "module, argv, message",
    [
        ("calibration", ["--pointings", "0"], "argument --pointings: must be at least 1 (got 0)"),
        ("detector", ["--steps", "0"], "argument --steps: must be at least 1 (got 0)"),
        ("detector", ["--threads", "0"], "argument --threads: must be at least 1 (got 0)"),
        ("detector", ["--workers", "-1"], "argument --workers: must be at least 0 (got -1)"),
        ("detector", ["--batch", "two"], "argument --batch: 'two' is not a whole number"),
        ("detector", ["--device", "gpu"], "argument --device: 'gpu' is not auto, cpu, cuda or cuda:N"),
        ("detector", ["--labels", "/nonexistent/labels.ecsv"], "argument --labels: /nonexistent/labels.ecsv: no such"),
        ("detector", ["--config", "/nonexistent.yaml"], "argument --config: /nonexistent.yaml: no such file"),
        ("gpu_check", ["--labels", "/nonexistent", "--workdir", "w"], "argument --labels: /nonexistent: no such file"),
        ("gpu_check", ["--labels", "{cfg}", "--workdir", "w", "--lr", "0"], "argument --lr: must be a number above 0"),
        (
            "gpu_check",
            ["--labels", "{cfg}", "--workdir", "w", "--steps", "10", "--kill-after", "20"],
            "argument --kill-after: must be below --steps (10), or the run ends before the kill",
        ),
        (
            "gpu_check",
            ["--labels", "{cfg}", "--workdir", "w", "--steps", "10", "--kill-after", "5", "--checkpoint-every", "10"],
            "argument --checkpoint-every: must be below --steps (10)",
        ),
        ("images", ["--views", "1"], "argument --views: must be at least 2 (got 1)"),  # the first is a warm-up
        ("images", ["--sizes", "500", "0"], "argument --sizes: must be at least 16 (got 0)"),
        ("realism", ["--crop", "0"], "argument --crop: must be at least 16 (got 0)"),
        ("realism", ["--threads", "0"], "argument --threads: must be at least 1 (got 0)"),
        ("realism", ["--C", "nan"], "argument --C: must be a number above 0 (got nan)"),
        ("realism", ["--fields", "/nonexistent"], "argument --fields: /nonexistent: no such folder"),
        ("realism", ["--config", "{broken}"], "{broken}:2: not valid YAML"),
        (
            "realism",
            ["--sky-objects", "real"],
            "images.mock.sky_objects: real needs --galaxy-library (the folder rule images_galaxy_library makes)",
        ),
        (
            "realism",
            ["--galaxy-library", "{tmp}"],
            "argument --galaxy-library: {tmp}/library.ecsv: no such file (make it with rule images_galaxy_library)",
        ),
        ("search", ["--tiles", "-3"], "argument --tiles: must be at least 1 (got -3)"),
        ("search", ["--batch-size", "0"], "argument --batch-size: must be at least 1 (got 0)"),
        ("search", ["--repeat", "0"], "argument --repeat: must be at least 1 (got 0)"),
        ("search", ["--devices", "cpu,gpu"], "argument --devices: 'gpu' is not cpu or cuda"),
        ("search", ["--model", "/nonexistent.pt"], "argument --model: /nonexistent.pt: no such file"),
        ("workflow", ["--cores", "0"], "argument --cores: must be a whole number above 0 or all (got 0)"),
        ("workflow", ["--source", "/nonexistent"], "argument --source: /nonexistent is no folder"),
        ("workflow", ["--source", "{tmp}"], "argument --source: {tmp} holds no Snakefile"),
        ("workflow", ["--configfile", "configs/nope.yaml"], "argument --configfile: configs/nope.yaml: no such file"),
    ],
)
def test_bench_refuses_bad_arguments_in_one_line(module, argv, message, tmp_path, capsys, monkeypatch):
    """Every `python -m deepcee.bench.<name>` (confirmation aside): a bad value ends in argparse's
    own error line before anything is built, written or copied (was a traceback, NaN rows, or a
    temp folder holding Snakemake's "No Snakefile found")."""
    import importlib

    broken = tmp_path / "broken.yaml"
    broken.write_text("train: [1,\n")
    names = {"cfg": str(broken), "broken": str(broken), "tmp": str(tmp_path)}
    argv = [a.format(**names) for a in argv]
    message = message.format(**names)
    made = set(tmp_path.parent.glob("deepcee-bench-*"))
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path.parent))  # no temp folder made before the refusal
    with pytest.raises(SystemExit) as stop:
        importlib.import_module(f"deepcee.bench.{module}").main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert f"error: {message}" in err[-1], err[-1]
    assert "Traceback" not in "\n".join(err)
    assert set(tmp_path.parent.glob("deepcee-bench-*")) == made


def test_bench_images_leaves_no_temp_folder(tmp_path, monkeypatch):
    """The image benchmark writes its FITS and PNG files to a temporary folder it removes."""
    from deepcee.bench import images as bench_images

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    rows = bench_images.bench(sizes=(64,), n_views=2, seed=1, mock_cfg={"mag_limit": 18.0})
    assert [r["step"] for r in rows] == ["mock render", "stretch"] and all(r["views"] > 0 for r in rows)
    assert list(tmp_path.iterdir()) == []
