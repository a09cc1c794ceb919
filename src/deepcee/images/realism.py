"""How real does the mock look? A classifier two-sample test of mock crops against real SDSS crops.

Both samples are cut at the project's pixel scale (``images.pixel_scale_arcsec``, 1.584") into
square crops (64 px by default) on a regular grid of non-overlapping crops:

  * **real**: every SDSS field given (by default the training and test fields of the config,
    the 11 bundled ones), each aligned in g, r, i and binned (``real_fields.align_and_bin``, or
    the workflow's prepared FITS); the grid is centred on the field's footprint (about 369 x 511
    px: 5 x 7 crops of 64 px);
  * **mock**: as many north-up cutouts of the one mock sky (``images.pixels`` = 500 px) as
    there are real fields, at seeded random points of RA 120-250, Dec 0-60 with |b| > 30 deg
    (``positions="random"``) or a few arcmin from random redMaPPer clusters
    (``positions="clusters"``), each cut into the same grid as its paired real field, so both
    classes hold the same number of crops.

Each crop exists as nMgy per pixel (sky-subtracted, g, r, i) and as the stretched 8-bit RGB the
detector sees (``stretch.to_rgb`` with ``images.stretch.limits``).

**Per-crop statistics** (``CROP_STATISTICS``; per band ``b`` in g, r, i, nMgy per 1.584" pixel):

  ``b_sky``         median of the crop (the sky level left after sky subtraction);
  ``b_sky_spread``  standard deviation of the medians of the 8 x 8 px blocks (sky structure:
                    gradients, scattered light, faint wings);
  ``b_noise``       1.4826 x MAD of the horizontal neighbour differences / sqrt 2 (the pixel noise,
                    robust to sources and to smooth sky);
  ``b_acf_x``,      lag-1 autocorrelation of the pixels outside the source mask (pixels more than
  ``b_acf_y``       3 ``noise`` above ``sky`` in any band, grown by 2 px) along x and along y: 0 for
                    white noise, > 0 for noise correlated by resampling or binning;
  ``b_frac3``,      fraction of pixels more than 3, 10 and 30 ``noise`` above ``sky`` (source
  ``b_frac10``,     coverage at three depths);
  ``b_frac30``
and ``src_gr``, ``src_ri``: the colour -2.5 log10(F_g / F_r) (and r / i) of the sky-subtracted
flux summed over the crop's source pixels (r more than 3 sigma above the sky; the 10 brightest r
pixels where fewer), the ratio clipped to [0.01, 100].

**Per-field statistics** (``FIELD_STATISTICS``; of each whole field or cutout, not per crop;
``sep`` on the background-subtracted images): source counts per deg2 in r-magnitude bins (r
detections at 1.5 sigma over 5 px, kept at aperture S/N >= 5, 3 px radius aperture), the median
g-r and r-i colour of 17 < r < 21 sources (same aperture in every band), and a star-profile FWHM
(2 x the half-light radius, arcsec, of compact, bright, unsaturated sources: 15 < r < 19.5, S/N >
30, no sep flags, the most compact third).

**The test.** Labels: 1 = mock, 0 = real. Folds leave one real field out: real field k and mock
cutout k share fold group k (``fold_groups``), and ``GroupKFold`` with k = the number of real
fields gives each fold exactly one real field and one mock cutout to test on. Two classifiers
give out-of-fold scores, pooled into one ROC AUC: (a) a logistic regression on the standardised
per-crop statistics; (b) optionally a small CNN (torch) on the stretched RGB crops. The interval
is a percentile bootstrap that resamples whole groups (real fields and mock cutouts, each class
with replacement). AUC 0.5: the classifier cannot tell mock from real; the project's goal is
AUC <= 0.65. ``auc_high_b`` re-scores the same out-of-fold scores with the real fields at
|b| <= 30 deg left out (the mock is a high-latitude sky; a Galactic-plane field is not a fair
comparison). The logistic regression's standardised coefficients (fitted once on all crops;
positive: larger in the mock) and each statistic's own AUC say what gives the mock away.

``realism_summary`` is the cheap version (statistics and logistic regression, well under 30 s of
CPU) that the workflow runs; ``python -m deepcee.bench.realism`` adds the CNN.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepcee.core.errors import DeepCeeError
from deepcee.core.sdss import SDSS_PIXEL_SCALE_ARCSEC

BANDS = ("g", "r", "i")
PER_BAND = ("sky", "sky_spread", "noise", "acf_x", "acf_y", "frac3", "frac10", "frac30")
#: The per-crop statistics, in column order (see the module docstring).
CROP_STATISTICS = tuple(f"{b}_{s}" for b in BANDS for s in PER_BAND) + ("src_gr", "src_ri")
#: r-magnitude bins of the per-field source counts.
MAG_BINS = ((14.0, 18.0), (18.0, 20.0), (20.0, 21.0), (21.0, 22.0))
FIELD_STATISTICS = (
    *(f"n_r{lo:g}_{hi:g}_per_deg2" for lo, hi in MAG_BINS),
    "src_gr_median",
    "src_ri_median",
    "star_fwhm_arcsec",
    "n_stars_fwhm",
)
MAD_TO_SIGMA = 1.4826
BLOCK = 8
MASK_SIGMA = 3.0
MASK_GROW = 2
COLOUR_MIN_PIXELS = 10
GOAL_AUC = 0.65
#: |b| (deg) above which a real field counts as high-latitude, like the mock's sky (``auc_high_b``).
HIGH_B = 30.0


# ----------------------------------------------------------------------------- statistics


def mad_sigma(x: np.ndarray) -> float:
    """Robust sigma: 1.4826 x the median absolute deviation (finite values)."""
    x = np.asarray(x, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan")
    return float(MAD_TO_SIGMA * np.median(np.abs(x - np.median(x))))


def difference_noise(img: np.ndarray) -> float:
    """Pixel noise from neighbour differences along x: MAD sigma of x[i+1] - x[i], / sqrt 2.

    Smooth sky and gradients cancel in the difference; for white noise it is the noise sigma."""
    return mad_sigma(np.diff(np.asarray(img, dtype=np.float64), axis=-1)) / np.sqrt(2.0)


def lag1_autocorrelation(img: np.ndarray, mask: np.ndarray | None = None) -> tuple[float, float]:
    """Lag-1 autocorrelation along x and along y of the pixels outside ``mask`` (True = source).

    Pairs count where both pixels are unmasked; mean removed over the unmasked pixels; each
    lag's covariance divided by the geometric mean of its two members' variances."""
    x = np.asarray(img, dtype=np.float64)
    ok = np.isfinite(x) if mask is None else (~np.asarray(mask, dtype=bool)) & np.isfinite(x)
    if ok.sum() < 3:
        return float("nan"), float("nan")
    d = np.where(ok, x - x[ok].mean(), 0.0)
    out = []
    for a, b, oa, ob in (
        (d[:, :-1], d[:, 1:], ok[:, :-1], ok[:, 1:]),
        (d[:-1, :], d[1:, :], ok[:-1, :], ok[1:, :]),
    ):
        both = oa & ob
        if both.sum() < 2:
            out.append(float("nan"))
            continue
        num = np.sum(a[both] * b[both])
        den = np.sqrt(np.sum(a[both] ** 2) * np.sum(b[both] ** 2))
        out.append(float(num / den) if den > 0 else float("nan"))
    return out[0], out[1]


def source_mask(crop: np.ndarray, sky: np.ndarray, noise: np.ndarray, nsigma=MASK_SIGMA, grow=MASK_GROW):
    """Pixels more than ``nsigma`` noise above the sky in any band, grown by ``grow`` px."""
    from scipy.ndimage import binary_dilation

    c = np.asarray(crop, dtype=np.float64)
    above = np.zeros(c.shape[-2:], dtype=bool)
    for j in range(c.shape[0]):
        if noise[j] > 0:
            above |= (c[j] - sky[j]) > nsigma * noise[j]
    if grow > 0 and above.any():
        above = binary_dilation(above, structure=np.ones((3, 3), bool), iterations=int(grow))
    return above


def _colour(fa: float, fb: float) -> float:
    if not fb > 0:
        return float("nan")
    return float(-2.5 * np.log10(np.clip(fa / fb, 0.01, 100.0)))


def crop_statistics(crop: np.ndarray) -> dict[str, float]:
    """The ``CROP_STATISTICS`` of one (3, n, n) g, r, i crop in nMgy per pixel."""
    c = np.asarray(crop, dtype=np.float64)
    if c.ndim != 3 or c.shape[0] != 3:
        raise DeepCeeError(f"realism: a crop is (3, n, n) g, r, i (got {c.shape})")
    n_y, n_x = c.shape[1] // BLOCK * BLOCK, c.shape[2] // BLOCK * BLOCK
    sky = np.array([np.median(c[j]) for j in range(3)])
    noise = np.array([difference_noise(c[j]) for j in range(3)])
    mask = source_mask(c, sky, noise)
    out = {}
    for j, b in enumerate(BANDS):
        x = c[j]
        blocks = x[:n_y, :n_x].reshape(n_y // BLOCK, BLOCK, n_x // BLOCK, BLOCK)
        block_medians = np.median(blocks.transpose(0, 2, 1, 3).reshape(n_y // BLOCK, n_x // BLOCK, -1), axis=-1)
        ax, ay = lag1_autocorrelation(x, mask)
        z = (x - sky[j]) / noise[j] if noise[j] > 0 else np.zeros_like(x)
        out[f"{b}_sky"] = float(sky[j])
        out[f"{b}_sky_spread"] = float(np.std(block_medians))
        out[f"{b}_noise"] = float(noise[j])
        out[f"{b}_acf_x"] = ax
        out[f"{b}_acf_y"] = ay
        for k in (3, 10, 30):
            out[f"{b}_frac{k}"] = float(np.mean(z > k))
    r = c[1] - sky[1]
    src = r > MASK_SIGMA * noise[1] if noise[1] > 0 else np.zeros(r.shape, bool)
    if src.sum() < COLOUR_MIN_PIXELS:
        src = np.zeros(r.size, bool)
        src[np.argsort(r, axis=None)[-COLOUR_MIN_PIXELS:]] = True
        src = src.reshape(r.shape)
    flux = [float(np.sum(c[j][src] - sky[j])) for j in range(3)]
    out["src_gr"] = _colour(flux[0], flux[1])
    out["src_ri"] = _colour(flux[1], flux[2])
    return out


def statistics_matrix(crops: np.ndarray) -> np.ndarray:
    """(n, len(CROP_STATISTICS)) float64: ``crop_statistics`` of each (3, c, c) crop."""
    rows = [crop_statistics(c) for c in crops]
    return np.array([[r[k] for k in CROP_STATISTICS] for r in rows], dtype=np.float64).reshape(
        len(rows), len(CROP_STATISTICS)
    )


def field_statistics(image: np.ndarray, pixel_scale_arcsec: float) -> dict[str, float]:
    """The ``FIELD_STATISTICS`` of one whole (3, ny, nx) g, r, i field or cutout (nMgy per pixel)."""
    import sep

    scale = float(pixel_scale_arcsec)
    subs, rms = [], []
    for j in range(3):
        d = np.ascontiguousarray(np.asarray(image[j], dtype=np.float64))
        bkg = sep.Background(d, bw=64, bh=64)
        subs.append(d - bkg.back())
        rms.append(float(bkg.globalrms))
    r = subs[1]
    area_deg2 = r.size * (scale / 3600.0) ** 2
    out = dict.fromkeys(FIELD_STATISTICS, float("nan"))
    try:
        objs = sep.extract(r, 1.5, err=rms[1], minarea=5)
    except Exception as err:  # sep raises plain Exceptions when a field is too crowded
        raise DeepCeeError(f"realism: sep could not extract the field's sources ({err})") from None
    if len(objs) == 0:
        out.update({k: 0.0 for k in FIELD_STATISTICS if k.startswith("n_")})
        return out
    x, y = objs["x"], objs["y"]
    radius = 3.0
    fluxes = []
    for j in range(3):
        f, fe, _ = sep.sum_circle(subs[j], x, y, radius, err=rms[j], gain=None)
        fluxes.append((f, fe))
    fr, fre = fluxes[1]
    snr = fr / np.maximum(fre, 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        mag_r = np.where(fr > 0, 22.5 - 2.5 * np.log10(np.maximum(fr, 1e-30)), np.nan)
    good = snr >= 5.0
    for (lo, hi), key in zip(MAG_BINS, FIELD_STATISTICS):
        out[key] = float(np.sum(good & (mag_r >= lo) & (mag_r < hi)) / area_deg2)
    col = good & (mag_r > 17) & (mag_r < 21) & (fluxes[0][0] > 0) & (fluxes[2][0] > 0)
    if col.sum() >= 5:
        out["src_gr_median"] = float(np.median(-2.5 * np.log10(fluxes[0][0][col] / fr[col])))
        out["src_ri_median"] = float(np.median(-2.5 * np.log10(fr[col] / fluxes[2][0][col])))
    bright = (snr > 30) & (mag_r > 15.0) & (mag_r < 19.5) & (objs["flag"] == 0)
    if bright.sum() >= 3:
        r50, flag = sep.flux_radius(r, x[bright], y[bright], 6.0 * np.ones(int(bright.sum())), 0.5, subpix=5)
        r50 = r50[(flag == 0) & np.isfinite(r50) & (r50 > 0)]
        if r50.size >= 3:
            compact = np.sort(r50)[: max(3, r50.size // 3)]
            out["star_fwhm_arcsec"] = float(2.0 * np.median(compact) * scale)
            out["n_stars_fwhm"] = float(compact.size)
    return out


# ----------------------------------------------------------------------------- crops


def grid_shape(shape, crop: int) -> tuple[int, int]:
    """Rows and columns of whole ``crop`` squares that fit in an image of ``shape`` (.., ny, nx)."""
    return int(shape[-2]) // int(crop), int(shape[-1]) // int(crop)


def crop_grid(image: np.ndarray, crop: int, rows: int | None = None, cols: int | None = None) -> np.ndarray:
    """A regular grid of non-overlapping ``crop`` squares centred on ``image`` (c, ny, nx):
    (rows x cols, c, crop, crop) in row-major order. ``rows``/``cols`` (at most what fits)
    default to as many as fit."""
    fit_r, fit_c = grid_shape(image.shape, crop)
    rows = fit_r if rows is None else int(rows)
    cols = fit_c if cols is None else int(cols)
    if rows < 1 or cols < 1 or rows > fit_r or cols > fit_c:
        raise DeepCeeError(
            f"realism: a {rows} x {cols} grid of {crop} px crops does not fit in {image.shape[-1]} x "
            f"{image.shape[-2]} px"
        )
    y0 = (image.shape[-2] - rows * crop) // 2
    x0 = (image.shape[-1] - cols * crop) // 2
    out = [
        image[:, y0 + i * crop : y0 + (i + 1) * crop, x0 + k * crop : x0 + (k + 1) * crop]
        for i in range(rows)
        for k in range(cols)
    ]
    return np.ascontiguousarray(np.stack(out), dtype=np.float32)


def stretched(crops: np.ndarray, limits: dict, native_factor: float) -> np.ndarray:
    """(n, c, c, 3) uint8: each (3, c, c) g, r, i crop through ``stretch.to_rgb`` at its own size."""
    from deepcee.images.stretch import to_rgb

    side = int(crops.shape[-1])
    out = np.empty((len(crops), side, side, 3), dtype=np.uint8)
    for k, c in enumerate(crops):
        out[k] = to_rgb({b: c[j] for j, b in enumerate(BANDS)}, limits, side, native_factor)
    return out


@dataclass
class Field:
    """One real field or mock cutout: name, kind (real | mock), (3, ny, nx) nMgy image, info."""

    name: str
    kind: str
    image: np.ndarray
    info: dict = field(default_factory=dict)


def real_field_list(folders=(), manifests=(), pixel_scale_arcsec: float = 1.584, threads: int = 1) -> list[Field]:
    """The real fields: SDSS field folders (aligned and binned here, ``threads`` at once: bz2
    decompression releases the GIL) and/or the workflow's ``real_fields`` manifests (prepared
    FITS, read as they are), each field once, folders first."""
    from concurrent.futures import ThreadPoolExecutor

    from deepcee.images.mock.real_fields import align_and_bin, field_files, field_name, read_field

    out, seen, todo = [], set(), []
    for folder in folders or ():
        if field_name(folder) not in seen:
            todo.append(folder)
            seen.add(field_name(folder))
    with ThreadPoolExecutor(max_workers=max(1, int(threads))) as pool:
        for folder, (image, wcs, info) in zip(todo, pool.map(lambda f: align_and_bin(f, pixel_scale_arcsec), todo)):
            out.append(Field(field_name(folder), "real", image, _field_info(info, wcs, image)))
    for manifest in manifests or ():
        for name, path in field_files(manifest).items():
            if name in seen:
                continue
            f = read_field(str(path))
            out.append(Field(name, "real", f.image, _field_info({"field": name}, f.wcs, f.image)))
            seen.add(name)
    if not out:
        raise DeepCeeError("realism: no real SDSS field given")
    return out


def _field_info(info: dict, wcs, image) -> dict:
    ny, nx = image.shape[-2:]
    c = wcs.pixel_to_world((nx - 1) / 2.0, (ny - 1) / 2.0)
    return {
        "ra": float(c.ra.deg),
        "dec": float(c.dec.deg),
        "galactic_b": float(c.galactic.b.deg),
        "shape": [int(ny), int(nx)],
    }


def mock_positions(n: int, seed: int, positions: str = "random", clusters=None, min_abs_b: float = 30.0):
    """``n`` seeded (ra, dec) pointings of the mock: ``random`` points of RA 120-250, Dec 0-60 at
    |b| > ``min_abs_b``, or ``clusters``: 3-6 arcmin from random redMaPPer clusters (a table
    with ra, dec)."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    from deepcee.core.seeds import rng

    gen = rng(seed, "realism-mock", positions)
    out = []
    if positions == "clusters":
        if clusters is None or len(clusters) == 0:
            raise DeepCeeError("realism: positions='clusters' needs the redMaPPer catalogue")
        pick = gen.choice(len(clusters), size=n, replace=len(clusters) < n)
        for k in pick:
            ra0, dec0 = float(clusters["ra"][k]), float(clusters["dec"][k])
            r, phi = gen.uniform(180.0, 360.0), gen.uniform(0, 2 * np.pi)
            out.append((ra0 + r * np.sin(phi) / 3600.0 / np.cos(np.radians(dec0)), dec0 + r * np.cos(phi) / 3600.0))
        return out
    if positions != "random":
        raise DeepCeeError(f"realism: mock positions '{positions}' (random | clusters)")
    while len(out) < n:
        ra = gen.uniform(120.0, 250.0)
        dec = np.degrees(np.arcsin(gen.uniform(0.0, np.sin(np.radians(60.0)))))  # uniform on the sphere
        b = SkyCoord(ra * u.deg, dec * u.deg).galactic.b.deg
        if abs(b) > min_abs_b:
            out.append((float(ra), float(dec)))
    return out


