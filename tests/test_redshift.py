"""The redshift stage: photometry, the training-only calibration, flags for unmeasurable boxes, metrics.

The synthetic views here are drawn by the test itself (Gaussian blobs with a colour law the
test chooses), not by the mock survey: the calibration must recover whatever relation its
training clusters carry.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from astropy.table import Table

from deepcee.core.config import check_config, with_defaults
from deepcee.core.errors import DeepCeeError
from deepcee.images.fits import make_wcs, write_view_fits
from deepcee.images.labels import LABEL_COLUMNS
from deepcee.redshift import calibration, photometry, stage
from deepcee.redshift.red_sequence import Region, find_colour
from paper_fakes import write_conformed

PIX, SCALE, SIZE = 160, 1.584, 160  # FITS side, arcsec/px, PNG side (same grid: PNG = FITS flipped in y)
BOX = 40.0  # box side in pixels


def colour_law(z):
    """The test's own red sequence: any smooth law will do."""
    return 0.55 + 3.0 * z, 0.25 + 1.2 * z


def _blob(img, x, y, flux, sigma=1.3):
    yy, xx = np.mgrid[0 : img.shape[0], 0 : img.shape[1]]
    img += flux / (2 * np.pi * sigma**2) * np.exp(-0.5 * ((xx - x) ** 2 + (yy - y) ** 2) / sigma**2)


def synthetic_view(path, z, richness, seed, centre=(80.0, 80.0), cluster=True):
    """A g, r, i view: a field of random colours plus (optionally) a red sequence at ``colour_law(z)``."""
    gen = np.random.default_rng(seed)
    imgs = {b: gen.normal(0.0, 0.003, (PIX, PIX)) for b in "gri"}
    n_field = 50
    sources = [
        (
            gen.uniform(5, PIX - 5),
            gen.uniform(5, PIX - 5),
            gen.uniform(17.0, 20.5),
            gen.uniform(0.2, 1.6),
            gen.uniform(0.0, 0.7),
        )
        for _ in range(n_field)
    ]
    if cluster:
        gr, ri = colour_law(z)
        # members on a sunflower spiral (about 5 px apart): richer clusters show more separate members
        for k in range(int(richness / 3)):
            radius, angle = 3.0 * np.sqrt(k + 0.5), np.radians(137.508 * k)
            sources.append(
                (
                    centre[0] + radius * np.cos(angle),
                    centre[1] + radius * np.sin(angle),
                    gen.uniform(15.5, 17.5),
                    gr + gen.normal(0, 0.02),
                    ri + gen.normal(0, 0.02),
                )
            )
    for x, y, r, gr, ri in sources:
        if not (2 < x < PIX - 2 and 2 < y < PIX - 2):
            continue
        for band, mag in (("g", r + gr), ("r", r), ("i", r - ri)):
            _blob(imgs[band], x, y, 10 ** ((22.5 - mag) / 2.5))
    write_view_fits(path, imgs, make_wcs(150.0, 10.0, PIX, SCALE))
    return path


def _png_box(xf, yf, side=BOX):
    """FITS centre -> PNG box (x right, y down) on the PNG of the same size."""
    y_png = SIZE - 1 - yf
    return xf - side / 2, y_png - side / 2, xf + side / 2, y_png + side / 2


def _label(view, fits, cid, z, lam, split, xf=80.0, yf=80.0):
    x0, y0, x1, y1 = _png_box(xf, yf)
    return {
        "view": view,
        "png": "",
        "fits": str(fits),
        "cluster_id": cid,
        "ra": 150.0,
        "dec": 10.0,
        "z": z,
        "richness": lam,
        "bcg_rmag": np.nan,
        "offset_ra_arcsec": 0.0,
        "offset_dec_arcsec": 0.0,
        "x": xf,
        "y": SIZE - 1 - yf,
        "x0": x0,
        "y0": y0,
        "x1": x1,
        "y1": y1,
        "split": split,
        "flipped": False,
    }


