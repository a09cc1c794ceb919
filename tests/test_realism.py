"""The realism benchmark (deepcee.images.realism): per-crop statistics on known arrays, the
grouped split that holds whole real fields out, and the classifier two-sample test's AUC and
bootstrap interval on samples that are alike and unlike."""

from __future__ import annotations

import json

import numpy as np
import pytest

from deepcee.core.config import schema_defaults
from deepcee.images import realism
from deepcee.images.mock.sky import MockSky
from images_helpers import BLANK, RESOURCES

LIMITS = schema_defaults("images")["stretch"]["limits"]
FACTOR = (0.396 / 1.584) ** 2


def _white(shape, sigma, seed=1):
    return np.random.default_rng(seed).normal(0.0, sigma, shape)


def test_white_noise_has_its_sigma_and_no_autocorrelation():
    x = _white((128, 128), 0.1)
    assert realism.mad_sigma(x) == pytest.approx(0.1, rel=0.05)
    assert realism.difference_noise(x) == pytest.approx(0.1, rel=0.05)
    ax, ay = realism.lag1_autocorrelation(x)
    assert abs(ax) < 0.03 and abs(ay) < 0.03


def test_correlated_noise_has_a_positive_autocorrelation():
    from scipy.ndimage import uniform_filter

    x = uniform_filter(_white((128, 128), 0.1), size=2)  # each pixel averages 2 x 2: lag-1 correlation 0.5
    ax, ay = realism.lag1_autocorrelation(x)
    assert ax > 0.35 and ay > 0.35


def test_a_smooth_sky_does_not_change_the_difference_noise():
    yy, xx = np.mgrid[:64, :64]
    x = _white((64, 64), 0.05) + 0.002 * xx + 0.001 * yy
    assert realism.difference_noise(x) == pytest.approx(0.05, rel=0.1)


def test_the_mask_keeps_a_source_out_of_the_autocorrelation():
    x = _white((64, 64), 0.1)
    yy, xx = np.mgrid[:64, :64]
    x = x + 50.0 * np.exp(-((xx - 30) ** 2 + (yy - 33) ** 2) / (2 * 2.0**2))  # a bright, smooth source
    assert realism.lag1_autocorrelation(x)[0] > 0.3  # unmasked: the source dominates
    crop = np.stack([x, x, x])
    mask = realism.source_mask(crop, np.zeros(3), np.full(3, 0.1))
    assert mask[33, 30] and mask.mean() < 0.2
    ax, ay = realism.lag1_autocorrelation(x, mask)
    assert abs(ax) < 0.06 and abs(ay) < 0.06


def test_crop_statistics_of_a_known_crop():
    """Sky levels, noise, no pixel above 30 sigma in pure noise, and a source's colour from its flux ratio."""
    sky, sigma = np.array([0.01, 0.02, 0.03]), np.array([0.05, 0.1, 0.2])
    crop = np.stack([sky[j] + _white((64, 64), sigma[j], seed=j) for j in range(3)])
    s = realism.crop_statistics(crop)
    assert list(s) == list(realism.CROP_STATISTICS)
    for j, b in enumerate("gri"):
        assert s[f"{b}_sky"] == pytest.approx(sky[j], abs=0.1 * sigma[j])
        assert s[f"{b}_noise"] == pytest.approx(sigma[j], rel=0.1)
        assert s[f"{b}_frac30"] == 0.0 and s[f"{b}_frac3"] < 0.01
        assert s[f"{b}_sky_spread"] < 0.3 * sigma[j]  # 8 x 8 block medians: sigma / 8 x 1.25
    yy, xx = np.mgrid[:64, :64]
    blob = np.exp(-((xx - 32) ** 2 + (yy - 32) ** 2) / (2 * 3.0**2))
    red = crop + np.stack([20.0 * blob, 40.0 * blob, 60.0 * blob])  # g/r = 0.5, r/i = 2/3
    s = realism.crop_statistics(red)
    assert s["src_gr"] == pytest.approx(-2.5 * np.log10(0.5), abs=0.05)
    assert s["src_ri"] == pytest.approx(-2.5 * np.log10(2 / 3), abs=0.05)
    assert s["r_frac30"] > 0.005


