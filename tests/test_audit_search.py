"""The audit notebook's redshift and search helpers (deepcee.paper.audit) on small synthetic tables."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from astropy.table import Table
from matplotlib.collections import PatchCollection, PathCollection

from deepcee.paper import audit
from deepcee.search.tiles import StripGrid

ARCMIN = 1 / 60.0
THRESHOLD, RADIUS = 0.5, 3.0


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def injected_table() -> Table:
    return Table(
        {
            "id": ["INJ1", "INJ2", "INJ3"],
            "ra": [10.0, 10.5, 11.0],
            "dec": [0.0, 0.2, -0.3],
            "z": [0.10, 0.20, 0.30],
            "richness": [20.0, 40.0, 80.0],
        },
        meta={"z_edges": [0.05, 0.2, 0.35], "richness_edges": [10.0, 40.0, 150.0]},
    )


def candidates_table(on_bcg: bool = False) -> Table:
    """INJ1 found (1' away, above threshold), INJ2's neighbour under the threshold, one known and one new."""
    table = Table(
        {
            "id": ["C1", "C2", "C3", "C4"],
            "ra": [10.0 + ARCMIN, 10.5, 12.0, 12.5],
            "dec": [0.0, 0.2 + ARCMIN, 0.5, -0.5],
            "score": [0.9, 0.3, 0.8, 0.7],
            "known": [False, False, True, False],
            "z_est": [0.11, 0.19, 0.25, np.nan],
            "z_flag": ["ok", "ok", "ok", "no_red_sequence"],
            "richness_est": [22.0, 35.0, 60.0, np.nan],
            "richness_flag": ["ok", "ok", "ok", "no_redshift"],
        }
    )
    if on_bcg:
        table["on_bcg"] = [True, False, True, False]
    return table


def scatter_points(fig) -> int:
    return sum(len(c.get_offsets()) for ax in fig.axes for c in ax.collections if isinstance(c, PathCollection))


def test_match_injected_found_mask_and_pairs():
    found = audit.match_injected(injected_table(), candidates_table(), THRESHOLD, RADIUS)
    assert list(found["id"]) == ["INJ1", "INJ2", "INJ3"]
    assert list(found["found"]) == [True, False, False]  # INJ2's candidate is under the threshold
    assert found.loc[0, "cand_id"] == "C1"
    assert found.loc[0, "sep_arcmin"] == pytest.approx(1.0, rel=1e-3)
    assert (found.loc[0, "z"], found.loc[0, "z_est"]) == (pytest.approx(0.10), pytest.approx(0.11))
    assert found.loc[0, "richness_est"] == pytest.approx(22.0)
    assert found.loc[1:, "z_est"].isna().all()
    # a lower threshold finds INJ2 too
    low = audit.match_injected(injected_table(), candidates_table(), 0.2, RADIUS)
    assert list(low["found"]) == [True, True, False]
    assert low.loc[1, "z_est"] == pytest.approx(0.19)


def test_match_injected_without_candidates_or_injections():
    none = audit.match_injected(injected_table(), None, THRESHOLD, RADIUS)
    assert not none["found"].any() and len(none) == 3
    empty = audit.match_injected(injected_table()[:0], candidates_table(), THRESHOLD, RADIUS)
    assert len(empty) == 0


def test_candidate_kinds_and_counts():
    kinds = audit.candidate_kinds(candidates_table(), injected_table(), THRESHOLD, RADIUS)
    assert list(kinds) == ["injected", "known", "new"]  # C1, C3, C4 (C2 under the threshold)
    counts = audit.candidate_counts(candidates_table(), injected_table(), THRESHOLD, RADIUS)
    assert counts.to_dict() == {"n_candidates": 3, "n_known": 1, "n_new": 1, "n_injected": 1}
    with_bcg = audit.candidate_counts(candidates_table(on_bcg=True), None, THRESHOLD, RADIUS)
    assert with_bcg["n_on_bcg"] == 2 and with_bcg["n_new"] == 2  # no injected table: C1 counts as new


def tiles_table(ra, dec, own_arcsec: float = 440.0, meta: bool = True) -> Table:
    grid = StripGrid(own_arcsec)
    index = np.unique(grid.owner(np.asarray(ra, float), np.asarray(dec, float)))
    cra, cdec = grid.centres(index)
    table = Table(
        {"tile": [f"t{i}" for i in index], "index": index, "ra": cra, "dec": cdec, "shard": np.zeros(len(index), int)}
    )
    if meta:
        table.meta["own_arcsec"] = own_arcsec
    return table


def test_plot_footprint_cells_injected_and_candidates():
    ra, dec = np.meshgrid(np.linspace(9.8, 12.6, 8), np.linspace(-0.6, 0.6, 5))
    tiles = tiles_table(ra.ravel(), dec.ravel())
    fig = audit.plot_footprint(tiles, injected_table(), candidates_table(), THRESHOLD, RADIUS)
    ax = fig.axes[0]
    cells = [c for c in ax.collections if isinstance(c, PatchCollection)]
    assert len(cells) == 1 and len(cells[0].get_paths()) == len(tiles)
    assert scatter_points(fig) == 3 + 3  # every injected cluster, the three candidates at the threshold
    labels = ax.get_legend_handles_labels()[1]
    assert "injected, found (1)" in labels and "injected, missed (2)" in labels
    assert "candidate, known (1)" in labels and "candidate, new (1)" in labels
    assert ax.xaxis_inverted()


def test_plot_footprint_tile_centres_and_ra_wrap():
    tiles = tiles_table([359.8, 359.95, 0.05, 0.2], [0.0, 0.0, 0.0, 0.0], meta=False)
    cands = candidates_table()
    cands["ra"] = [359.9, 359.9, 0.1, 0.15]
    fig = audit.plot_footprint(tiles, None, cands, THRESHOLD, RADIUS)
    ax = fig.axes[0]
    assert not [c for c in ax.collections if isinstance(c, PatchCollection)]
    assert scatter_points(fig) == len(tiles) + 3
    lo, hi = sorted(ax.get_xlim())
    assert hi - lo < 1  # one patch across RA 0, not 0 and 360 apart


def completeness_table() -> Table:
    return Table(
        rows=[
            (0.05, 0.2, 10.0, 40.0, 2, 1, 0.5, 0.2, 0.8),
            (0.05, 0.2, 40.0, 150.0, 0, 0, np.nan, np.nan, np.nan),
            (0.2, 0.35, 10.0, 40.0, 1, 0, 0.0, 0.0, 0.5),
            (0.2, 0.35, 40.0, 150.0, 3, 3, 1.0, 0.7, 1.0),
        ],
        names=("z_lo", "z_hi", "richness_lo", "richness_hi", "n_injected", "n_found", "completeness", "ci_lo", "ci_hi"),
    )


def test_plot_completeness_map():
    fig = audit.plot_completeness_map(completeness_table())
    ax = fig.axes[0]
    assert sorted(t.get_text() for t in ax.texts) == ["0/0", "0/1", "1/2", "3/3"]
    mesh = ax.collections[0].get_array()
    assert mesh.size == 4 and int(np.ma.count_masked(mesh)) == 1  # the empty cell is blank
    assert sorted(np.ma.compressed(mesh)) == pytest.approx([0.0, 0.5, 1.0])
    assert audit.plot_completeness_map(None) is None


def test_plot_purity():
    table = Table(
        {
            "threshold": [0.3, 0.5, 0.7],
            "n_candidates": [10, 6, 3],
            "n_real": [6, 5, 3],
            "purity": [0.6, 0.8333, 1.0],
            "ci_lo": [0.45, 0.65, 0.7],
            "ci_hi": [0.75, 0.93, 1.0],
            "purity_all": [0.6, 0.8333, 1.0],
        }
    )
    fig = audit.plot_purity(table, THRESHOLD)
    ax = fig.axes[0]
    (purity,) = [c for c in ax.containers if c.get_label() == "purity"]
    assert len(purity.lines[0].get_xdata()) == 3  # one point per threshold, with its interval
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert "real / all (groups as false)" in lines
    assert any(label.startswith("threshold") for label in lines)
    assert audit.plot_purity(None) is None
    # with the natural-density columns, that purity leads and the injected-density one is the aside
    table["natural_purity"] = [0.2, 0.4, np.nan]
    table["natural_ci_lo"] = [0.1, 0.25, np.nan]
    table["natural_ci_hi"] = [0.35, 0.6, np.nan]
    labels = [c.get_label() for c in audit.plot_purity(table, THRESHOLD).axes[0].containers]
    assert labels == ["purity at the sky's own density", "aside: purity at the injected density"]


def test_plot_recovery_skips_flagged_rows():
    frame = pd.DataFrame({"z_cat": [0.1, 0.2, 0.3], "z_est": [0.11, np.nan, 0.29], "lam": [20, 30, 40.0]})
    frame["lam_est"] = [25.0, 28.0, np.nan]
    fig = audit.plot_recovery({"test": frame, "absent": None}, z=("z_cat", "z_est"), richness=("lam", "lam_est"))
    z_ax, lam_ax = fig.axes
    assert sum(len(c.get_offsets()) for c in z_ax.collections) == 2
    assert sum(len(c.get_offsets()) for c in lam_ax.collections) == 2
    assert lam_ax.get_xscale() == "log"
    assert "1:1" in z_ax.get_legend_handles_labels()[1]
    fig.canvas.draw()


def test_plot_recovery_draws_with_no_estimates():
    """A run whose sets hold no finite estimate (a tiny CI run) still draws: no log axis on nothing."""
    frame = pd.DataFrame({"z_cat": [0.1], "z_est": [np.nan], "lam": [20.0], "lam_est": [np.nan]})
    fig = audit.plot_recovery({"test": frame}, z=("z_cat", "z_est"), richness=("lam", "lam_est"))
    fig.canvas.draw()
    assert fig.axes[1].get_xscale() == "linear"


def test_redshift_metrics_and_flag_counts():
    summary = {
        "sets": {
            "test": {
                "n_detections": 10,
                "n_recovered_clusters": 8,
                "redshift": {"sigma_nmad": 0.01, "sigma_nmad_ci": [0.005, 0.015], "bias": 0.002},
                "richness": {"scatter_log10": 0.2, "slope": 0.9},
            }
        }
    }
    metrics = audit.redshift_metrics(summary)
    assert list(metrics["set"]) == ["test"]
    assert metrics.loc[0, "sigma_z_nmad"] == "0.0100 [0.0050, 0.0150]"
    assert metrics.loc[0, "outlier_fraction"] == ""
    flags = audit.flag_counts({"search": candidates_table().to_pandas(), "none": None})
    assert flags.loc[("z_flag", "ok"), "search"] == 3
    assert flags.loc[("richness_flag", "no_redshift"), "search"] == 1


def test_read_any_keeps_meta_and_text_helpers(tmp_path):
    assert audit.read_any(tmp_path / "absent.ecsv") is None
    path = tmp_path / "injected.ecsv"
    injected_table().write(path, format="ascii.ecsv")
    back = audit.read_any(path)
    assert list(back.meta["z_edges"]) == pytest.approx([0.05, 0.2, 0.35])
    block = {"n_found": 7, "n_injected": 12, "completeness": 0.58333, "ci_lo": 0.44, "ci_hi": None}
    assert audit.fraction_text(block, "completeness", "n_found", "n_injected") == "7 of 12: 0.583 [0.440, —]"
    groups = audit.groups_table({"richness_edges": [0, 5, 10], "n_detected": [1, 2], "n_in_area": [4, 6]})
    assert list(groups["richness_hi"]) == [5, 10] and audit.groups_table(None) is None
