"""Purity and completeness at the sky's own density (src/deepcee/search/natural.py) and the
abundance-drawn, non-isolated injections (src/deepcee/search/inject.py)."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table

from deepcee.core.config import with_defaults
from deepcee.search import natural
from deepcee.search.inject import plan_injections, recovery
from deepcee.search.tiles import plan_tiles

CFG = with_defaults("search", {})["natural"]
ARCMIN = 1.0 / 60.0


def _truth():
    """Two catalogued clusters, one poor catalogued entry (λ 15), one group, one injected cluster."""
    return Table(
        {
            "id": ["C1", "C2", "P1", "G1", "INJ1"],
            "ra": [10.0, 10.5, 11.0, 11.5, 12.0],
            "dec": [1.0, 1.0, 1.0, 1.0, 1.0],
            "kind": ["redmapper", "abell", "redmapper", "group", "injected"],
            "richness": [40.0, 40.0, 15.0, 8.0, 60.0],
            "z": [0.15, 0.12, 0.3, 0.1, 0.15],
        }
    )


def _cands(ra, dec, score, z_est=None):
    t = Table({"id": [f"c{i}" for i in range(len(ra))], "ra": ra, "dec": dec, "score": score})
    t["z_est"] = np.full(len(ra), np.nan) if z_est is None else z_est
    return t


def _injected():
    truth = _truth()
    return truth[truth["kind"] == "injected"]


def test_truth_is_the_skys_own_clusters_of_the_catalogues_definition():
    clusters, groups = natural.split_truth(_truth(), 20.0)
    assert list(clusters["id"]) == ["C1", "C2"]
    assert list(groups["id"]) == ["P1", "G1"]  # the poor one and the group; never the injected one


def test_purity_one_to_one_within_one_arcmin_groups_false_injected_left_out():
    cands = _cands(
        [10.0, 10.0 + 0.3 * ARCMIN, 10.5 + 2.0 * ARCMIN, 11.5, 12.0 + 0.2 * ARCMIN, 13.0],
        [1.0] * 6,
        [0.9, 0.8, 0.95, 0.7, 0.99, 0.6],
    )
    p = natural.purity(cands, _truth(), _injected(), CFG, area_deg2=2.0)
    # c0 takes C1; c1 is its second look (false); c2 is 2' from C2, beyond 1' (false); c3 on a group
    # (false); c4 on the injected cluster (left out); c5 on nothing (false)
    assert p["n_excluded_on_injected"] == 1 and p["n_judged"] == 5
    assert (p["n_true"], p["n_false"], p["n_second_look"], p["n_on_group"]) == (1, 4, 1, 1)
    assert p["purity"] == pytest.approx(0.2) and p["ci_lo"] < 0.2 < p["ci_hi"]
    assert p["group_share"] == pytest.approx(0.2)
    assert p["sky_clusters_per_deg2"] == pytest.approx(1.0)  # C1 and C2 over 2 deg2
    assert "sky's own density" in natural.describe(p) and "1.00 clusters per deg2" in natural.describe(p)


def test_the_higher_score_takes_the_cluster():
    cands = _cands([10.0 + 0.5 * ARCMIN, 10.0], [1.0, 1.0], [0.6, 0.9])
    matched = natural.match_one_to_one(cands, natural.split_truth(_truth(), 20)[0], np.full(2, 60.0))
    assert list(matched) == [-1, 0]


def test_physical_radius_at_z_est_when_smaller():
    cands = _cands([10.0, 10.0], [1.0, 1.0], [0.9, 0.9], z_est=[0.05, np.nan])
    radii = natural.match_radii_arcsec(cands, 1.0, 50.0)
    assert radii[0] < 60.0 and radii[1] == 60.0  # 50 kpc at z = 0.05 is about 50"


def test_chance_matches_are_counted_on_shifted_truth():
    truth = Table({"ra": [10.0, 20.0], "dec": [1.0, 1.0], "richness": [40.0, 40.0], "z": [0.1, 0.1]})
    # candidates exactly 10' east of each cluster: every one matches the truth shifted east by 10'
    east = _cands([10.0 + 10 * ARCMIN, 20.0 + 10 * ARCMIN], [1.0, 1.0], [0.9, 0.9])
    rate = natural.chance_match_rate(east, truth, np.full(2, 60.0), shift_arcmin=10.0, n_shifts=4)
    assert rate == pytest.approx(0.25, abs=0.01)  # one of four directions puts the truth on them
    on_truth = _cands([10.0, 20.0], [1.0, 1.0], [0.9, 0.9])
    assert natural.chance_match_rate(on_truth, truth, np.full(2, 60.0), 10.0, 4) == 0.0


def test_completeness_of_the_skys_own_clusters_by_band():
    clusters = natural.split_truth(_truth(), 20.0)[0]
    cands = _cands([10.0], [1.0], [0.9])
    bands = [{"name": "trained", "z": [0.1, 0.2], "richness": [30, None]}]
    (row,) = natural.completeness(clusters, cands, CFG, bands)
    assert (row["n_clusters"], row["n_found"]) == (2, 1) and row["completeness"] == pytest.approx(0.5)


def _tiles():
    region = {"ra_min": 150.0, "ra_max": 150.6, "dec_min": 2.0, "dec_max": 2.6}
    tiles, info = plan_tiles({"region": region})
    t = Table({"index": np.asarray([x.index for x in tiles], np.int64), "ra": [x.ra for x in tiles]})
    t["dec"] = [x.dec for x in tiles]
    t.meta.update(info)
    return t


def _redmapper():
    gen = np.random.default_rng(0)
    z = gen.uniform(0.08, 0.35, 400)
    lam = 20.0 * (1 - gen.uniform(size=400)) ** (-1 / 2.5)  # a steep abundance, most near 20-40
    return Table({"z": z, "richness": lam})


def test_abundance_draw_takes_z_and_richness_of_catalogue_clusters_among_the_skys_own():
    rm = _redmapper()
    occupied = Table({"ra": np.linspace(150.0, 150.6, 40), "dec": np.full(40, 2.3)})  # a wall across the area
    cfg = with_defaults("search", {"inject": {"n": 30, "richness_range": [20, 240], "richness_bins": 4}})["inject"]
    planted = plan_injections(_tiles(), occupied, cfg, seed=3, log=lambda m: None, redmapper=rm)
    assert len(planted) == 30 and planted.meta["richness_draw"] == "abundance"
    pairs = set(zip(np.round(rm["z"], 9), np.round(rm["richness"], 9)))
    assert all((round(z, 9), round(lam, 9)) in pairs for z, lam in zip(planted["z"], planted["richness"]))
    assert np.median(planted["richness"]) < 40  # the sky's own richnesses, not log-uniform to 240
    # not isolated: nothing kept them off the wall of occupied positions (some land within 2' of it)
    from astropy.coordinates import SkyCoord

    _, d, _ = SkyCoord(planted["ra"], planted["dec"], unit="deg").match_to_catalog_sky(
        SkyCoord(occupied["ra"], occupied["dec"], unit="deg")
    )
    assert (d.arcmin < 2.0).any()
    again = plan_injections(_tiles(), occupied, cfg, seed=3, log=lambda m: None, redmapper=rm)
    assert list(again["richness"]) == list(planted["richness"])


def test_abundance_draw_without_catalogue_is_refused():
    from deepcee.core.errors import DeepCeeError

    cfg = with_defaults("search", {"inject": {"n": 3}})["inject"]
    with pytest.raises(DeepCeeError, match="abundance"):
        plan_injections(_tiles(), Table({"ra": [], "dec": []}), cfg, seed=1, log=lambda m: None)


def test_recovery_reports_the_trained_kind_and_the_poor_band_apart():
    injected = Table(
        {
            "id": ["a", "b", "c"],
            "ra": [10.0, 10.5, 11.0],
            "dec": [1.0, 1.0, 1.0],
            "z": [0.15, 0.15, 0.15],
            "richness": [45.0, 25.0, 22.0],
        }
    )
    injected.meta.update({"z_edges": [0.05, 0.35], "richness_edges": [20.0, 240.0]})
    cands = _cands([10.0, 11.0], [1.0, 1.0], [0.9, 0.9])
    _, s = recovery(injected, cands, 0.5, 1.0, {"z": [0.1, 0.2], "richness_min": 30, "poor_richness_min": 20})
    assert (s["headline"]["n_injected"], s["headline"]["n_found"]) == (1, 1)
    assert (s["headline_poor"]["n_injected"], s["headline_poor"]["n_found"]) == (2, 1)
    assert s["headline_poor"]["richness_max"] == 30.0


def test_the_confirmation_sweep_carries_the_natural_purity_of_each_cut():
    from deepcee.search import confirm

    cands = _cands([10.0, 11.5, 13.0], [1.0, 1.0, 1.0], [0.9, 0.8, 0.7])
    cands["red_excess"] = [12.0, 6.0, 2.0]
    injected = _injected()
    injected.meta.update({"z_edges": [0.05, 0.35], "richness_edges": [20.0, 240.0]})
    judge = natural.sweep_judge(_truth(), injected, CFG, 2.0, None)
    table = confirm.sweep(cands, _truth(), injected, 0.5, 1.0, [0.0, 5.0, 10.0], None, None, judge)
    # cut 0: C1 (true), the group and nothing (false); cut 5: C1 and the group; cut 10: C1 alone
    assert list(table["natural_n_judged"]) == [3, 2, 1]
    assert list(table["natural_purity"]) == pytest.approx([1 / 3, 1 / 2, 1.0])