CFG = {
    "richness": {"radius_kpc": 60.0, "luminosity_cut": 0.4},
    "calibration": {"max_clusters": 0, "min_clusters": 6},
    "metrics": {"bootstrap": 50},
}
#: the complete redshift section (schemas/redshift.schema.yaml's defaults), as the workflow passes it
RZ = with_defaults("redshift")


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    """12 training clusters at 0.10-0.20 and 3 test views (two clusters, one empty field)."""
    root = tmp_path_factory.mktemp("rz")
    rows = []
    for k, z in enumerate(np.linspace(0.10, 0.20, 12)):
        lam = 20.0 + 5.0 * k
        f = synthetic_view(root / f"T{k}.fits", z, lam, seed=100 + k)
        rows.append(_label(f"T{k}_v0", f, f"T{k}", float(z), lam, "train"))
    for k, (z, lam) in enumerate([(0.12, 45.0), (0.17, 60.0)]):
        f = synthetic_view(root / f"S{k}.fits", z, lam, seed=200 + k)
        rows.append(_label(f"S{k}_v0", f, f"S{k}", z, lam, "test"))
    f = synthetic_view(root / "E0.fits", 0.15, 0.0, seed=300, cluster=False)
    rows.append(_label("E0_v0", f, "E0", 0.15, 30.0, "test"))
    labels = Table(rows=[[r[c] for c in LABEL_COLUMNS] for r in rows], names=LABEL_COLUMNS)
    labels.meta["output_size"] = SIZE
    path = root / "labels.ecsv"
    write_conformed("labels", labels, path)
    return root, path, labels


# --------------------------------------------------------------------------- photometry
def test_photometry_finds_sources_on_real_sdss_frame(tmp_path, resources):
    """sep on a real SDSS frame (cropped; each band keeps its own WCS) finds sources with colours."""
    from astropy.io import fits
    from astropy.wcs import WCS

    folder = resources / "sdss-frames-run2126-camcol1-gri"
    images, wcss = {}, {}
    for band in "gri":
        with fits.open(folder / f"rand_img-{band}-ra174.034-dec3.910-redshift0.294.fits.bz2") as hdul:
            images[band] = np.asarray(hdul[0].data[300:900, 600:1200], dtype=np.float32)
            wcss[band] = WCS(hdul[0].header).celestial[300:900, 600:1200]
    path = tmp_path / "real.fits"
    write_view_fits(path, images, wcss)
    cat = photometry.measure_view(path, RZ["photometry"])
    s = cat.sources
    assert cat.pixel_scale_arcsec == pytest.approx(0.396, abs=0.01)
    assert len(cat) >= 30
    bright = np.isfinite(s["mag_r"]) & (s["mag_r"] < 21.0)
    assert bright.sum() >= 10
    colours = np.isfinite(s["gr"][bright]) & np.isfinite(s["ri"][bright])
    assert colours.mean() > 0.5
    # ordinary stars and galaxies: g−r and r−i of bright sources within the stellar/galaxy locus
    assert -0.5 < np.nanmedian(s["gr"][bright]) < 2.0
    assert -0.5 < np.nanmedian(s["ri"][bright]) < 1.5


def test_photometry_recovers_injected_colours(tmp_path):
    f = synthetic_view(tmp_path / "v.fits", 0.15, 60.0, seed=1)
    cat = photometry.measure_view(f, RZ["photometry"])
    region = Region(60.0, 60.0, 100.0, 100.0)
    rs = find_colour(cat, region, RZ["red_sequence"])
    gr, ri = colour_law(0.15)
    assert rs["flag"] == "ok"
    assert rs["gr"] == pytest.approx(gr, abs=0.05)
    assert rs["ri"] == pytest.approx(ri, abs=0.05)


def test_unreadable_fits_is_one_line_error(tmp_path):
    bad = tmp_path / "bad.fits"
    bad.write_text("not a fits file")
    with pytest.raises(DeepCeeError, match="bad.fits"):
        photometry.measure_view(bad, RZ["photometry"])


