"""Shared fixtures: the repository root and the bundled real data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RESOURCES = REPO / "resources"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def resources() -> Path:
    return RESOURCES


def pytest_collection_modifyitems(config, items):
    """Tests that need the network are skipped unless DEEPCEE_NETWORK=1."""
    if os.environ.get("DEEPCEE_NETWORK") == "1":
        return
    skip = pytest.mark.skip(reason="needs the network (set DEEPCEE_NETWORK=1 to run)")
    for item in items:
        if "network" in item.keywords:
            item.add_marker(skip)