def mock_cutouts(sky, pointings, pixels: int, pixel_scale_arcsec: float, library=None) -> list[Field]:
    """North-up cutouts of the one mock sky at each (ra, dec): ``pixels`` square at the scale
    (``library``: the real entries its bright objects are drawn from, ``images.mock.sky_objects``)."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    out = []
    for k, (ra, dec) in enumerate(pointings):
        img, _, info = sky.cutout(
            ra, dec, int(pixels), float(pixel_scale_arcsec), noise_key=("realism", k), library=library
        )
        b = float(SkyCoord(ra * u.deg, dec * u.deg).galactic.b.deg)
        info = {
            "ra": float(ra),
            "dec": float(dec),
            "galactic_b": b,
            "shape": list(img.shape[1:]),
            **{
                key: int(info[key])
                for key in ("star", "field", "foreground", "group", "cluster", "library")
                if key in info
            },
        }
        out.append(Field(f"mock_{k:02d}", "mock", img, info))
    return out


@dataclass
class CropSet:
    """Every crop of both samples: ``nmgy`` (n, 3, c, c), ``rgb`` (n, c, c, 3) uint8, ``y`` (1 =
    mock), ``group`` (the field or cutout each crop comes from, an index into ``fields``) and
    ``fold`` (the fold group: real field k and mock cutout k share k)."""

    nmgy: np.ndarray
    rgb: np.ndarray
    y: np.ndarray
    group: np.ndarray
    fold: np.ndarray
    fields: list


def fold_groups(kinds, n_real: int) -> np.ndarray:
    """The fold group of each field: the k-th real field and the k-th mock cutout get k (mock
    cutouts beyond the number of real fields cycle through 0..n_real-1)."""
    seen = {"real": 0, "mock": 0}
    out = []
    for kind in kinds:
        out.append(seen[kind] % n_real)
        seen[kind] += 1
    return np.array(out, dtype=int)


def make_crops(fields: list[Field], crop: int, limits: dict, native_factor: float) -> CropSet:
    """Cut every field into its grid: a real field into as many crops as fit, a mock cutout into
    the grid of its paired real field (the k-th of each), clipped to what fits."""
    real = [f for f in fields if f.kind == "real"]
    if not real:
        raise DeepCeeError("realism: no real field")
    grids = [grid_shape(f.image.shape, crop) for f in real]
    kinds = [f.kind for f in fields]
    folds = fold_groups(kinds, len(real))
    nmgy, ys, groups, fold = [], [], [], []
    for g, (f, k) in enumerate(zip(fields, folds)):
        rows, cols = grid_shape(f.image.shape, crop)
        if f.kind == "mock":
            rows, cols = min(rows, grids[k][0]), min(cols, grids[k][1])
        c = crop_grid(f.image, crop, rows, cols)
        f.info["crops"] = len(c)
        f.info["fold"] = int(k)
        nmgy.append(c)
        ys.append(np.full(len(c), 1 if f.kind == "mock" else 0))
        groups.append(np.full(len(c), g))
        fold.append(np.full(len(c), k))
    nmgy = np.concatenate(nmgy)
    return CropSet(
        nmgy,
        stretched(nmgy, limits, native_factor),
        np.concatenate(ys),
        np.concatenate(groups),
        np.concatenate(fold),
        fields,
    )


# ----------------------------------------------------------------------------- the test


def grouped_folds(fold: np.ndarray, n_splits: int | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """``GroupKFold`` over the fold groups (default: one fold per group): (train, test) indices."""
    from sklearn.model_selection import GroupKFold

    fold = np.asarray(fold)
    k = int(n_splits or len(np.unique(fold)))
    if k < 2:
        raise DeepCeeError("realism: the grouped test needs at least 2 real fields")
    idx = np.arange(len(fold))
    return list(GroupKFold(n_splits=k).split(idx, groups=fold))


def _impute(train: np.ndarray, *others: np.ndarray):
    """Non-finite values -> the training column's median (0 where the column has none)."""
    med = np.nanmedian(np.where(np.isfinite(train), train, np.nan), axis=0)
    med = np.where(np.isfinite(med), med, 0.0)
    return [np.where(np.isfinite(a), a, med) for a in (train, *others)]