# --------------------------------------------------------------------------- calibration
def test_calibration_uses_training_clusters_only(survey, tmp_path):
    _root, labels_path, labels = survey
    cal = stage.calibrate(labels_path, tmp_path / "cal.json", CFG, seed=1, log=lambda s: None)
    assert cal["n_measured"] == 12
    assert (
        json.loads((tmp_path / "cal.json").read_text())["redshift"]["coefficients"] == cal["redshift"]["coefficients"]
    )
    gr, ri = colour_law(np.array([0.12, 0.15, 0.18]))
    z0, ok = calibration.apply_redshift(cal["redshift"], gr, ri)
    assert ok.all()
    assert np.allclose(z0, [0.12, 0.15, 0.18], atol=0.01)

    # shifting the TRAINING clusters' catalogue z moves the fitted relation with them
    shifted = labels.copy()
    train = np.asarray([s == "train" for s in shifted["split"]])
    shifted["z"][train] = shifted["z"][train] + 0.03
    write_conformed("labels", shifted, tmp_path / "shifted.ecsv")
    cal_s = stage.calibrate(tmp_path / "shifted.ecsv", tmp_path / "cal_s.json", CFG, seed=1, log=lambda s: None)
    z1, _ = calibration.apply_redshift(cal_s["redshift"], gr, ri)
    assert np.allclose(z1 - z0, 0.03, atol=0.003)

    # ...while the test clusters' catalogue values do not enter it at all
    moved = labels.copy()
    moved["z"][~train] = 0.45
    moved["richness"][~train] = 500.0
    write_conformed("labels", moved, tmp_path / "moved.ecsv")
    cal_t = stage.calibrate(tmp_path / "moved.ecsv", tmp_path / "cal_t.json", CFG, seed=1, log=lambda s: None)
    assert np.allclose(cal_t["redshift"]["coefficients"], cal["redshift"]["coefficients"])
    assert cal_t["richness"]["slope"] == pytest.approx(cal["richness"]["slope"])


def test_boxes_are_read_in_their_own_pngs_pixels(survey, tmp_path):
    """A view over a real field has a smaller PNG than the labels' nominal output_size: its boxes
    are in that PNG's pixels, so the calibration measures the same FITS region through either."""
    from PIL import Image

    _root, labels_path, labels = survey
    half = SIZE // 2
    small_png = tmp_path / "small.png"
    Image.new("RGB", (half, half)).save(small_png)
    assert stage.view_png_side(small_png, SIZE) == half
    assert stage.view_png_side(tmp_path / "absent.png", SIZE) == SIZE  # no PNG: the nominal side
    small = labels.copy()
    train = np.asarray([s == "train" for s in small["split"]])
    small["png"] = [str(small_png) if t else "" for t in train]
    for c in ("x0", "y0", "x1", "y1", "x", "y"):  # the same boxes on a PNG of half the side
        small[c][train] = (np.asarray(small[c][train], float) + 0.5) / 2 - 0.5
    write_conformed("labels", small, tmp_path / "small.ecsv")
    cal = stage.calibrate(labels_path, tmp_path / "cal.json", CFG, seed=1, log=lambda s: None)
    cal_small = stage.calibrate(tmp_path / "small.ecsv", tmp_path / "cal_small.json", CFG, seed=1, log=lambda s: None)
    assert np.allclose(cal_small["redshift"]["coefficients"], cal["redshift"]["coefficients"], rtol=1e-6, atol=1e-9)


def test_calibration_subsample_is_seeded(survey):
    _, _, labels = survey
    a = stage.calibration_sample(labels, 5, seed=7)
    b = stage.calibration_sample(labels, 5, seed=7)
    assert len(a) == 5 and list(a["cluster_id"]) == list(b["cluster_id"])
    assert set(a["split"]) == {"train"}


def test_too_few_training_clusters_is_an_error():
    with pytest.raises(DeepCeeError, match="min_clusters"):
        calibration.fit_redshift(
            [0.9, 1.0],
            [0.4, 0.4],
            [0.1, 0.15],
            with_defaults("redshift", {"calibration": {"min_clusters": 8}})["calibration"],
        )