def test_crop_grid_is_regular_centred_and_never_overlaps():
    img = np.arange(3 * 70 * 100, dtype=np.float32).reshape(3, 70, 100)
    c = realism.crop_grid(img, 32)
    assert c.shape == (2 * 3, 3, 32, 32)
    assert realism.grid_shape(img.shape, 32) == (2, 3)
    # centred: (70 - 64) / 2 = 3 rows and (100 - 96) / 2 = 2 columns left over at the start
    assert c[0, 0, 0, 0] == img[0, 3, 2] and c[-1, 0, -1, -1] == img[0, 3 + 63, 2 + 95]
    values = np.concatenate([k[0].ravel() for k in c])
    assert len(np.unique(values)) == values.size  # no pixel in two crops
    assert realism.crop_grid(img, 32, 1, 2).shape == (2, 3, 32, 32)


def _fields(n_real=3, n_mock=3, seed=0):
    gen = np.random.default_rng(seed)
    real = [
        realism.Field(f"real{k}", "real", gen.normal(0, 0.1, (3, 40, 56)).astype(np.float32), {"galactic_b": 50.0})
        for k in range(n_real)
    ]
    mock = [
        realism.Field(f"mock{k}", "mock", gen.normal(0, 0.1, (3, 48, 48)).astype(np.float32), {"galactic_b": 50.0})
        for k in range(n_mock)
    ]
    return real + mock


def test_the_grouped_split_holds_whole_real_fields_out():
    crops = realism.make_crops(_fields(3, 5), 16, LIMITS, FACTOR)
    kinds = np.array([f.kind for f in crops.fields])
    # a real field: 2 x 3 crops of 16 px; a mock cutout: its paired real field's grid (2 x 3, of 3 x 3 that fit)
    assert np.all(np.bincount(crops.group) == 6)
    assert crops.rgb.shape == (len(crops.y), 16, 16, 3) and crops.rgb.dtype == np.uint8
    folds = realism.grouped_folds(crops.fold, 3)
    assert len(folds) == 3
    tested = []
    for train, test in folds:
        assert not set(crops.group[train]) & set(crops.group[test])
        real_test = {g for g in crops.group[test] if kinds[g] == "real"}
        assert len(real_test) == 1  # leave one real field out
        assert set(crops.y[test]) == {0, 1} and set(crops.y[train]) == {0, 1}
        tested += sorted(real_test)
    assert sorted(tested) == [0, 1, 2]
    assert realism.fold_groups(["real", "real", "mock", "mock", "mock"], 2).tolist() == [0, 1, 0, 1, 0]


@pytest.fixture(scope="module")
def mock_crops():
    """Twelve 96 px cutouts of a catalogue-free mock sky, cut into 32 px crops (108 crops); one sky
    brightness everywhere, so the 'unlike' set below differs only by what the test adds."""
    sky = MockSky(2019, {"sky_brightness_sigma_mag": 0.0})
    gen = np.random.default_rng(3)
    crops, group = [], []
    for k in range(12):
        img, _, _ = sky.cutout(gen.uniform(150, 200), gen.uniform(10, 50), 96, 1.584, noise_key=("test", k))
        c = realism.crop_grid(img, 32)
        crops.append(c)
        group.append(np.full(len(c), k))
    return np.concatenate(crops), np.concatenate(group)


def test_mock_against_mock_scores_near_one_half_and_unlike_sets_near_one(mock_crops):
    nmgy, group = mock_crops
    X = realism.statistics_matrix(nmgy)
    y = (group % 2).astype(int)  # arbitrary labels: the even cutouts against the odd ones
    fold = group // 2  # each fold one cutout of each label
    folds = realism.grouped_folds(fold)
    s = realism.logistic_oof(X, y, folds)
    a = realism.auc(y, s)
    assert 0.3 < a < 0.7
    lo, hi = realism.bootstrap_auc(y, s, group, replicates=300, seed=1)
    assert lo <= a <= hi and lo < 0.5 < hi

    # the odd cutouts made unlike: noise 1.5 x and correlated between neighbours
    unlike = nmgy.copy()
    odd = y == 1
    from scipy.ndimage import uniform_filter

    extra = uniform_filter(np.random.default_rng(5).normal(0, 0.1, unlike[odd].shape), size=(1, 1, 2, 2))
    unlike[odd] = unlike[odd] + extra.astype(np.float32)
    X2 = realism.statistics_matrix(unlike)
    s2 = realism.logistic_oof(X2, y, folds)
    a2 = realism.auc(y, s2)
    assert a2 > 0.95
    lo2, hi2 = realism.bootstrap_auc(y, s2, group, replicates=300, seed=1)
    assert lo2 <= a2 <= hi2 and lo2 > 0.8
    coef = realism.logistic_coefficients(X2, y)
    assert {c["statistic"] for c in coef} == set(realism.CROP_STATISTICS)
    assert abs(coef[0]["coefficient"]) >= abs(coef[-1]["coefficient"])
    uni = realism.univariate_aucs(X2, y)
    assert uni["g_noise"] > 0.9 and uni["g_acf_x"] > 0.9 and uni["g_acf_y"] > 0.9


