"""The views plan: offsets, the split fixed before rendering, extra test views, real-sky backgrounds."""

import numpy as np
import pytest

from deepcee.core.errors import DeepCeeError
from deepcee.images.mock import real_fields, render
from deepcee.images.split import assign_split
from deepcee.images.views import held_out_views, plan_views
from images_helpers import BLANK, RESOURCES, small_catalogue

SPLIT = {"by": "view", "test_fraction": 0.25}


def test_split_in_the_plan_equals_the_split_of_the_views():
    cat = small_catalogue(8)
    plan = plan_views(cat, 1, 100.0, seed=4, split=SPLIT)
    expect = assign_split(list(plan["view"]), list(plan["cluster_id"]), "view", 0.25, 4)
    assert {str(v): str(s) for v, s in zip(plan["view"], plan["split"])} == expect
    assert set(plan["background"]) == {"synthetic"}


def test_extra_test_views_go_to_test_clusters_only_at_the_streams_offsets():
    cat = small_catalogue(8)
    one = plan_views(cat, 1, 100.0, seed=4, split=SPLIT)
    four = plan_views(cat, 1, 100.0, seed=4, split={**SPLIT, "test_views_per_cluster": 4})
    every = plan_views(cat, 4, 100.0, seed=4)  # no split: every cluster 4 views, all 'test'
    test_clusters = set(np.asarray(one["cluster_id"])[np.asarray(one["split"]) == "test"])
    assert test_clusters and set(every["split"]) == {"test"}
    for cid in {str(c) for c in cat["id"]}:
        rows = four[np.asarray(four["cluster_id"]) == cid]
        assert len(rows) == (4 if cid in test_clusters else 1)
        assert set(rows["split"]) == ({"test"} if cid in test_clusters else {"train"})
        # the k-th view of a cluster has the k-th offset of its stream, however many are drawn
        ref = every[np.asarray(every["cluster_id"]) == cid]
        assert np.allclose(rows["offset_ra_arcsec"], ref["offset_ra_arcsec"][: len(rows)])
    # the first views keep the one-view plan's split: no training cluster gains a test view
    first = four[np.asarray(four["k"]) == 0]
    assert list(first["split"]) == list(one["split"])


def test_real_backgrounds_only_on_training_views():
    cat = small_catalogue(40)
    fields = ["fieldA", "fieldB", "fieldC"]
    plan = plan_views(
        cat, 1, 100.0, seed=2, split=SPLIT, real_background_fraction=0.5, real_fields=fields, real_offset=0.5
    )
    split, bg = np.asarray(plan["split"]), np.asarray(plan["background"])
    assert set(bg[split == "test"]) == {"synthetic"}
    n_real = int(np.sum(bg[split == "train"] == "sdss_blank"))
    assert 0 < n_real < int(np.sum(split == "train"))
    again = plan_views(
        cat, 1, 100.0, seed=2, split=SPLIT, real_background_fraction=0.5, real_fields=fields, real_offset=0.5
    )
    assert list(again["background"]) == list(plan["background"])
    assert list(again["field"]) == list(plan["field"])
    # every real view names one of the training fields (several used), a synthetic one none
    real = bg == "sdss_blank"
    assert set(np.asarray(plan["field"])[real]) <= set(fields) and len(set(np.asarray(plan["field"])[real])) > 1
    assert set(np.asarray(plan["field"], dtype=str)[~real]) <= {""}
    # a real view's offset is its stream's offset shrunk (it is a smaller square)
    full = plan_views(cat, 1, 100.0, seed=2, split=SPLIT)
    assert np.allclose(np.asarray(plan["offset_ra_arcsec"])[real], 0.5 * np.asarray(full["offset_ra_arcsec"])[real])
    assert np.allclose(np.asarray(plan["offset_ra_arcsec"])[~real], np.asarray(full["offset_ra_arcsec"])[~real])
    with pytest.raises(DeepCeeError, match="no real field"):
        plan_views(cat, 1, 100.0, seed=2, split=SPLIT, real_background_fraction=0.5)


def test_real_offset_keeps_the_synthetic_views_margin():
    from deepcee.images.views import real_offset_factor

    # default: 500 px x 1.584" with 270" offsets leaves 126"; a 350 px square keeps it
    f = real_offset_factor(350, 500, 1.584, 270.0)
    assert 350 * 1.584 / 2 - 270.0 * f == pytest.approx(500 * 1.584 / 2 - 270.0)
    assert real_offset_factor(500, 500, 1.584, 270.0) == 1.0
    assert real_offset_factor(80, 500, 1.584, 270.0) == 0.0