# --------------------------------------------------------------------------- detections and flags
def test_detections_get_estimates_or_flags(survey, tmp_path):
    _root, labels_path, _labels = survey
    cal_path = tmp_path / "cal.json"
    stage.calibrate(labels_path, cal_path, CFG, seed=1, log=lambda s: None)
    # S0, S1: a box on the cluster; E0: a box on an empty field; S1 also a tiny box in a corner
    boxes = [
        ("S0_v0", *_png_box(80, 80), 0.95),
        ("S1_v0", *_png_box(80, 80), 0.9),
        ("E0_v0", *_png_box(80, 80), 0.9),
        ("S1_v0", *_png_box(10, 150, side=6), 0.85),
        ("S0_v0", *_png_box(80, 80), 0.05),
    ]
    preds = Table(
        rows=[(v, s, 150.0, 10.0, x0, y0, x1, y1) for v, x0, y0, x1, y1, s in boxes],
        names=("view", "score", "ra", "dec", "x0", "y0", "x1", "y1"),
    )
    write_conformed("predictions", preds, tmp_path / "pred.ecsv")
    (tmp_path / "eval.json").write_text(
        json.dumps(
            {"chosen_threshold": 50, "score_rule": "greater", "distance_kpc": 100.0, "tp_centre": "highest_score"}
        )
    )
    det = stage.estimate(
        tmp_path / "pred.ecsv",
        labels_path,
        tmp_path / "eval.json",
        cal_path,
        tmp_path / "det.ecsv",
        CFG,
        log=lambda s: None,
    )
    assert len(det) == 4  # the 5 % box is below the chosen threshold
    by = {(str(r["view"]), round(float(r["x1"]) - float(r["x0"]))): r for r in det}
    for view, z in (("S0_v0", 0.12), ("S1_v0", 0.17)):
        r = by[(view, 40)]
        assert r["z_flag"] == "ok" and r["z_est"] == pytest.approx(z, abs=0.015)
        assert r["richness_flag"] == "ok" and r["richness_est"] > 0
        assert r["matched"] and r["primary"] and r["z_cat"] == pytest.approx(z)
    tiny = by[("S1_v0", 6)]
    assert tiny["z_flag"] == "few_galaxies"
    assert np.isnan(tiny["z_est"]) and np.isnan(tiny["richness_est"])
    empty = by[("E0_v0", 40)]
    assert empty["z_flag"] != "ok" and np.isnan(empty["z_est"])

    summary = stage.summarize(
        {"test": tmp_path / "det.ecsv"}, cal_path, tmp_path / "summary.json", CFG, seed=1, log=lambda s: None
    )
    test = summary["sets"]["test"]
    assert test["n_detections"] == 4
    assert test["n_z_missing"] == 2 and test["z_flags"]["few_galaxies"] >= 1
    assert test["redshift"]["n"] == 3 - test["n_recovered_z_missing"]
    assert json.loads((tmp_path / "summary.json").read_text())["counts"]["test_n_z_missing"] == 2


# --------------------------------------------------------------------------- metrics
def test_redshift_metrics_on_known_arrays():
    dz = np.array([0.0, 0.01, -0.01, 0.02, 0.2])
    z_cat = np.full(5, 0.1)
    m = stage.redshift_metrics(z_cat + dz * 1.1, z_cat, outlier_threshold=0.05)
    # Δz/(1+z) = dz: median 0.01, |dz − 0.01| = 0.01, 0, 0.02, 0.01, 0.19 -> median 0.01
    assert m["n"] == 5
    assert m["bias"] == pytest.approx(0.01)
    assert m["sigma_nmad"] == pytest.approx(1.4826 * 0.01)
    assert m["outlier_fraction"] == pytest.approx(0.2)
    # missing estimates are left out, not counted as zero
    m2 = stage.redshift_metrics(np.r_[z_cat + dz * 1.1, np.nan], np.r_[z_cat, 0.15])
    assert m2["n"] == 5 and m2["bias"] == pytest.approx(0.01)