def _logistic(c: float):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=float(c), max_iter=2000))


def logistic_oof(X: np.ndarray, y: np.ndarray, folds, c: float = 0.1) -> np.ndarray:
    """Out-of-fold probabilities of 'mock' from a logistic regression on the standardised columns."""
    scores = np.full(len(y), np.nan)
    for train, test in folds:
        a, b = _impute(X[train], X[test])
        if len(np.unique(y[train])) < 2:
            raise DeepCeeError("realism: a training fold holds one class only")
        model = _logistic(c).fit(a, y[train])
        scores[test] = model.predict_proba(b)[:, 1]
    return scores


def logistic_coefficients(X: np.ndarray, y: np.ndarray, names=CROP_STATISTICS, c: float = 0.1) -> list[dict]:
    """Standardised coefficients of one fit on all crops, largest |coefficient| first
    (positive: the statistic is larger in the mock)."""
    (a,) = _impute(X)
    model = _logistic(c).fit(a, y)
    coef = model[-1].coef_[0]
    order = np.argsort(-np.abs(coef), kind="stable")
    return [{"statistic": names[k], "coefficient": float(coef[k])} for k in order]


def auc(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.asarray(y), np.asarray(score)))


def _rank_auc(y: np.ndarray, s: np.ndarray) -> float:
    from scipy.stats import rankdata

    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    return float((rankdata(s)[y == 1].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def bootstrap_auc(
    y: np.ndarray, score: np.ndarray, group: np.ndarray, replicates: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile interval of the AUC over bootstrap replicates that draw whole groups with
    replacement, within each class (as many real fields and mock cutouts as there are)."""
    y, score, group = np.asarray(y), np.asarray(score, dtype=np.float64), np.asarray(group)
    members = {g: np.flatnonzero(group == g) for g in np.unique(group)}
    by_class = {c: [g for g in members if y[members[g][0]] == c] for c in (0, 1)}
    if not by_class[0] or not by_class[1]:
        raise DeepCeeError("realism: the bootstrap needs groups of both classes")
    gen = np.random.default_rng(np.random.SeedSequence([int(seed), 2019]))
    values = np.empty(int(replicates))
    for r in range(int(replicates)):
        idx = np.concatenate(
            [members[by_class[c][k]] for c in (0, 1) for k in gen.integers(0, len(by_class[c]), len(by_class[c]))]
        )
        values[r] = _rank_auc(y[idx], score[idx])
    alpha = (1.0 - float(level)) / 2.0
    lo, hi = np.nanquantile(values, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def univariate_aucs(X: np.ndarray, y: np.ndarray, names=CROP_STATISTICS) -> dict[str, float]:
    """Each statistic on its own as a score (AUC > 0.5: larger in the mock)."""
    out = {}
    for k, name in enumerate(names):
        col = X[:, k]
        ok = np.isfinite(col)
        out[name] = _rank_auc(y[ok], col[ok]) if ok.any() else float("nan")
    return out


# ----------------------------------------------------------------------------- the CNN


def _cnn(width: int = 16):
    import torch.nn as nn

    return nn.Sequential(
        nn.Conv2d(3, width, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(2 * width, 2 * width, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(2 * width, 1),
    )


def cnn_oof(
    rgb: np.ndarray,
    y: np.ndarray,
    folds,
    epochs: int = 4,
    batch_size: int = 32,
    lr: float = 2e-3,
    threads: int = 1,
    seed: int = 2019,
    width: int = 16,
) -> np.ndarray:
    """Out-of-fold probabilities of 'mock' from a small CNN (3 conv layers, pooling, linear)
    trained on each fold's stretched RGB crops (seeded; CPU; ``threads`` torch threads)."""
    import torch

    from deepcee.core.seeds import int_seed

    torch.set_num_threads(max(1, int(threads)))
    x_all = torch.from_numpy(np.ascontiguousarray(rgb.transpose(0, 3, 1, 2))).float() / 255.0
    y_all = torch.from_numpy(np.asarray(y, dtype=np.float32))
    scores = np.full(len(y), np.nan)
    for f, (train, test) in enumerate(folds):
        torch.manual_seed(int_seed(seed, "realism-cnn", f) % (2**31))
        gen = torch.Generator().manual_seed(int_seed(seed, "realism-cnn-batches", f) % (2**31))
        xt = x_all[train]
        mean = xt.mean(dim=(0, 2, 3), keepdim=True)
        std = xt.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-3)
        xt, yt = (xt - mean) / std, y_all[train]
        model = _cnn(width)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        model.train()
        for _ in range(int(epochs)):
            order = torch.randperm(len(train), generator=gen)
            for s in range(0, len(order), int(batch_size)):
                b = order[s : s + int(batch_size)]
                opt.zero_grad()
                loss = loss_fn(model(xt[b]).squeeze(1), yt[b])
                loss.backward()
                opt.step()
        model.eval()
        with torch.no_grad():
            scores[test] = torch.sigmoid(model((x_all[test] - mean) / std).squeeze(1)).numpy()
    return scores


# ----------------------------------------------------------------------------- the benchmark


def _summary_table(X: np.ndarray, crops: CropSet, field_rows: list[dict], uni: dict) -> list[dict]:
    """Per statistic: mean and spread over fields (per-crop statistics averaged per field first)
    for mock and real, and (per-crop statistics) the statistic's own AUC."""
    rows = []
    kinds = np.array([f.kind for f in crops.fields])
    per_field = np.array(
        [np.nanmean(X[crops.group == g], axis=0) for g in range(len(crops.fields))], dtype=np.float64
    ).reshape(len(crops.fields), X.shape[1])
    for k, name in enumerate(CROP_STATISTICS):
        row = {"statistic": name, "level": "crop", "auc_alone": uni[name]}
        for kind in ("mock", "real"):
            v = per_field[kinds == kind, k]
            row[f"{kind}_mean"] = float(np.nanmean(v))
            row[f"{kind}_spread"] = float(np.nanstd(v, ddof=1)) if np.isfinite(v).sum() > 1 else float("nan")
            row[f"{kind}_median"] = float(np.nanmedian(v))
        rows.append(row)
    for name in FIELD_STATISTICS:
        row = {"statistic": name, "level": "field", "auc_alone": float("nan")}
        for kind in ("mock", "real"):
            v = np.array([r[name] for r, f in zip(field_rows, crops.fields) if f.kind == kind], dtype=np.float64)
            row[f"{kind}_mean"] = float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
            row[f"{kind}_spread"] = float(np.nanstd(v, ddof=1)) if np.isfinite(v).sum() > 1 else float("nan")
            row[f"{kind}_median"] = float(np.nanmedian(v)) if np.isfinite(v).any() else float("nan")
        rows.append(row)
    return rows


def config_fields(config: dict) -> list[str]:
    """The real fields a config names: the training fields, then the test fields (each once)."""
    from deepcee.core.sdss import field_folders

    out = []
    for f in field_folders(config["images"].get("mock", {}).get("blank_frames")) + field_folders(
        config.get("evaluate", {}).get("real_sky", {}).get("blank_frames")
    ):
        if f not in out:
            out.append(f)
    return out


def run_realism(
    config: dict,
    folders=None,
    manifests=(),
    crop: int = 64,
    cnn: bool = False,
    positions: str = "random",
    replicates: int = 1000,
    level: float = 0.95,
    c: float = 0.1,
    epochs: int = 4,
    threads: int = 1,
    log=print,
    galaxy_library: tuple[str, str] | None = None,
) -> tuple[dict, np.ndarray, CropSet]:
    """The whole benchmark on a workflow config: (result dict, per-crop statistics, crops).

    With ``images.mock.sky_objects: real`` the mock's bright objects are the training role's
    entries of ``galaxy_library`` (its table and stamps files), as a training view draws them."""
    from deepcee.core.config import with_defaults
    from deepcee.images.mock.render import sky_library
    from deepcee.images.mock.sky import sky_from_config

    t0, c0 = time.perf_counter(), time.process_time()
    images = with_defaults("images", config["images"])
    seed = int(config["seed"])
    scale = float(images["pixel_scale_arcsec"])
    pixels = int(images["pixels"])
    limits = images["stretch"]["limits"]
    factor = (SDSS_PIXEL_SCALE_ARCSEC / scale) ** 2
    if folders is None and not manifests:
        folders = config_fields(config)
    real = real_field_list(folders or (), manifests, scale, threads)
    log(f"realism: {len(real)} real fields read ({time.perf_counter() - t0:.1f} s)")
    sky = sky_from_config({**config, "images": images})
    clusters = sky.clusters if positions == "clusters" else None
    library = sky_library({"view": "realism", "split": "train"}, images, galaxy_library)
    mock = mock_cutouts(sky, mock_positions(len(real), seed, positions, clusters), pixels, scale, library)
    log(f"realism: {len(mock)} mock cutouts of {pixels} px rendered ({time.perf_counter() - t0:.1f} s)")
    fields = real + mock
    crops = make_crops(fields, int(crop), limits, factor)
    X = statistics_matrix(crops.nmgy)
    field_rows = [field_statistics(f.image, scale) for f in fields]
    log(f"realism: {len(crops.y)} crops of {crop} px, statistics measured ({time.perf_counter() - t0:.1f} s)")
    folds = grouped_folds(crops.fold, len(real))
    uni = univariate_aucs(X, crops.y)
    result = {
        "seed": seed,
        "crop_px": int(crop),
        "pixel_scale_arcsec": scale,
        "mock_pixels": pixels,
        "mock_positions": positions,
        "sky_objects": "real" if library is not None else "galsim",
        "n_real_fields": len(real),
        "n_mock_cutouts": len(mock),
        "n_crops": {"real": int(np.sum(crops.y == 0)), "mock": int(np.sum(crops.y == 1))},
        "folds": len(folds),
        "labels": "1 = mock, 0 = real; AUC 0.5 = indistinguishable",
        "goal_auc": GOAL_AUC,
        "bootstrap": {"replicates": int(replicates), "level": float(level), "resampled": "whole fields/cutouts"},
    }
    scores = {"logistic": logistic_oof(X, crops.y, folds, c)}
    if cnn:
        t_cnn = time.perf_counter()
        scores["cnn"] = cnn_oof(crops.rgb, crops.y, folds, epochs=epochs, threads=threads, seed=seed)
        result["cnn"] = {"epochs": int(epochs), "threads": int(threads), "wall_s": time.perf_counter() - t_cnn}
    # the same out-of-fold scores, real fields at |b| > HIGH_B only (the mock is a high-latitude sky)
    kinds = np.array([f.kind for f in fields])
    abs_b = np.array([abs(f.info["galactic_b"]) for f in fields])
    high = (kinds[crops.group] == "mock") | (abs_b[crops.group] > HIGH_B)
    result["auc"], result["auc_high_b"] = {}, {}
    for name, s in scores.items():
        for key, keep in (("auc", np.ones(len(s), bool)), ("auc_high_b", high)):
            if len(np.unique(crops.y[keep])) < 2:
                continue
            a = auc(crops.y[keep], s[keep])
            lo, hi = bootstrap_auc(crops.y[keep], s[keep], crops.group[keep], replicates, level, seed)
            result[key][name] = {"auc": a, "ci": [lo, hi], "meets_goal": bool(a <= GOAL_AUC)}
    result["high_b_deg"] = HIGH_B
    result["n_real_fields_high_b"] = int(np.sum((kinds == "real") & (abs_b > HIGH_B)))
    result["logistic_c"] = float(c)
    result["coefficients"] = logistic_coefficients(X, crops.y, CROP_STATISTICS, c)
    result["auc_alone"] = uni
    result["table"] = _summary_table(X, crops, field_rows, uni)
    result["fields"] = [
        {
            "name": f.name,
            "kind": f.kind,
            **f.info,
            **{f"mean_score_{n}": float(np.mean(s[crops.group == g])) for n, s in scores.items()},
            **row,
        }
        for g, (f, row) in enumerate(zip(fields, field_rows))
    ]
    result["wall_s"] = time.perf_counter() - t0
    result["cpu_s"] = time.process_time() - c0
    return result, X, crops


def format_report(result: dict, top: int = 8) -> str:
    """The benchmark as text: the mock vs real table, the AUCs, the top coefficients and each
    field's mean out-of-fold score."""
    lines = [
        f"realism: {result['n_real_fields']} real SDSS fields vs {result['n_mock_cutouts']} mock cutouts, "
        f"{result['n_crops']['real']} + {result['n_crops']['mock']} crops of {result['crop_px']} px at "
        f'{result["pixel_scale_arcsec"]}"/px ({result["folds"]} folds, one real field held out each)',
        "",
        f"{'statistic':22s} {'mock mean':>10s} {'+-':>9s} {'median':>10s} {'real mean':>10s} {'+-':>9s} "
        f"{'median':>10s} {'AUC alone':>9s}",
    ]
    for row in result["table"]:
        a = row["auc_alone"]
        lines.append(
            f"{row['statistic']:22s} {row['mock_mean']:10.4g} {row['mock_spread']:9.3g} {row['mock_median']:10.4g} "
            f"{row['real_mean']:10.4g} {row['real_spread']:9.3g} {row['real_median']:10.4g} "
            f"{'' if not np.isfinite(a) else f'{a:9.3f}':>9s}"
        )
    lines.append(
        "  (over fields/cutouts: mean, spread (std) and median; per-crop statistics averaged per field first;"
        " AUC alone > 0.5: larger in the mock)"
    )
    lines.append("")
    level = int(round(100 * result["bootstrap"]["level"]))
    for key, what in (
        ("auc", "all real fields"),
        ("auc_high_b", f"{result['n_real_fields_high_b']} real fields at |b| > {result['high_b_deg']:g}"),
    ):
        for name, a in result.get(key, {}).items():
            verdict = "meets" if a["meets_goal"] else "misses"
            lines.append(
                f"AUC {name:9s} {a['auc']:.3f}  [{level} % {a['ci'][0]:.3f}, {a['ci'][1]:.3f}]  "
                f"{what} ({verdict} the goal <= {result['goal_auc']})"
            )
    lines.append("")
    lines.append("logistic regression leans on (standardised coefficients; + = larger in the mock):")
    for row in result["coefficients"][:top]:
        lines.append(
            f"  {row['statistic']:20s} {row['coefficient']:+8.3f}   "
            f"(AUC alone {result['auc_alone'][row['statistic']]:.3f})"
        )
    lines.append("")
    names = [k for k in result["fields"][0] if k.startswith("mean_score_")]
    lines.append(f"{'field':42s} {'b':>6s} " + " ".join(f"{n[11:]:>9s}" for n in names) + "   (mean P(mock))")
    for f in result["fields"]:
        lines.append(f"{f['name'][:42]:42s} {f['galactic_b']:+6.1f} " + " ".join(f"{f[n]:9.3f}" for n in names))
    lines.append("")
    lines.append(f"wall {result['wall_s']:.1f} s, CPU {result['cpu_s']:.1f} s")
    return "\n".join(lines)


def realism_figure(result: dict, X: np.ndarray, crops: CropSet, *paths, n_panels: int = 6) -> None:
    """Histograms (mock vs real crops) of the statistics that separate them most on their own,
    the logistic AUC in the title; saved to each of ``paths``."""
    from deepcee.core.figures import new_figure, save_figure

    uni = result["auc_alone"]
    names = sorted(uni, key=lambda n: -abs(uni[n] - 0.5) if np.isfinite(uni[n]) else 0.0)[:n_panels]
    cols = 3
    rows = int(np.ceil(len(names) / cols))
    fig, axes = new_figure(rows, cols, figsize=(7.0, 2.2 * rows + 0.4), squeeze=False)
    for ax, name in zip(axes.ravel(), names):
        col = X[:, CROP_STATISTICS.index(name)]
        ok = np.isfinite(col)
        lo, hi = np.nanquantile(col[ok], [0.02, 0.94]) if ok.any() else (0.0, 1.0)
        if not hi > lo:
            lo, hi = lo - 0.5, hi + 0.5
        bins = np.linspace(lo, hi, 30)
        for label, kind, colour in ((0, "real", "C0"), (1, "mock", "C3")):
            v = np.clip(col[ok & (crops.y == label)], lo, hi)
            ax.hist(v, bins=bins, density=True, histtype="step", color=colour, label=kind, lw=1.2)
        ax.set_xlabel(name)
        ax.set_title(f"AUC alone {uni[name]:.2f}")
        ax.set_yticks([])
    for ax in axes.ravel()[len(names) :]:
        ax.set_visible(False)
    axes.ravel()[0].legend(loc="best")
    a = result["auc"]["logistic"]
    title = f"Mock vs real SDSS crops: logistic AUC {a['auc']:.2f} [{a['ci'][0]:.2f}, {a['ci'][1]:.2f}]"
    if "cnn" in result["auc"]:
        b = result["auc"]["cnn"]
        title += f", CNN AUC {b['auc']:.2f} [{b['ci'][0]:.2f}, {b['ci'][1]:.2f}]"
    fig.suptitle(
        title + f" (goal <= {result['goal_auc']})\n{result['n_real_fields']} real fields, "
        f"{result['n_mock_cutouts']} mock cutouts, {result['crop_px']} px crops; x axis: 2-94 % of crops, "
        "the rest in the edge bins"
    )
    fig.tight_layout()
    save_figure(fig, *paths)


def realism_summary(
    config: dict,
    out_json,
    out_png=None,
    cnn: bool = False,
    out_pdf=None,
    folders=None,
    manifests=(),
    crop: int = 64,
    replicates: int = 1000,
    threads: int = 1,
    log=print,
    galaxy_library: tuple[str, str] | None = None,
) -> dict:
    """The workflow's realism check: statistics and the logistic regression (and the CNN if
    ``cnn``), the JSON to ``out_json`` and the figure to ``out_pdf`` / ``out_png`` where given."""
    from deepcee.core.files import write_json

    result, X, crops = run_realism(
        config,
        folders=folders,
        manifests=manifests,
        crop=crop,
        cnn=cnn,
        replicates=replicates,
        threads=threads,
        log=log,
        galaxy_library=galaxy_library,
    )
    write_json(out_json, result)
    paths = [p for p in (out_pdf, out_png) if p is not None]
    if paths:
        realism_figure(result, X, crops, *[Path(p) for p in paths])
    log(format_report(result))
    return result
