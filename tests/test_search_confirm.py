"""The red-sequence confirmation's selection, purity and sweep (src/deepcee/search/confirm.py)."""

import numpy as np
import pytest
from astropy.table import Table

from deepcee.search import confirm


def _cands():
    # two on truth clusters (one weak red excess), one on a group, two on nothing (one red)
    return Table(
        {
            "ra": [10.0, 11.0, 12.0, 13.0, 14.0, 15.0],
            "dec": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            "score": [0.9, 0.8, 0.7, 0.95, 0.6, 0.3],
            "red_excess": [12.0, 2.0, 6.0, 1.0, 7.0, 20.0],
        }
    )


def _truth():
    return Table(
        {
            "ra": [10.0, 11.0, 12.0, 15.0],
            "dec": [0.0, 0.0, 0.0, 0.0],
            "kind": ["injected", "redmapper", "group", "injected"],
            "richness": [40.0, 25.0, 6.0, 50.0],
        }
    )


def _injected():
    t = Table({"ra": [10.0, 15.0], "dec": [0.0, 0.0], "z": [0.15, 0.15], "richness": [40.0, 50.0]})
    t.meta.update({"z_edges": [0.05, 0.35], "richness_edges": [10.0, 150.0]})
    return t


def test_confirmed_needs_the_score_and_the_red_excess():
    c = _cands()
    assert list(confirm.confirmed(c, 0.5, 5.0)) == [True, False, True, False, True, False]
    assert list(confirm.confirmed(c, 0.5, None)) == [True, True, True, True, True, False]
    c["red_excess"][0] = np.nan  # never measured: not confirmed
    assert not confirm.confirmed(c, 0.5, 0.0)[0]
    no_column = Table({"score": [0.9]})
    assert list(confirm.confirmed(no_column, 0.5, 1.0)) == [False]
    assert len(confirm.confirmed(Table({"score": []}), 0.5, 1.0)) == 0


def test_purity_of_the_confirmed_sets_groups_apart():
    c = _cands()
    p = confirm.purity_at(c, _truth(), 3.0, confirm.confirmed(c, 0.5, 5.0))
    assert (p["n_candidates"], p["n_real"], p["n_group"], p["n_false"]) == (3, 1, 1, 1)
    assert p["purity"] == pytest.approx(0.5) and p["ci_lo"] < 0.5 < p["ci_hi"]
    assert p["purity_all"] == pytest.approx(1 / 3)
    none = confirm.purity_at(c, _truth(), 3.0, np.zeros(len(c), bool))
    assert none["purity"] is None and none["n_candidates"] == 0


def test_sweep_trades_purity_for_completeness():
    c = _cands()
    table = confirm.sweep(c, _truth(), _injected(), 0.5, 3.0, [0.0, 5.0, 100.0], {"z": [0.1, 0.2], "richness_min": 30})
    assert list(table["n_candidates"]) == [5, 3, 0]
    assert list(table["n_false"]) == [2, 1, 0]
    assert table["purity"][0] == pytest.approx(2 / 4) and np.isnan(table["purity"][2])
    # the 0.3-score cluster on injected #2 is never confirmed: under the detector's threshold
    assert list(table["headline_found"]) == [1, 1, 0] and list(table["headline_n"]) == [2, 2, 2]
    assert table["headline_completeness"][1] == pytest.approx(0.5)
    assert table["n_candidates"].dtype.kind == "i"


