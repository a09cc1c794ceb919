"""Training and comparison views are cutouts of the one mock sky (images/mock/sky.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table

from deepcee.core.errors import DeepCeeError
from deepcee.images.mock import render
from deepcee.images.mock.render import sky_for_views
from deepcee.images.mock.sky import MAX_STAMP_ARCSEC, MockSky
from deepcee.images.stage import acquire_shard
from deepcee.images.views import plan_views, write_views
from images_helpers import small_images_cfg

REPO = Path(__file__).resolve().parents[1]

#: Two catalogued clusters 150" apart: each shows in the other's views.
PAIR = Table(
    {
        "id": ["RM1", "RM2"],
        "name": ["a", "b"],
        "ra": [150.0, 150.0 + 150.0 / 3600 / np.cos(np.radians(2.0))],
        "dec": [2.0, 2.0],
        "z": [0.15, 0.12],
        "richness": [60.0, 50.0],
        "n_members": [60, 50],
        "bcg_rmag": [np.nan, np.nan],
    }
)


def _cfg():
    return small_images_cfg(mock={"mag_limit": 20.0, "groups_per_deg2": 0.0})


def test_a_view_is_the_sky_cut_at_its_centre():
    """render_view of a planned view gives the pixels of the sky's own cutout there (same noise key)."""
    cfg = _cfg()
    views = plan_views(PAIR[:1], 1, 60.0, seed=3, shards=1)
    sky = sky_for_views(views, cfg, 3)
    img, wcs, info = render.render_view(views[0], cfg, 3, sky=sky)
    cut, _, _ = sky.cutout(
        float(views[0]["centre_ra"]),
        float(views[0]["centre_dec"]),
        cfg["pixels"],
        cfg["pixel_scale_arcsec"],
        noise_key=("view", str(views[0]["view"])),
    )
    np.testing.assert_array_equal(img, cut)
    assert info["psf_fwhm_arcsec"] == pytest.approx(
        float(sky.seeing_at(views[0]["centre_ra"], views[0]["centre_dec"])[0])
    )


def test_a_neighbouring_cluster_shows_unlabelled():
    """The view of RM1 also draws RM2's galaxies, marked as another catalogued cluster in the truth."""
    cfg = _cfg()
    views = plan_views(PAIR, 1, 0.0, seed=3, shards=1)
    sky = sky_for_views(views, cfg, 3)
    _img, _wcs, info = render.render_view(views[0], cfg, 3, sky=sky)
    truth = info["truth"]
    target = truth[truth["member"] == "target"]
    other = truth[truth["member"] == "cluster"]
    assert len(target) == info["cluster"] > 10 and len(other) == info["other_cluster"] > 10
    assert np.all(target["z"] == pytest.approx(0.15)) and np.all(other["z"] == pytest.approx(0.12))
    assert int(np.sum(target["central"])) == 1 and int(np.sum(other["central"])) == 1
    # the same galaxies of RM2, at the same place, as in RM2's own view
    _img, _wcs, info2 = render.render_view(views[1], cfg, 3, sky=sky)
    own = info2["truth"][info2["truth"]["member"] == "target"]
    bcg, bcg2 = other[other["central"]][0], own[own["central"]][0]
    assert (bcg["ra"], bcg["dec"], bcg["mag_r"]) == pytest.approx((bcg2["ra"], bcg2["dec"], bcg2["mag_r"]))


def test_the_plan_decides_its_clusters_values():
    """A views plan's cluster is drawn with the plan's z, even where the sky's catalogue says otherwise."""
    cfg = _cfg()
    sky = MockSky(3, cfg["mock"], PAIR, None)
    changed = PAIR[:1].copy()
    changed["z"] = [0.18]
    sky.add_clusters(changed)
    assert float(sky.clusters["z"][sky.clusters["id"] == "RM1"][0]) == pytest.approx(0.18)
    assert len(sky.clusters) == 2
    views = plan_views(PAIR[1:], 1, 0.0, seed=3, shards=1)
    views["cluster_id"] = ["RM9"]
    with pytest.raises(DeepCeeError, match="RM9"):
        render.render_view(views[0], cfg, 3, sky=sky)


def test_only_objects_whose_stamp_meets_the_cutout_are_drawn():
    """Nothing beyond the longest stamp is drawn; what is drawn is listed with its pixel position."""
    cfg = _cfg()
    sky = MockSky(5, cfg["mock"], PAIR, None)
    img, _wcs, info = sky.cutout(150.0, 2.0, 100, 1.584, noise=False)
    objs = info["objects"].cols
    reach = 100 / 2 + MAX_STAMP_ARCSEC / 1.584
    assert len(objs["x"]) > 10 and info["cluster"] > 0
    assert np.all(np.abs(objs["x"] - 49.5) < reach) and np.all(np.abs(objs["y"] - 49.5) < reach)
    assert info["field"] + info["star"] + info["cluster"] + info["foreground"] == len(objs["x"])


def test_a_shard_cuts_its_views_from_one_sky(tmp_path):
    """acquire_shard cuts every synthetic view of a shard from one sky: the pair see each other."""
    cfg = _cfg()
    views = plan_views(PAIR, 1, 0.0, seed=3, shards=1)
    write_views(views, tmp_path / "views.ecsv")
    manifest = acquire_shard(
        tmp_path / "views.ecsv", 0, tmp_path / "fits", tmp_path / "m.json", cfg, 3, truth_path=tmp_path / "t.ecsv"
    )
    assert manifest["n_views"] == 2
    assert all(i["other_cluster"] > 0 for i in manifest["render_info"])


def test_the_sky_holds_the_bundled_catalogues():
    """With the bundled catalogues, the sky holds every redMaPPer cluster and the unmatched Abell positions."""
    cfg = _cfg()
    views = plan_views(PAIR[:1], 1, 0.0, seed=3, shards=1)
    catalogues = {
        "redmapper": REPO / "resources/redmapper-sdss-dr8-v5.10/sdss_redmapper.csv.gz",
        "abell": [
            REPO / "resources/abell-aco-vii110a/abell_north.tsv",
            REPO / "resources/abell-aco-vii110a/abell_south.tsv",
        ],
    }
    sky = sky_for_views(views, cfg, 3, catalogues)
    kinds = set(sky.clusters["kind"])
    assert {"redmapper", "abell", "catalogue"} <= kinds and len(sky.clusters) > 26000
    assert np.all(sky.clusters["reach_arcsec"] > MAX_STAMP_ARCSEC)
