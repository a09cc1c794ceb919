"""Calibrate the mock against real SDSS frames with a source extractor (sep).

Two numbers per band (docs/design.md §4): the pixel noise (robust MAD sigma of the
background-subtracted image, nMgy per native 0.396" pixel) and the density of 5-sigma
sources (sep detections with flux S/N >= 5, per square degree).

    python -m deepcee.bench.calibration            # mock (paper-size) vs the bundled real frames
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

BLANK_DIR = "resources/sdss-frames-run2126-camcol1-gri"


def pixel_noise(data: np.ndarray) -> float:
    """Robust sigma (1.4826 x MAD) of an image, ignoring NaNs."""
    d = np.asarray(data, dtype=np.float64)
    d = d[np.isfinite(d)]
    return float(1.4826 * np.median(np.abs(d - np.median(d))))


def source_density(data: np.ndarray, pixel_scale_arcsec: float, nsigma: float = 5.0) -> dict:
    """sep: background, then detections at 1.5 sigma (5 connected pixels) kept if flux S/N >= nsigma."""
    import sep

    d = np.ascontiguousarray(np.asarray(data, dtype=np.float64))
    bkg = sep.Background(d)
    sub = d - bkg.back()
    objs = sep.extract(sub, 1.5, err=bkg.globalrms, minarea=5)
    flux, fluxerr, _ = sep.sum_circle(sub, objs["x"], objs["y"], 3.0 / pixel_scale_arcsec, err=bkg.globalrms, gain=None)
    snr = flux / np.maximum(fluxerr, 1e-12)
    n = int(np.sum(snr >= nsigma))
    area_deg2 = d.size * (pixel_scale_arcsec / 3600.0) ** 2
    return {"n": n, "per_deg2": n / area_deg2, "rms": float(bkg.globalrms), "area_deg2": area_deg2}


def real_frame_stats(folder: str | Path = BLANK_DIR) -> dict:
    from astropy.io import fits

    out = {}
    for band in "gri":
        f = Path(folder) / f"rand_img-{band}-ra174.034-dec3.910-redshift0.294.fits.bz2"
        with fits.open(f) as hdul:
            d = np.asarray(hdul[0].data, dtype=np.float32)
        out[band] = {"pixel_noise": pixel_noise(d), **source_density(d, 0.396)}
    return out


def mock_stats(seed: int = 2019, pixels: int = 2000, scale: float = 0.396, mock_cfg: dict | None = None) -> dict:
    """A paper-size blank mock pointing (no catalogued cluster: richness 0 -> BCG + few members
    placed off the frame) measured like the real frames."""
    from deepcee.core.config import with_defaults
    from deepcee.images.mocksky import render_view

    view = {
        "view": "calib_v0",
        "cluster_id": "calib",
        "ra": 174.05,
        "dec": 3.97 + 1.0,
        "z": 0.15,
        "richness": 1.0,
        "bcg_rmag": np.nan,
        "centre_ra": 174.05,
        "centre_dec": 3.97,
        "offset_ra_arcsec": 0.0,
        "offset_dec_arcsec": 3600.0,
    }
    cfg = with_defaults("images", {"pixels": pixels, "pixel_scale_arcsec": scale, "mock": mock_cfg or {}})
    img, _, _ = render_view(view, cfg, seed)
    out = {}
    f = (0.396 / scale) ** 2
    for j, band in enumerate("gri"):
        out[band] = {
            "pixel_noise": pixel_noise(img[j] * f) / f**0.5 if f != 1 else pixel_noise(img[j]),
            **source_density(img[j], scale),
        }
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2019)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = {"real_sdss_run2126": real_frame_stats(), "mock_2000px_0.396": mock_stats(args.seed)}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{'band':4s} {'source':>10s} {'noise nMgy/px':>14s} {'5sig src/deg2':>14s} {'n':>6s}")
    for band in "gri":
        for name, key in (("real", "real_sdss_run2126"), ("mock", "mock_2000px_0.396")):
            s = result[key][band]
            print(f"{band:4s} {name:>10s} {s['pixel_noise']:14.4f} {s['per_deg2']:14.0f} {s['n']:6d}")


if __name__ == "__main__":
    main()
