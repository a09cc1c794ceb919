"""The Wilson score interval of a fraction, the one binomial interval the project quotes
(completeness and purity of the search, the real-sky controls' share of views with a box)."""

from __future__ import annotations

import numpy as np


def wilson(k, n, level: float):
    """The Wilson interval at ``level`` of k successes in n (astropy's ``binom_conf_interval``),
    NaN where n is 0: arrays give arrays, scalars floats."""
    from astropy.stats import binom_conf_interval

    k_arr, n_arr = np.asarray(k), np.asarray(n)
    ci = binom_conf_interval(k_arr, np.maximum(n_arr, 1), confidence_level=float(level), interval="wilson")
    lo, hi = np.where(n_arr > 0, ci[0], np.nan), np.where(n_arr > 0, ci[1], np.nan)
    return (float(lo), float(hi)) if lo.ndim == 0 else (lo, hi)
