"""Training/test images and their boxes, read from the PNGs and ``labels.ecsv``.

Images are decoded with ``torchvision.io`` straight to uint8 CHW tensors (the float
conversion happens on the device), so DataLoader workers stay cheap and a GPU is
fed at hundreds of images per second. astropy is imported only to read the ECSV
labels, so the benchmark runs on a box with just torch + torchvision.

Boxes are in training-image pixels, 0-based, x right, y down (PNG row 0 is the top
of the image), ``x0 < x1 <= width``, ``y0 < y1 <= height`` — the image stage's
contract (docs/contracts.md, stage 2).
"""

from __future__ import annotations

import math
import os
import struct
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from deepcee.core.contracts import read_table, rows_table, write_table
from deepcee.core.errors import DeepCeeError
from deepcee.core.files import write_png

BOX_COLUMNS = ("x0", "y0", "x1", "y1")
_TOL = 1e-3


@dataclass
class Sample:
    """One image: its PNG, FITS (may be empty), view name and ground-truth boxes."""

    png: str
    view: str = ""
    fits: str = ""
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)  # label-table rows (for messages)


def png_size(path: str | os.PathLike) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk, without decoding it."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(24)
    except OSError as err:
        raise DeepCeeError(f"{path}: cannot read the image ({err.strerror})") from None
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise DeepCeeError(f"{path}: not a PNG file")
    width, height = struct.unpack(">II", head[16:24])
    return int(width), int(height)


def read_png(path: str | os.PathLike) -> torch.Tensor:
    """A PNG as a uint8 tensor (3, H, W), RGB (Pillow decode; no float conversion here)."""
    import numpy as np
    from PIL import Image

    try:
        with Image.open(path) as im:
            array = np.asarray(im.convert("RGB"))
    except (OSError, ValueError) as err:
        raise DeepCeeError(f"{path}: cannot decode PNG ({str(err).splitlines()[0][:80]})") from None
    return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()


def read_samples(
    labels_path: str | os.PathLike,
    split: str | None = "train",
    root: str | os.PathLike | None = None,
    need_boxes: bool = True,
) -> list[Sample]:
    """Group ``labels.ecsv`` rows by PNG (one Sample per image) for one split (None: all).

    Paths in the table are relative to ``root`` (default: the working directory, i.e.
    the repository root where Snakemake runs).
    """
    labels_path = Path(labels_path)
    table = read_table("labels", labels_path)
    root = Path(root) if root is not None else Path.cwd()
    samples: dict[str, Sample] = {}
    for i, row in enumerate(table):
        if split is not None and str(row["split"]) != split:
            continue
        png = str(row["png"])
        path = png if os.path.isabs(png) else str(root / png)
        sample = samples.get(path)
        if sample is None:
            fits = str(row["fits"]) if "fits" in table.colnames else ""
            if fits and not os.path.isabs(fits):
                fits = str(root / fits)
            sample = samples[path] = Sample(png=path, view=str(row["view"]), fits=fits)
        sample.rows.append(i + 1)
        if need_boxes:
            sample.boxes.append(tuple(float(row[c]) for c in BOX_COLUMNS))
    if not samples:
        what = f"no rows with split == '{split}'" if split is not None else "no rows"
        raise DeepCeeError(f"{labels_path}: {what} (empty {'training' if split == 'train' else split or 'image'} set)")
    return list(samples.values())


def read_negatives(negatives_path: str | os.PathLike, root: str | os.PathLike | None = None) -> list[Sample]:
    """The hard negatives (``negatives.ecsv``): training images with no box (torchvision's detection
    models take an image with an empty target as all background)."""
    table = read_table("negatives", Path(negatives_path))
    root = Path(root) if root is not None else Path.cwd()
    out = []
    for i, row in enumerate(table):
        png, fits = str(row["png"]), str(row["fits"])
        out.append(
            Sample(
                png=png if os.path.isabs(png) else str(root / png),
                view=str(row["view"]),
                fits=fits if not fits or os.path.isabs(fits) else str(root / fits),
                rows=[i + 1],
            )
        )
    return out


def labels_output_size(labels_path: str | os.PathLike) -> int | None:
    """The PNG side the image stage wrote (the labels table's meta ``output_size``); None if absent."""
    value = read_table("labels", Path(labels_path)).meta.get("output_size")
    return int(value) if value is not None else None