def test_held_out_views_over_real_fields_rotate_through_the_fields():
    plan = plan_views(small_catalogue(8), 1, 100.0, seed=4, split={**SPLIT, "test_views_per_cluster": 3}, shards=3)
    fields = ["f1", "f2", "f3", "f4"]
    test = held_out_views(plan, shards=2, fields=fields, real_offset=0.5)
    assert set(test["background"]) == {"sdss_blank"}
    for cid in set(test["cluster_id"]):
        rows = test[np.asarray(test["cluster_id"]) == cid]
        assert len(set(rows["field"])) == len(rows)  # each view of a cluster over another field
    ref = held_out_views(plan, shards=2)
    assert np.allclose(test["offset_ra_arcsec"], 0.5 * np.asarray(ref["offset_ra_arcsec"]))
    # the centre moved with the offset: the cluster is the centre plus the offset
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    def col(name):
        return np.asarray(test[name], dtype=float)

    centre = SkyCoord(col("centre_ra") * u.deg, col("centre_dec") * u.deg)
    cluster = centre.spherical_offsets_by(col("offset_ra_arcsec") * u.arcsec, col("offset_dec_arcsec") * u.arcsec)
    assert cluster.separation(SkyCoord(col("ra") * u.deg, col("dec") * u.deg)).arcsec.max() < 0.01


def test_held_out_views_reshards_whole_clusters():
    plan = plan_views(small_catalogue(8), 1, 100.0, seed=4, split={**SPLIT, "test_views_per_cluster": 3}, shards=3)
    test = held_out_views(plan, shards=2)
    assert set(test["split"]) == {"test"} and len(test) == int(np.sum(np.asarray(plan["split"]) == "test"))
    for cid in set(test["cluster_id"]):
        assert len(set(test["shard"][np.asarray(test["cluster_id"]) == cid])) == 1
    first = held_out_views(plan, shards=2, views_per_cluster=1)
    assert set(first["k"]) == {0} and len(first) == len(set(test["cluster_id"]))
    with pytest.raises(DeepCeeError, match="no test views"):
        held_out_views(plan[np.asarray(plan["split"]) == "train"], shards=2)


def test_blank_frame_folders_are_found_by_band():
    for folder in (BLANK, RESOURCES / "sdss-frames-run5390-camcol2-gri"):
        paths = real_fields.blank_frame_paths(folder)
        assert sorted(paths) == ["g", "i", "r"] and all(f"-{b}-" in paths[b].name for b in paths)
    with pytest.raises(DeepCeeError, match="band g"):
        real_fields.blank_frame_paths(RESOURCES / "sdss-frame-r-redmapper-cluster")


def test_a_planned_real_background_is_rendered_over_the_frame(tmp_path):
    """A training view the plan marks sdss_blank is a crop of its real field: real_view_pixels
    square, the field's own pixels plus the cluster, nothing padded or mirrored."""
    from deepcee.images.mock.real_fields import read_field
    from images_helpers import prepared_fields, small_images_cfg

    fields = prepared_fields(tmp_path)
    cfg = small_images_cfg(mock={"mag_limit": 20.0, "blank_frames": str(BLANK), "real_view_pixels": 120})
    plan = plan_views(
        small_catalogue(40), 1, 30.0, seed=2, split=SPLIT, real_background_fraction=0.5, real_fields=sorted(fields)
    )
    real = plan[np.asarray(plan["background"]) == "sdss_blank"][0]
    syn = plan[np.asarray(plan["background"]) == "synthetic"][0]
    img_real, _w, info_real = render.render_view(real, cfg, 2, real_fields=fields)
    _img, _w, info_syn = render.render_view(syn, cfg, 2)
    assert img_real.shape == (3, 120, 120) and info_syn["field"] > 0 and "field" not in info_real
    assert info_real["real_field"] == BLANK.name
    # away from the cluster's members the pixels are the field's own, turned as the crop says
    x0, y0, turns, mirrored = info_real["real_field_crop"]
    crop = read_field(fields[BLANK.name]).image[:, y0 : y0 + 120, x0 : x0 + 120]
    crop = np.rot90(crop, k=turns, axes=(1, 2))
    crop = crop[:, :, ::-1] if mirrored else crop
    untouched = np.abs(img_real - crop) == 0
    assert untouched.mean() > 0.5
