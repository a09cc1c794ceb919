"""Bundled real data: every file a PROVENANCE.md lists is there with the sha256 it states."""

from __future__ import annotations

import re

from deepcee.files import file_sha256


def test_provenance_checksums_hold(resources):
    checked = 0
    for provenance in sorted(resources.glob("*/PROVENANCE.md")):
        text = provenance.read_text()
        for data_file in sorted(provenance.parent.iterdir()):
            if data_file.name == "PROVENANCE.md":
                continue
            pattern = re.escape(data_file.name) + r"`?[^\n]*?([0-9a-f]{64})"
            match = re.search(pattern, text)
            if match is None:  # a single-file folder states the sum on its own line
                match = re.search(r"sha256 `?([0-9a-f]{64})", text)
            assert match, f"{provenance}: no sha256 for {data_file.name}"
            assert file_sha256(data_file) == match.group(1), f"{data_file} does not match its PROVENANCE sha256"
            checked += 1
    assert checked >= 3