def test_richness_metrics_and_bootstrap():
    lam = np.array([20.0, 30.0, 45.0, 70.0, 100.0])
    m = stage.richness_metrics(2.0 * lam, lam)
    assert m["slope"] == pytest.approx(1.0)
    assert m["scatter_log10"] == pytest.approx(0.0, abs=1e-12)
    m = stage.richness_metrics(lam**0.5, lam)
    assert m["slope"] == pytest.approx(0.5)
    gen = np.random.default_rng(0)
    values = np.array([1.0, 2.0, 3.0, 4.0])
    lo, hi = stage.bootstrap_interval([[0], [1], [2], [3]], lambda i: float(values[i].mean()), 200, 0.95, gen)
    assert 1.0 <= lo < 2.5 < hi <= 4.0
    assert stage.nmad([]) != stage.nmad([])  # NaN for no values


def test_config_section_validates(repo):
    import yaml

    config = yaml.safe_load((repo / "config.yaml").read_text())
    check_config(config, repo / "schemas" / "config.schema.yaml", "config.yaml")
    config["redshift"]["richness"]["luminosity_cut"] = -1
    with pytest.raises(DeepCeeError, match="luminosity_cut"):
        check_config(config, repo / "schemas" / "config.schema.yaml", "config.yaml")


def test_figures_with_and_without_recovered_clusters(tmp_path):
    from deepcee.redshift.figures import plot_redshift, plot_richness

    rows = [
        (
            "v0",
            0.9,
            150.0,
            10.0,
            0,
            0,
            9,
            9,
            0.14,
            "ok",
            40.0,
            "ok",
            1.0,
            0.4,
            10,
            5.0,
            4.0,
            1.0,
            True,
            True,
            "C0",
            0.15,
            35.0,
            10.0,
        ),
        (
            "v1",
            0.8,
            150.0,
            10.0,
            0,
            0,
            9,
            9,
            np.nan,
            "few_galaxies",
            np.nan,
            "no_redshift",
            np.nan,
            np.nan,
            1,
            np.nan,
            np.nan,
            np.nan,
            True,
            True,
            "C1",
            0.12,
            25.0,
            20.0,
        ),
    ]
    full = Table(rows=rows, names=stage.DETECTION_COLUMNS)
    empty = full[:0]
    summary = {"outlier_threshold": 0.05, "sets": {}}
    for name, tables in (("some", {"test": full}), ("none", {"test": empty, "redmapper": empty})):
        plot_redshift(tables, summary, tmp_path / f"z_{name}.png")
        plot_richness(tables, summary, tmp_path / f"r_{name}.png")
        assert (tmp_path / f"z_{name}.png").stat().st_size > 1000
        assert (tmp_path / f"r_{name}.png").stat().st_size > 1000


def test_richness_calibration_is_not_shrunk_toward_the_training_mean():
    """Counts with Poisson-like scatter at known λ: the estimate's log-slope against λ is about 1
    (the inverse of log N = α + β log λ), where regressing λ on N would give a fraction of it; a
    count that does not grow with λ is refused."""
    gen = np.random.default_rng(0)
    lam = np.exp(gen.uniform(np.log(20), np.log(150), 400))
    count = gen.poisson(0.3 * lam**0.8) + gen.normal(0, 1.0, lam.size)  # a few members, less a background
    cfg = {"min_clusters": 10, "clip_sigma": 3.0, "clip_iterations": 5}
    rel = calibration.fit_richness(count, lam, cfg)
    est = calibration.apply_richness(rel, count)
    ok = np.isfinite(est)
    slope = np.polyfit(np.log10(lam[ok]), np.log10(est[ok]), 1)[0]
    assert 0.7 < rel["forward"]["beta"] < 1.0 and 0.8 < slope < 1.6
    flat = calibration.fit_richness(gen.uniform(1, 10, 100), 30 + gen.normal(0, 1, 100), cfg)
    if flat["forward"]["beta"] <= 0:  # a count that does not grow with λ: no estimate, not a made-up one
        assert not flat["usable"] and np.isnan(calibration.apply_richness(flat, [5.0])).all()
    falling = calibration.fit_richness(np.linspace(10, 1, 50), np.linspace(20, 100, 50), cfg)
    assert not falling["usable"] and "does not grow" in falling["reason"]
