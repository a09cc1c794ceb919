"""The VizieR path, offline: astroquery's network layer answers with VizieR-layout VOTables."""

from __future__ import annotations

import numpy as np
import pytest

from deepcee.catalogue import select as cat
from deepcee.core.errors import DeepCeeError
from vizier_fake import REDMAPPER_FIELDS, WHL12_FIELDS, FakeVizier, redmapper_rows, votable_bytes, whl12_rows

WHL12 = "J/ApJS/199/34/table1"
RM = "J/ApJS/224/1/cat_dr8"


@pytest.fixture
def fake_vizier(monkeypatch, resources):
    fake = FakeVizier(
        {
            WHL12: votable_bytes(WHL12, WHL12_FIELDS, whl12_rows(resources)),
            RM: votable_bytes(RM, REDMAPPER_FIELDS, redmapper_rows(resources)),
        }
    )
    return fake.install(monkeypatch)


def settings(tmp_path, retries=3):
    return cat.VizierSettings(cache_dir=tmp_path / "cache", retries=retries, backoff_s=0.0, timeout_s=5)


def test_fetch_parses_and_caches(fake_vizier, tmp_path):
    table = cat.fetch_vizier(WHL12, settings(tmp_path))
    assert len(table) == 60 and "RL*" in table.colnames and "Other" in table.colnames
    assert table.meta["vizier_catalog"] == WHL12
    assert cat.cache_path(WHL12, tmp_path / "cache").exists()
    assert "-source" in str(fake_vizier.calls[0][2]) or WHL12 in str(fake_vizier.calls[0][2])
    n_calls = len(fake_vizier.calls)
    again = cat.fetch_vizier(WHL12, settings(tmp_path))  # from the cache: no request
    assert len(fake_vizier.calls) == n_calls and len(again) == len(table)


def test_whl12_normalises_and_selects(fake_vizier, tmp_path):
    raw = cat.fetch_vizier(WHL12, settings(tmp_path))
    whl = cat.normalise_whl12(raw)
    assert whl["source"][0] == "whl12-vizier"
    assert cat.has_bcg_magnitudes(whl)
    sample, counts = cat.apply_cuts(whl, cat.Cuts())
    assert counts[1]["n"] == 48  # 60 rows, every fifth without an Abell counterpart
    assert np.all((sample["z"] > 0.1) & (sample["z"] < 0.2)) and np.all(sample["n_members"] >= 20)
    assert np.all(sample["dec"] > 0) and all(a.startswith("A") for a in sample["abell"])


def test_redmapper_vizier_normalises(fake_vizier, tmp_path):
    rm = cat.normalise_redmapper_vizier(cat.fetch_vizier(RM, settings(tmp_path)))
    assert len(rm) == 40 and rm["id"][0].startswith("RM") and not cat.has_bcg_magnitudes(rm)


def test_retries_then_succeeds(monkeypatch, resources, tmp_path):
    fake = FakeVizier({WHL12: votable_bytes(WHL12, WHL12_FIELDS, whl12_rows(resources, 5))}, fail_first=2)
    fake.install(monkeypatch)
    sleeps = []
    table = cat.fetch_vizier(WHL12, settings(tmp_path, retries=3), sleep=sleeps.append)
    assert len(table) == 5 and len(fake.calls) == 3 and len(sleeps) == 2


def test_unreachable_says_what_to_do(monkeypatch, tmp_path):
    fake = FakeVizier({}, fail_first=99)
    fake.install(monkeypatch)
    with pytest.raises(DeepCeeError) as err:
        cat.fetch_vizier(WHL12, settings(tmp_path, retries=2), sleep=lambda s: None)
    message = str(err.value)
    assert "after 2 tries" in message and "download_vizier" in message and "bundled" in message
    assert "\n" not in message
    assert not cat.cache_path(WHL12, tmp_path / "cache").exists()  # nothing half-written


def test_whl12_missing_column_is_named(fake_vizier, tmp_path):
    raw = cat.fetch_vizier(WHL12, settings(tmp_path))
    raw.remove_column("N200")
    with pytest.raises(DeepCeeError, match=r"whl12.ecsv: missing required column 'N200'"):
        cat.normalise_whl12(raw, "whl12.ecsv")


@pytest.mark.network
def test_real_vizier_whl12_has_the_expected_layout(tmp_path):
    """With the network: the real WHL12 table has the columns this code reads."""
    raw = cat.fetch_vizier(WHL12, cat.VizierSettings(tmp_path, retries=2, backoff_s=1, timeout_s=300))
    assert set(cat.WHL12_COLUMNS) <= set(raw.colnames)