def check_samples(samples: Sequence[Sample], source: str = "labels", reference_size: int | None = None) -> int:
    """Every PNG exists and is square (sides may differ between PNGs); every box lies inside its own PNG.

    Returns the reference side, the one the model's pixel scale is set by (``build_detector``):
    ``reference_size`` where the caller gives it (the labels' meta ``output_size``), else the
    largest side. Errors name the labels file row and the PNG.
    """
    if not samples:
        raise DeepCeeError(f"{source}: empty training set (no images)")
    sides = set()
    for sample in samples:
        width, height = png_size(sample.png)
        if width != height:
            raise DeepCeeError(f"{source}: {sample.png} is {width}x{height}; the detector expects square images")
        sides.add(width)
        for row, box in zip(sample.rows or [0] * len(sample.boxes), sample.boxes):
            x0, y0, x1, y1 = box
            where = f"{source} row {row} ({sample.png})" if row else sample.png
            if not all(math.isfinite(v) for v in box):
                raise DeepCeeError(f"{where}: box {box} is not finite")
            if not (x0 < x1 and y0 < y1):
                raise DeepCeeError(f"{where}: empty box x0={x0:g} y0={y0:g} x1={x1:g} y1={y1:g}")
            if x0 < -_TOL or y0 < -_TOL or x1 > width + _TOL or y1 > height + _TOL:
                raise DeepCeeError(
                    f"{where}: box x0={x0:g} y0={y0:g} x1={x1:g} y1={y1:g} lies outside the {width}x{height} image"
                )
    if reference_size is not None:
        if int(reference_size) < 1:
            raise DeepCeeError(f"{source}: output_size {reference_size} is not a positive image side")
        return int(reference_size)
    return max(sides)


class DetectionDataset(torch.utils.data.Dataset):
    """(uint8 image (3, H, W), target dict) pairs in torchvision's detection format."""

    def __init__(self, samples: Sequence[Sample]):
        self.samples = list(samples)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        sample = self.samples[index]
        image = read_png(sample.png)
        boxes = torch.tensor(sample.boxes, dtype=torch.float32).reshape(-1, 4)
        target = {"boxes": boxes, "labels": torch.ones(len(boxes), dtype=torch.int64)}
        return image, target


def collate(batch):
    """Lists of images and targets (detection models take lists)."""
    images, targets = zip(*batch)
    return list(images), list(targets)


