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
