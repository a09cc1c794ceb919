"""SDSS spectroscopic redshifts for the paper profile's case studies, offline on an answer in the service's layout."""

import numpy as np
import pytest
from astropy.table import Table

from deepcee.core.errors import DeepCeeError
from deepcee.evaluate import sdss_redshifts as sr
from deepcee.images.mock.render import TRUTH_COLUMNS

# What SDSS.query_region(..., spectro=True, photoobj_fields=['ra', 'dec', 'objid'],
# specobj_fields=['z', 'class']) returns: one row per spectrum, these columns.
ANSWER_CSV = """ra,dec,objid,z,class
227.7337,5.7443,1237655744017678537,0.07734,GALAXY
227.7402,5.7611,1237655744017678601,0.07911,GALAXY
227.7190,5.7302,1237655744017678412,0.02310,GALAXY
227.7551,5.7208,1237655744017678990,0.00011,STAR
227.7015,5.7810,1237655744017679104,0.21450,GALAXY
227.7460,5.7495,1237655744017678644,0.35120,QSO
"""


def _answer():
    return Table.read(ANSWER_CSV, format="ascii.csv")


def _labels():
    return Table(
        rows=[
            ("A2029_v0", "A2029", 227.7337, 5.7443, 0.0773, "test", False),
            ("T_v0", "T", 10.0, 0.0, 0.15, "train", False),
        ],
        names=("view", "cluster_id", "ra", "dec", "z", "split", "flipped"),
    )


def test_answer_becomes_truth_rows_and_is_cached(tmp_path):
    calls = []

    def query(ra, dec, width):
        calls.append((ra, dec, width))
        return _answer()

    cfg = {"cache_dir": str(tmp_path / "cache"), "width_arcsec": 1400.0}
    t = sr.truth_from_sdss(_labels(), tmp_path / "truth.ecsv", cfg, query=query)
    assert calls == [(227.7337, 5.7443, 1400.0)]  # test views only; the square centred on the cluster
    assert list(t.colnames) == list(TRUTH_COLUMNS) and set(t["view"]) == {"A2029_v0"}
    assert list(t["member"]) == ["target", "target", "foreground", "star", "field", "field"]
    assert t["z"][4] == pytest.approx(0.2145)
    written = Table.read(tmp_path / "truth.ecsv", format="ascii.ecsv")
    assert len(written) == 6 and written.meta["source"] == "sdss_spectra"

    def offline(*_):
        raise AssertionError("a cached field must not be queried again")

    again = sr.truth_from_sdss(_labels(), tmp_path / "truth2.ecsv", cfg, query=offline)
    assert list(again["member"]) == list(t["member"])


def test_retries_with_backoff_then_succeeds(tmp_path):
    tries, slept = [], []

    def flaky(ra, dec, width):
        tries.append(1)
        if len(tries) < 3:
            raise ConnectionError("Remote end closed connection")
        return _answer()

    t = sr.spec_redshifts(1.0, 2.0, cache_dir=tmp_path, retries=4, backoff_s=2.0, query=flaky, sleep=slept.append)
    assert len(t) == 6 and slept == [2.0, 4.0]


def test_gives_up_with_one_line_and_caches_nothing(tmp_path):
    def down(*_):
        raise TimeoutError("timed out")

    with pytest.raises(DeepCeeError) as err:
        sr.spec_redshifts(1.0, 2.0, cache_dir=tmp_path, retries=3, query=down, sleep=lambda s: None, label="A1_v0")
    assert "\n" not in str(err.value) and "A1_v0" in str(err.value) and "3 tries" in str(err.value)
    assert not list(tmp_path.glob("*.ecsv"))


def test_nothing_found_and_bad_answers(tmp_path):
    assert len(sr.spec_redshifts(1.0, 2.0, cache_dir=tmp_path, query=lambda *a: None)) == 0
    with pytest.raises(DeepCeeError, match="no column"):
        sr.spec_redshifts(3.0, 2.0, cache_dir=tmp_path, query=lambda *a: Table({"ra": [1.0], "dec": [2.0]}))


def test_membership_window():
    m = sr.membership(np.array([0.100, 0.1105, 0.112, 0.03, 0.0005]), ["GALAXY"] * 4 + ["GALAXY"], 0.1, dz=0.01)
    assert list(m) == ["target", "target", "field", "foreground", "star"]