class StepBatchSampler(torch.utils.data.Sampler):
    """Batches of indices for steps ``start_step+1 .. total_steps``, reproducibly.

    Epoch ``e`` visits the images in a permutation drawn from
    ``deepcee.core.seeds.rng(seed, 'train', 'epoch', e)``; step ``s`` (1-based) takes
    positions ``(s-1)*batch .. s*batch-1`` of the concatenated epochs. So a run that
    resumes at step k sees exactly the batches an uninterrupted run would.

    ``groups`` (one key per sample, e.g. the image side): every batch holds one group only
    (torchvision pads a batch of mixed sizes to the largest, a border the network never sees
    when it predicts). With one group (or none given) the batches are the ones above. With
    several, epoch ``e``'s permutation is split by group (groups in sorted key order, each
    keeping the permutation's order), each group's list is cut into batches, the last one
    topped up with the first indices of that group's list, and the epoch's batches are put in
    the order of ``rng(seed, 'train', 'epoch', e, 'batches')``; step ``s`` takes the s-th
    batch of the concatenated epochs (a fixed number per epoch), so resuming is exact here too.
    """

    def __init__(
        self,
        n: int,
        batch_size: int,
        seed: int,
        total_steps: int,
        start_step: int = 0,
        groups: Sequence | None = None,
    ):
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.total_steps, self.start_step = total_steps, start_step
        self._perms: dict[int, list[int]] = {}
        self.groups = None
        if groups is not None:
            groups = list(groups)
            if len(groups) != n:
                raise ValueError(f"StepBatchSampler: {len(groups)} group keys for {n} samples")
            if len(set(groups)) > 1:
                self.groups = groups
        self._keys = sorted(set(self.groups)) if self.groups is not None else []
        counts = Counter(self.groups or [])
        self.batches_per_epoch = sum(-(-c // batch_size) for c in counts.values())
        self._epoch_batches: dict[int, list[list[int]]] = {}

    def _perm(self, epoch: int) -> list[int]:
        if epoch not in self._perms:
            from deepcee.core.seeds import rng

            self._perms = {epoch: rng(self.seed, "train", "epoch", epoch).permutation(self.n).tolist()}
        return self._perms[epoch]

    def _batches(self, epoch: int) -> list[list[int]]:
        """Epoch ``epoch``'s one-group batches, in their seeded order (several groups only)."""
        if epoch not in self._epoch_batches:
            from deepcee.core.seeds import rng

            perm = self._perm(epoch)
            batches = []
            for key in self._keys:
                members = [i for i in perm if self.groups[i] == key]
                for start in range(0, len(members), self.batch_size):
                    batch = members[start : start + self.batch_size]
                    k = 0
                    while len(batch) < self.batch_size:  # top up from the group's own list
                        batch.append(members[k % len(members)])
                        k += 1
                    batches.append(batch)
            order = rng(self.seed, "train", "epoch", epoch, "batches").permutation(len(batches)).tolist()
            self._epoch_batches = {epoch: [batches[j] for j in order]}
        return self._epoch_batches[epoch]

    def batch_for_step(self, step: int) -> list[int]:
        if self.groups is not None:
            epoch, index = divmod(step - 1, self.batches_per_epoch)
            return list(self._batches(epoch)[index])
        start = (step - 1) * self.batch_size
        return [self._perm(p // self.n)[p % self.n] for p in range(start, start + self.batch_size)]

    def __iter__(self):
        for step in range(self.start_step + 1, self.total_steps + 1):
            yield self.batch_for_step(step)

    def __len__(self) -> int:
        return max(0, self.total_steps - self.start_step)


# ---------------------------------------------------------------------------
# A crude synthetic task for tests and the benchmark (real files on disk, no
# astropy needed unless FITS/labels are asked for): a red overdensity of small
# blobs on noise, with blue field blobs as confusers.


def synthetic_image(size: int, gen) -> tuple[torch.Tensor, tuple[float, float, float, float]]:
    """uint8 (3, size, size) image and the cluster's box (x0, y0, x1, y1)."""
    import numpy as np

    img = gen.normal(35.0, 12.0, size=(3, size, size))
    half = gen.uniform(0.08, 0.14) * size
    cx, cy = gen.uniform(half + 2, size - half - 2, size=2)

    def blob(x, y, rgb, sigma):  # a Gaussian drawn on its own +-4 sigma patch
        r = int(4 * sigma) + 1
        xa, xb = max(0, int(x) - r), min(size, int(x) + r + 1)
        ya, yb = max(0, int(y) - r), min(size, int(y) + r + 1)
        if xa >= xb or ya >= yb:
            return
        yy, xx = np.mgrid[ya:yb, xa:xb]
        patch = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
        for c in range(3):
            img[c, ya:yb, xa:xb] += rgb[c] * patch

    for _ in range(int(size * size / 2500)):  # blue field galaxies
        blob(*gen.uniform(0, size, 2), (40, 60, 140), gen.uniform(0.8, 2.0) * size / 256)
    blob(cx, cy, (200, 90, 30), 2.5 * size / 256)  # "BCG"
    for _ in range(15):  # red members
        r = half * 0.8 * np.sqrt(gen.uniform())
        t = gen.uniform(0, 2 * np.pi)
        blob(cx + r * np.cos(t), cy + r * np.sin(t), (170, 80, 25), gen.uniform(1.0, 1.8) * size / 256)
    img = np.clip(img, 0, 255).astype(np.uint8)
    return torch.from_numpy(img), (cx - half, cy - half, cx + half, cy + half)


def write_synthetic_pngs(directory: str | os.PathLike, n: int, size: int, seed: int = 0) -> list[Sample]:
    """Write ``n`` synthetic PNGs into ``directory``; return their Samples."""
    from deepcee.core.seeds import rng

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    samples = []
    for i in range(n):
        img, box = synthetic_image(size, rng(seed, "synthetic", i))
        path = directory / f"syn{i:04d}_v0.png"
        write_png(path, img.permute(1, 2, 0).numpy())
        samples.append(Sample(png=str(path), view=path.stem, boxes=[box], rows=[i + 1]))
    return samples


def write_synthetic_set(
    directory: str | os.PathLike,
    n: int,
    size: int,
    seed: int = 0,
    n_test: int = 0,
    fits_binning: int = 2,
    pixel_scale_arcsec: float = 0.396,
) -> Path:
    """A labels.ecsv + PNGs (+ MEF FITS with a TAN WCS per view) in the image stage's layout.

    FITS images are ``fits_binning`` times the PNG side (the PNG is a resampled view),
    FITS y up, PNG row 0 at the top. Returns the labels path.
    """
    import numpy as np
    from astropy.io import fits
    from astropy.wcs import WCS

    directory = Path(directory)
    samples = write_synthetic_pngs(directory / "png", n + n_test, size, seed)
    (directory / "fits").mkdir(parents=True, exist_ok=True)
    rows = []
    nfits = size * fits_binning
    for i, s in enumerate(samples):
        ra0, dec0 = 150.0 + 0.37 * i, 20.0 + 0.11 * i
        w = WCS(naxis=2)
        w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
        w.wcs.crval = [ra0, dec0]
        w.wcs.crpix = [(nfits + 1) / 2, (nfits + 1) / 2]
        scale = pixel_scale_arcsec / 3600.0
        w.wcs.cdelt = [-scale, scale]
        header = w.to_header()
        header["BUNIT"] = "nanomaggy"
        hdus = [fits.PrimaryHDU()] + [
            fits.ImageHDU(np.zeros((nfits, nfits), np.float32), header=header, name=b) for b in ("G", "R", "I")
        ]
        fits_path = directory / "fits" / f"{s.view}.fits"
        fits.HDUList(hdus).writeto(fits_path, overwrite=True)
        x0, y0, x1, y1 = s.boxes[0]
        # the labels contract's columns; the catalogue values of a synthetic view are placeholders
        rows.append(
            (s.view, s.png, str(fits_path), f"syn{i:04d}", ra0, dec0, 0.1, 20.0, float("nan"), 0.0, 0.0)
            + ((x0 + x1) / 2, (y0 + y1) / 2, x0, y0, x1, y1, "train" if i < n else "test", False)
        )
    labels = directory / "labels.ecsv"
    write_table("labels", rows_table("labels", rows), labels)
    return labels