def test_the_cnn_tells_unlike_crops_apart_in_two_tiny_epochs():
    gen = np.random.default_rng(0)
    rgb = np.concatenate([gen.integers(0, 80, (40, 16, 16, 3)), gen.integers(150, 255, (40, 16, 16, 3))]).astype(
        np.uint8
    )
    y = np.repeat([0, 1], 40)
    group = np.repeat(np.arange(8), 10)
    fold = np.concatenate([np.arange(4), np.arange(4)]).repeat(10)
    s = realism.cnn_oof(
        rgb, y, realism.grouped_folds(fold), epochs=2, batch_size=16, lr=1e-2, threads=1, seed=1, width=4
    )
    assert np.all(np.isfinite(s)) and s.min() >= 0.0 and s.max() <= 1.0
    assert realism.auc(y, s) > 0.9
    lo, hi = realism.bootstrap_auc(y, s, group, replicates=200)
    assert lo <= realism.auc(y, s) <= hi


def test_field_statistics_of_gaussian_stars():
    """Counts per r-magnitude bin and the star FWHM of a field of Gaussian stars of known FWHM."""
    scale, fwhm = 0.396, 1.4  # 3.5 px: well sampled
    gen = np.random.default_rng(2)
    n, side = 40, 400
    img = np.stack([gen.normal(0, 0.02, (side, side)) for _ in range(3)])
    yy, xx = np.mgrid[:side, :side]
    sig = fwhm / scale / 2.3548
    xs, ys = gen.uniform(20, side - 20, n), gen.uniform(20, side - 20, n)
    flux_r = 10 ** ((22.5 - 17.0) / 2.5)  # r = 17
    for x, y in zip(xs, ys):
        psf = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sig**2)) / (2 * np.pi * sig**2)
        for j, f in enumerate((0.5, 1.0, 1.2)):  # g - r = 0.75, r - i = -0.2
            img[j] += f * flux_r * psf
    s = realism.field_statistics(img, scale)
    assert set(s) == set(realism.FIELD_STATISTICS)
    area = (side * scale / 3600.0) ** 2
    assert s["n_r14_18_per_deg2"] == pytest.approx(n / area, rel=0.1)
    assert s["n_r20_21_per_deg2"] == 0.0
    assert s["star_fwhm_arcsec"] == pytest.approx(fwhm, rel=0.2)
    assert s["src_gr_median"] == pytest.approx(0.753, abs=0.1)  # the 3 px aperture: same fraction in each band


def test_realism_summary_end_to_end(tmp_path):
    """Two real fields against two small mock cutouts: the JSON, the figure and the report."""
    second = RESOURCES / "sdss-frames-run4510-camcol4-field30-gri"
    config = {
        "seed": 7,
        "catalogue": {
            "bundled": {
                "redmapper": str(RESOURCES / "redmapper-sdss-dr8-v5.10" / "sdss_redmapper.csv.gz"),
                "abell": [str(RESOURCES / "abell-aco-vii110a" / f"abell_{h}.tsv") for h in ("north", "south")],
            },
            "match_radius_arcmin": 3.0,
        },
        "images": {"pixels": 200, "pixel_scale_arcsec": 1.584, "mock": {"mag_limit": 21.0}},
    }
    out = tmp_path / "realism.json"
    lines = []
    result = realism.realism_summary(
        config,
        out,
        out_png=tmp_path / "fig.png",
        out_pdf=tmp_path / "fig.pdf",
        folders=[str(BLANK), str(second)],
        crop=64,
        replicates=50,
        log=lines.append,
    )
    saved = json.loads(out.read_text())
    assert saved["n_real_fields"] == 2 and saved["n_mock_cutouts"] == 2 and saved["folds"] == 2
    # a real field: 5 x 7 crops; a 200 px mock cutout: the 3 x 3 that fit
    assert saved["n_crops"] == {"real": 70, "mock": 18}
    a = saved["auc"]["logistic"]
    assert 0.0 <= a["ci"][0] <= a["auc"] <= a["ci"][1] <= 1.0
    assert [r["statistic"] for r in saved["table"]] == [*realism.CROP_STATISTICS, *realism.FIELD_STATISTICS]
    assert result["auc"]["logistic"]["auc"] == saved["auc"]["logistic"]["auc"]
    assert (tmp_path / "fig.png").stat().st_size > 0 and (tmp_path / "fig.pdf").stat().st_size > 0
    assert "AUC logistic" in lines[-1]
