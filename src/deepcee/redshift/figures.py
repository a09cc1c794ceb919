"""The stage's two figures: estimated against catalogue redshift and richness, per detection set."""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import NullFormatter, ScalarFormatter

from deepcee.core.figures import new_figure, save_figure

LABELS = {"test": "test set", "redmapper": "redMaPPer set"}
MARKERS = {"test": ("o", "C0"), "redmapper": ("s", "C3")}


def _fmt(value, spec: str) -> str:
    value = float(value)
    return "n/a" if not np.isfinite(value) else format(value, spec)


def _primary(table):
    if not len(table):
        return table
    return table[np.asarray(table["primary"], dtype=bool)]


def plot_redshift(tables: dict, summary: dict, *paths) -> None:
    """z_est against z_cat (top) and Δz/(1+z) (bottom); missing estimates counted in the legend."""
    fig, (ax, bx) = new_figure(2, 1, figsize=(3.6, 4.6), sharex=True, gridspec_kw={"height_ratios": [3, 1.3]})
    lo, hi = np.inf, -np.inf
    for name, table in tables.items():
        prim = _primary(table)
        zc = np.asarray(prim["z_cat"], dtype=float)
        ze = np.asarray(prim["z_est"], dtype=float)
        ok = np.isfinite(zc) & np.isfinite(ze)
        m = summary.get("sets", {}).get(name, {}).get("redshift", {})
        marker, colour = MARKERS.get(name, ("^", "C2"))
        label = (
            f"{LABELS.get(name, name)}: {int(ok.sum())}, σ {_fmt(m.get('sigma_nmad', np.nan), '.3f')}, "
            f"{int((~np.isfinite(ze)).sum())} missing"
        )
        ax.scatter(zc[ok], ze[ok], s=10, marker=marker, color=colour, alpha=0.8, label=label)
        bx.scatter(zc[ok], (ze[ok] - zc[ok]) / (1 + zc[ok]), s=8, marker=marker, color=colour, alpha=0.8)
        if ok.any():
            lo, hi = min(lo, zc[ok].min(), ze[ok].min()), max(hi, zc[ok].max(), ze[ok].max())
    if not np.isfinite(lo):
        lo, hi = 0.05, 0.25
    pad = 0.02
    line = np.array([lo - pad, hi + pad])
    ax.plot(line, line, color="0.4", lw=0.8)
    out = float(summary.get("outlier_threshold", 0.05))
    ax.fill_between(line, line - out * (1 + line), line + out * (1 + line), color="0.85", zorder=0, lw=0)
    ax.set_xlim(*line)
    ax.set_ylim(*line)
    ax.set_ylabel(r"$z_{\rm est}$ (red sequence)")
    ax.legend(loc="upper left", frameon=False, fontsize=6.5)
    bx.axhline(0, color="0.4", lw=0.8)
    for s in (-out, out):
        bx.axhline(s, color="0.6", lw=0.6, ls="--")
    bx.set_xlabel(r"$z_{\rm cat}$")
    bx.set_ylabel(r"$\Delta z/(1+z)$")
    save_figure(fig, *paths)


def plot_richness(tables: dict, summary: dict, *paths) -> None:
    """richness_est against λ on log axes, with the one-to-one line."""
    fig, ax = new_figure(figsize=(3.6, 3.4))
    lo, hi = np.inf, -np.inf
    for name, table in tables.items():
        prim = _primary(table)
        lam = np.asarray(prim["lambda_cat"], dtype=float)
        est = np.asarray(prim["richness_est"], dtype=float)
        ok = np.isfinite(lam) & np.isfinite(est) & (lam > 0) & (est > 0)
        m = summary.get("sets", {}).get(name, {}).get("richness", {})
        marker, colour = MARKERS.get(name, ("^", "C2"))
        label = (
            f"{LABELS.get(name, name)}: {int(ok.sum())}, {_fmt(m.get('scatter_log10', np.nan), '.2f')} dex, "
            f"{int((~np.isfinite(est)).sum())} missing"
        )
        ax.scatter(lam[ok], est[ok], s=10, marker=marker, color=colour, alpha=0.8, label=label)
        if ok.any():
            lo, hi = min(lo, lam[ok].min(), est[ok].min()), max(hi, lam[ok].max(), est[ok].max())
    if not np.isfinite(lo):
        lo, hi = 10.0, 200.0
    line = np.array([lo / 1.3, hi * 1.3])
    ax.plot(line, line, color="0.4", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = [t for t in (5, 10, 20, 30, 50, 100, 200, 300, 500) if line[0] <= t <= line[1]]
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_ticks(ticks)
        axis.set_major_formatter(ScalarFormatter())
        axis.set_minor_formatter(NullFormatter())
    ax.set_xlim(*line)
    ax.set_ylim(*line)
    ax.set_xlabel(r"$\lambda$ (redMaPPer)")
    ax.set_ylabel(r"richness$_{\rm est}$")
    ax.legend(loc="upper left", frameon=False, fontsize=6.5)
    save_figure(fig, *paths)
