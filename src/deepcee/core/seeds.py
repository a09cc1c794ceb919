"""Random generators keyed by (seed, stage, item), so results never depend on job order."""

from __future__ import annotations

import hashlib

import numpy as np


def _key_to_int(key: object) -> int:
    return int.from_bytes(hashlib.sha256(str(key).encode()).digest()[:8], "little")


def rng(seed: int, stage: str, *keys: object) -> np.random.Generator:
    """A numpy Generator for one stage and item (e.g. a cluster id or view name).

    Built from ``numpy.random.SeedSequence([seed, hash(stage), hash(key)...])``: the
    same (seed, stage, keys) always gives the same stream, on any machine, in any
    order, in any process.
    """
    entropy = [int(seed), _key_to_int(stage)] + [_key_to_int(k) for k in keys]
    return np.random.default_rng(np.random.SeedSequence(entropy))


def int_seed(seed: int, stage: str, *keys: object) -> int:
    """A 63-bit integer seed for libraries that want one (GalSim, torch)."""
    return int(rng(seed, stage, *keys).integers(1, 2**63 - 1))
