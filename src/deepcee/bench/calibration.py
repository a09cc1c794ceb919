"""Calibrate the mock against real SDSS frames with a source extractor (sep).

Two numbers per band (docs/design.md §4): the pixel noise (robust MAD sigma of the
background-subtracted image, nMgy per native 0.396" pixel) and the density of 5-sigma
sources (sep detections with flux S/N >= 5, per square degree).

    python -m deepcee.bench.calibration            # 6 paper-size mock fields vs the bundled real frames
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from deepcee.bench import positive_int

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


def mock_stats(
    seed: int = 2019, pixels: int = 2000, scale: float = 0.396, mock_cfg: dict | None = None, pointings: int = 6
) -> dict:
    """Paper-size blank pointings of the one mock sky measured like the real frames: per band the
    mean over ``pointings`` fields and its standard error (one 0.05 deg2 field holds ~500 sources,
    so a single field's density scatters by ~5-10 %). No catalogued cluster: the view's own
    (richness 1, a BCG and a few members) sits 1 deg north of the field."""
    from deepcee.core.config import with_defaults
    from deepcee.images.mock.render import render_view

    cfg = with_defaults("images", {"pixels": pixels, "pixel_scale_arcsec": scale, "mock": mock_cfg or {}})
    f = (0.396 / scale) ** 2
    per = {band: [] for band in "gri"}
    for k in range(int(pointings)):
        ra, dec = 174.05 + 0.5 * k, 3.97 + 0.3 * k  # fields 0.58 deg apart: independent seeing and objects
        view = {
            "view": f"calib_v{k}",
            "cluster_id": "calib",
            "ra": ra,
            "dec": dec + 1.0,
            "z": 0.15,
            "richness": 1.0,
            "bcg_rmag": np.nan,
            "centre_ra": ra,
            "centre_dec": dec,
            "offset_ra_arcsec": 0.0,
            "offset_dec_arcsec": 3600.0,
        }
        img, _, _ = render_view(view, cfg, seed)
        for j, band in enumerate("gri"):
            per[band].append(
                {
                    "pixel_noise": pixel_noise(img[j] * f) / f**0.5 if f != 1 else pixel_noise(img[j]),
                    **source_density(img[j], scale),
                }
            )
    out = {}
    for band, rows in per.items():
        dens = np.array([r["per_deg2"] for r in rows])
        out[band] = {
            "pixel_noise": float(np.mean([r["pixel_noise"] for r in rows])),
            "per_deg2": float(dens.mean()),
            "per_deg2_sem": float(dens.std(ddof=1) / np.sqrt(len(dens))) if len(dens) > 1 else None,
            "n": int(sum(r["n"] for r in rows)),
            "pointings": len(rows),
        }
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2019)
    parser.add_argument("--pointings", type=positive_int, default=6, help="mock fields averaged (default 6)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    mock = mock_stats(args.seed, pointings=args.pointings)
    result = {"real_sdss_run2126": real_frame_stats(), "mock_2000px_0.396": mock}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{'band':4s} {'source':>10s} {'noise nMgy/px':>14s} {'5sig src/deg2':>18s} {'n':>6s}")
    for band in "gri":
        for name, key in (("real", "real_sdss_run2126"), (f"mock x{args.pointings}", "mock_2000px_0.396")):
            s = result[key][band]
            sem = f" +- {s['per_deg2_sem']:.0f}" if s.get("per_deg2_sem") is not None else ""
            print(f"{band:4s} {name:>10s} {s['pixel_noise']:14.4f} {s['per_deg2']:>10.0f}{sem:>8s} {s['n']:6d}")


if __name__ == "__main__":
    main()
