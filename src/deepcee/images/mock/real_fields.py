"""Real SDSS blank frames as a view's background (``images.mock.background: sdss_blank`` or a
view the views plan gave a real-sky background): a random crop of a bundled g, r, i field,
into which ``images/mock/render.py`` injects the view's cluster.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from deepcee.core.errors import DeepCeeError
from deepcee.images.fits import BANDS


def blank_frame_paths(folder: str | Path) -> dict[str, Path]:
    """The one g, r and i frame of a blank-field folder: ``*-<band>-*.fits[.bz2|.gz]`` each.

    Any SDSS field serves (``frame-`` or ``rand_img-`` names); the folder's PROVENANCE.md
    says where the frames come from.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DeepCeeError(f"{folder}: SDSS blank-frame folder not found")
    out = {}
    for b in BANDS:
        found = sorted(p for p in folder.glob(f"*-{b}-*.fits*") if p.suffix in (".fits", ".bz2", ".gz"))
        if len(found) != 1:
            what = "no" if not found else f"{len(found)}"
            raise DeepCeeError(f"{folder}: {what} SDSS frame for band {b} (want one '*-{b}-*.fits[.bz2]')")
        out[b] = found[0]
    return out


@lru_cache(maxsize=1)
def _padded_frames(folder: str, side: int):
    """Each band's frame, reflect-padded once for crops of ``side`` native pixels, with its WCS."""
    from astropy.io import fits
    from astropy.wcs import WCS

    pad = side // 2 + 64  # the crop centre lies inside the frame (plus a few pixels between bands)
    out = {}
    for b, path in blank_frame_paths(folder).items():
        with fits.open(path, memmap=False) as hdul:
            data = np.asarray(hdul[0].data, dtype=np.float32)
            out[b] = (np.pad(data, pad, mode="reflect"), WCS(hdul[0].header))
    return out, pad


def blank_background(gen, pixels, os, folder):
    """A g, r, i crop (binned os x os, flux-summed) of a real SDSS blank field.

    The three frames are different CCD frames of one field; each band's crop is centred on
    the same sky position through its own WCS. Crops larger than the 2048 x 1489 frame are
    reflect-padded (the mirrored sky keeps the noise statistics, not the sources' uniqueness).
    The crop's centre, a quarter turn and a mirror are drawn from ``gen`` (the view's stream).
    """
    side = pixels * os
    frames, pad = _padded_frames(str(folder), side)
    data_r, w_r = frames["r"]
    ny, nx = data_r.shape[0] - 2 * pad, data_r.shape[1] - 2 * pad
    cx, cy = gen.uniform(0.3 * nx, 0.7 * nx), gen.uniform(0.3 * ny, 0.7 * ny)
    sky = w_r.pixel_to_world(cx, cy)
    out = np.zeros((3, pixels, pixels), dtype=np.float32)
    for j, b in enumerate(BANDS):
        padded, w = frames[b]
        bx, by = w.world_to_pixel(sky)
        x0 = min(max(int(round(float(bx))) - side // 2 + pad, 0), padded.shape[1] - side)
        y0 = min(max(int(round(float(by))) - side // 2 + pad, 0), padded.shape[0] - side)
        crop = padded[y0 : y0 + side, x0 : x0 + side]
        # (SDSS frames have RA along y; a blank background's orientation does not matter.)
        out[j] = crop.reshape(pixels, os, pixels, os).sum(axis=(1, 3))
    # a random quarter turn and mirror: one field gives eight orientations of its sources
    out = np.rot90(out, k=int(gen.integers(4)), axes=(1, 2))
    if gen.uniform() < 0.5:
        out = out[:, :, ::-1]
    return np.ascontiguousarray(out)
