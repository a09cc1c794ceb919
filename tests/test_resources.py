"""Bundled real data: every file a PROVENANCE.md lists is there with the sha256 it states."""

from __future__ import annotations

import re
import shutil

import pytest

from deepcee.catalogue.select import read_abell_tsv, read_redmapper_bundled
from deepcee.core.bundled import check_bundled, provenance_records
from deepcee.core.errors import DamagedFileError
from deepcee.core.files import file_sha256


def test_provenance_checksums_hold(resources):
    """Each bundled file's sha256 is one of the sums its folder's PROVENANCE.md states."""
    checked = 0
    for provenance in sorted(resources.glob("*/PROVENANCE.md")):
        stated = set(re.findall(r"\b[0-9a-f]{64}\b", provenance.read_text()))
        assert stated, f"{provenance}: states no sha256"
        for data_file in sorted(provenance.parent.iterdir()):
            if data_file.name != "PROVENANCE.md":
                assert file_sha256(data_file) in stated, f"{data_file} does not match its PROVENANCE.md sha256"
                checked += 1
    assert checked >= 8


def test_every_bundled_file_has_a_provenance_record_it_matches(resources):
    """The workflow's check (deepcee.core.bundled) finds a size and sha256 for every bundled file in
    its folder's PROVENANCE.md, whatever form the folder's record takes, and each file matches it."""
    for provenance in sorted(resources.glob("*/PROVENANCE.md")):
        records = provenance_records(provenance.parent)
        files = {p.name for p in provenance.parent.iterdir() if p.name != provenance.name}
        assert set(records) == files, provenance
        for name, (size, _) in records.items():
            assert (provenance.parent / name).stat().st_size == size
            check_bundled(provenance.parent / name)


def test_cut_or_edited_bundled_catalogue_is_refused(resources, tmp_path):
    """An Abell file cut to 20 kB still parses, into a smaller sample: its reader refuses it, naming
    the file, the sizes and the way out; an edit of the same size by its sha256."""
    folder = shutil.copytree(resources / "abell-aco-vii110a", tmp_path / "abell-aco-vii110a")
    north, south = folder / "abell_north.tsv", folder / "abell_south.tsv"
    assert len(read_abell_tsv([north, south])) == 2712 + 1364
    north.write_bytes(north.read_bytes()[:20_000])
    with pytest.raises(DamagedFileError) as err:
        read_abell_tsv([north, south])
    message = str(err.value)
    assert message.startswith(f"{north}: bundled file damaged or replaced: it has 20,000 bytes, not the 72,085 that ")
    assert f"{folder / 'PROVENANCE.md'} records; restore it from git (git checkout -- {north})" in message
    shutil.copy2(resources / "abell-aco-vii110a" / "abell_north.tsv", north)
    text = south.read_bytes()
    south.write_bytes(text.replace(b"\t", b" ", 1))  # same size, other bytes
    with pytest.raises(DamagedFileError, match=r"abell_south.tsv: .* it has sha256 [0-9a-f]{64}, not the 6d285199"):
        read_abell_tsv([north, south])
    redmapper = shutil.copytree(resources / "redmapper-sdss-dr8-v5.10", tmp_path / "rm") / "sdss_redmapper.csv.gz"
    redmapper.write_bytes(redmapper.read_bytes()[:-10])
    with pytest.raises(DamagedFileError, match="sdss_redmapper.csv.gz: .* 1,175,123 bytes, not the 1,175,133"):
        read_redmapper_bundled(redmapper)
