"""Bundled real data: every file a PROVENANCE.md lists is there with the sha256 it states."""

from __future__ import annotations

import re

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