def test_percolation_keeps_the_richest_look_at_a_cluster():
    """A passing candidate within 500 kpc of a richer one with an agreeing z_est is the same
    cluster seen again; another redshift, or beyond the radius, is another cluster."""
    arcmin = 1 / 60
    c = Table(
        {
            "id": ["A", "B", "C", "D", "E"],
            "ra": [
                10.0,
                10.0 + 2 * arcmin,
                10.0 - 2 * arcmin,
                10.0 + 10 * arcmin,
                10.0,
            ],
            "dec": [0.0, 0.0, 0.0, 0.0, 2 * arcmin],
            "score": [0.9, 0.95, 0.9, 0.9, 0.9],
            "red_excess": [9.0, 6.0, 7.0, 8.0, 5.5],
            "z_est": [0.10, 0.101, 0.30, 0.10, np.nan],
        }
    )
    cfg = {"min_red_excess": 5.0, "percolation_kpc": 500.0, "percolation_dz": 0.05}
    keep, parent = confirm.select(c, 0.5, cfg)
    # 2' at z = 0.1 is ~130 kpc: B (same z) and E (no z) join A; C (z 0.3) and D (10', ~1.1 Mpc) stay
    assert list(parent) == ["", "A", "", "", "A"]
    assert list(keep) == [True, False, True, True, False]
    off, none = confirm.select(c, 0.5, {**cfg, "percolation_kpc": None})
    assert off.all() and (none == "").all()


def test_bench_confirmation_shares_and_synthetic_detections(tmp_path):
    """The real-sky check's bookkeeping: passing shares with Wilson intervals, and the synthetic
    test detections read from the redshift stage's table (matched = on its cluster)."""
    from deepcee.bench.confirmation import _share, synthetic_excess

    s = _share(np.array([True, True, False, True]))
    assert (s["n"], s["passing"]) == (4, 3) and s["ci_lo"] < 0.75 < s["ci_hi"]
    assert _share(np.zeros(0, bool))["fraction"] is None
    folder = tmp_path / "08_redshift"
    folder.mkdir()
    Table({"colour_excess": [7.0, np.nan, 1.0], "matched": [True, True, False]}).write(
        folder / "detections_test.ecsv", format="ascii.ecsv"
    )
    excess, on = synthetic_excess(tmp_path)
    assert list(on) == [True, True, False] and excess[0] == 7.0 and np.isnan(excess[1])


def _percolate_pairwise(cands, selected, radius_kpc, dz_max):
    """The rule stated plainly, pair by pair: the reference the neighbour-list version must equal."""
    from astropy.coordinates import SkyCoord

    from deepcee.core.cosmology import kpc_to_arcsec

    parent = np.full(len(cands), "", dtype="U32")
    sel = np.flatnonzero(selected)
    z, excess = np.asarray(cands["z_est"], float), np.asarray(cands["red_excess"], float)
    pos = SkyCoord(cands["ra"], cands["dec"], unit="deg")
    kept = []
    for i in sel[np.argsort(-np.nan_to_num(excess[sel], nan=-np.inf), kind="stable")]:
        for j in kept:
            if not np.isfinite(z[j]) or (np.isfinite(z[i]) and abs(z[i] - z[j]) / (1 + z[j]) > dz_max):
                continue
            if pos[i].separation(pos[j]).arcsec < float(kpc_to_arcsec(radius_kpc, z[j])):
                parent[i] = cands["id"][j]
                break
        else:
            kept.append(i)
    return parent


def test_percolation_equals_the_pairwise_rule_on_a_crowded_field():
    gen = np.random.default_rng(5)
    n = 150
    cands = Table(
        {
            "id": [f"c{i}" for i in range(n)],
            "ra": 30.0 + gen.uniform(0, 0.6, n),
            "dec": gen.uniform(0, 0.6, n),
            "red_excess": np.round(gen.uniform(0, 20, n)),  # ties: the stable order decides
            "z_est": np.where(gen.uniform(size=n) < 0.2, np.nan, gen.uniform(0.05, 0.3, n)),
        }
    )
    selected = gen.uniform(size=n) < 0.8
    fast = confirm.percolate(cands, selected, 500.0, 0.05)
    assert (fast != "").sum() > 10  # a crowded field: many second looks
    assert list(fast) == list(_percolate_pairwise(cands, selected, 500.0, 0.05))
