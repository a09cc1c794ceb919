"""Inference: every box scored in [0, 1], inside the image, with RA/Dec through the view's WCS."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

from deepcee.core.contracts import table_contract
from deepcee.core.errors import DeepCeeError
from deepcee.detector.dataset import write_synthetic_set
from deepcee.detector.inference import PREDICTION_COLUMNS, load_model, png_pixel_to_sky, predict_images, predict_labels
from deepcee.detector.model import build_detector

SIZE = 96


@pytest.fixture(scope="module")
def labels(tmp_path_factory):
    return write_synthetic_set(tmp_path_factory.mktemp("syn"), n=2, size=SIZE, seed=3, n_test=3, fits_binning=2)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """An (untrained) model file in the training stage's format."""
    torch.manual_seed(0)
    cfg = {"backbone": "mobilenet_v3_large_fpn"}
    model = build_detector(cfg, SIZE)
    path = tmp_path_factory.mktemp("model") / "model.pt"
    torch.save({"model": model.state_dict(), "detector": model.deepcee_config, "image_size": SIZE, "step": 0}, path)
    return path


def test_predictions_table(labels, model_path, tmp_path):
    out = tmp_path / "predictions_test.ecsv"
    table = predict_labels(
        model_path, labels, out, split="test", cfg={"batch_size": 2, "workers": 0}, threads=2, log=lambda m: None
    )
    assert out.exists()
    back = Table.read(out, format="ascii.ecsv")
    assert back.colnames == table_contract("predictions").colnames
    assert back.colnames[: len(PREDICTION_COLUMNS)] == PREDICTION_COLUMNS
    assert set(back["view"]) <= {"syn0002_v0", "syn0003_v0", "syn0004_v0"}
    assert len(back) > 0 and len(back) == len(table)
    for view in set(back["view"]):
        assert (back["view"] == view).sum() <= 300
    assert ((back["score"] >= 0) & (back["score"] <= 1)).all()
    for c in ("x0", "x1", "x", "y0", "y1", "y"):
        assert ((back[c] >= 0) & (back[c] <= SIZE)).all(), c
    assert (back["x0"] <= back["x1"]).all() and (back["y0"] <= back["y1"]).all()
    box = ~np.asarray(back["on_bcg"])  # centres on a BCG are tested in tests/test_centring.py
    assert np.allclose(back["x"][box], ((back["x0"] + back["x1"]) / 2)[box])
    assert np.allclose(back["ra"][box], back["box_ra"][box])
    assert np.isfinite(back["ra"]).all() and np.isfinite(back["dec"]).all()
    # each box's RA/Dec lies in its own view's field (within the 2*SIZE px x 0.396" image)
    first = back[0]
    w = WCS(fits.getheader(labels.parent / "fits" / f"{first['view']}.fits", "R"))
    fx, fy = w.world_to_pixel_values(first["ra"], first["dec"])
    assert -1 <= fx <= 2 * SIZE and -1 <= fy <= 2 * SIZE


def test_batched_equals_single_and_bf16(labels, model_path):
    model, _ = load_model(model_path)
    rows = Table.read(labels, format="ascii.ecsv")
    rows = rows[rows["split"] == "test"]
    pngs = [str(p) for p in rows["png"]]
    one = predict_images(model, pngs, batch_size=1, device="cpu", progress=False)
    many = predict_images(model, pngs, batch_size=3, device="cpu", progress=False)
    assert len(one) == len(many)
    assert np.allclose(one["score"], many["score"], atol=1e-4)
    assert np.isnan(one["ra"]).all()  # no FITS given → no sky coordinates
    bf16 = predict_images(model, pngs[:1], batch_size=1, device="cpu", precision="bf16", progress=False)
    assert ((bf16["score"] >= 0) & (bf16["score"] <= 1)).all()


def test_sky_round_trip(labels):
    """PNG pixel → (RA, Dec) → FITS pixel → PNG pixel is the identity; PNG row 0 is north (top)."""
    table = Table.read(labels, format="ascii.ecsv")
    fits_path = str(table["fits"][0])
    header = fits.getheader(fits_path, "R")
    w = WCS(header)
    n = header["NAXIS1"]
    x = np.array([0.0, 10.5, SIZE / 2 - 0.5, SIZE - 1.0])
    y = np.array([0.0, 80.25, SIZE / 2 - 0.5, 3.0])
    ra, dec = png_pixel_to_sky(fits_path, x, y, SIZE)
    fx, fy = w.world_to_pixel_values(ra, dec)
    back_x = (fx + 0.5) * SIZE / n - 0.5
    back_y = SIZE - 0.5 - (fy + 0.5) * SIZE / n
    assert np.allclose(back_x, x, atol=1e-6) and np.allclose(back_y, y, atol=1e-6)
    # the PNG centre is the FITS centre (CRPIX) → CRVAL
    assert np.isclose(ra[2], w.wcs.crval[0], atol=1e-9) and np.isclose(dec[2], w.wcs.crval[1], atol=1e-9)
    assert dec[0] > dec[3] - 1e-12 or y[0] < y[3]  # smaller PNG row → further north
    r0, d_top = png_pixel_to_sky(fits_path, 40.0, 0.0, SIZE)
    r1, d_bottom = png_pixel_to_sky(fits_path, 40.0, SIZE - 1.0, SIZE)
    assert d_top > d_bottom


def test_bad_model_file(tmp_path):
    bad = tmp_path / "model.pt"
    torch.save({"something": 1}, bad)
    with pytest.raises(DeepCeeError, match="not a Deep-CEE model file"):
        load_model(bad)
    with pytest.raises(DeepCeeError, match="model file not found"):
        load_model(tmp_path / "nope.pt")

    class _Payload:
        def __reduce__(self):
            return (print, ("unpickled!",))

    torch.save({"model": {}, "detector": {}, "payload": _Payload()}, bad)
    with pytest.raises(DeepCeeError, match="unreadable model file") as err:
        load_model(bad)
    assert str(bad) in str(err.value) and "\n" not in str(err.value)


def test_corrupt_png_in_worker(labels, model_path, tmp_path):
    """A corrupt PNG read in a DataLoader worker is one short line naming the PNG, not the worker's traceback."""
    bad = tmp_path / "corrupt.png"
    good = Table.read(labels, format="ascii.ecsv")["png"][0]
    with open(str(good), "rb") as handle:  # a PNG cut short: its header is fine, its data is not
        bad.write_bytes(handle.read()[:60])
    model, _ = load_model(model_path)
    with pytest.raises(DeepCeeError) as err:
        predict_images(model, [str(bad)], batch_size=1, device="cpu", workers=1, progress=False)
    message = str(err.value)
    assert message.startswith(f"{bad}: cannot decode PNG") and "Traceback" not in message
    assert "\n" not in message and len(message) < 250
