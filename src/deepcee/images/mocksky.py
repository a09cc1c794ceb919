"""A GalSim mock of SDSS g, r, i imaging around real clusters (docs/design.md §4).

Every number below cites its source; "MN §k" refers to the numbered section of
``docs/mock-numbers.md``, which gives the publication, page and, for the few STAND-IN
values, why they were chosen. Distances and sizes use the project cosmology (``deepcee.core.cosmology.COSMO``,
flat LCDM H0 = 71, Om = 0.27, the paper's); docs/mock-numbers.md quotes H0 = 70, Om = 0.3,
a 1-2 per cent difference in the derived distances that is far below the stand-ins'
own uncertainty.

What one view holds (all positions from the view's WCS):
  * the cluster: a BCG exactly at the catalogue RA/Dec (the label), red-sequence
    members (and a blue fraction) drawn from a Schechter LF normalised to the
    catalogue richness, placed on a projected NFW profile within R200;
    the cluster is drawn from ``rng(seed, "mock-cluster", cluster_id)`` so every
    view of one cluster shows the same cluster;
  * the field: galaxies from SDSS number counts with a red/blue mix, redshifts,
    colours and sizes; stars from SDSS high-latitude star counts;
  * confusers: uncatalogued groups at other redshifts, bright (saturated) stars,
    big foreground galaxies;
  * SDSS-like PSF (Moffat), sky-subtracted nanomaggy pixels with the SDSS noise
    model (sky + source Poisson + dark variance), or a real SDSS blank field
    (``background: sdss_blank``) with only the cluster injected.

Speed: galaxies brighter than ``exact_mag`` (and every large one) are drawn exactly
(GalSim Sersic/DeVaucouleurs/Exponential x Moffat, FFT incl. the pixel); fainter,
PSF-dominated ones as a sheared Moffat of the convolved width sampled in real space
(GalSim's ``method='no_pixel'`` on the native 0.396" grid, then binned, which integrates
the pixel), evaluated for all of them at once with numpy (``Canvas.flush``), as are the
stars. Each object is drawn once (unit flux) and added to g, r, i with its
three fluxes: one PSF shape for the three bands (per-band FWHM differences of
~0.2", MN §1, are ignored). docs/mock-numbers.md ("Notes for the renderer") has the numbers.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import galsim
import numpy as np

from deepcee.core.contracts import table_contract
from deepcee.core.cosmology import COSMO, SDSS_PIXEL_SCALE_ARCSEC, distance_table, kpc_per_arcsec
from deepcee.core.errors import DeepCeeError
from deepcee.core.seeds import int_seed, rng
from deepcee.images.fits import BANDS, make_wcs, write_view_fits

# --------------------------------------------------------------------------- SDSS constants (MN §1)

#: Median sky flux, nMgy / arcsec^2 (DR8 ``skyflux``, sdss3.org/dr8/algorithms/image_quality.php; MN §1).
SKY_NMGY_ARCSEC2 = {"g": 1.7, "r": 4.2, "i": 8.1}
#: Typical CCD gain, e-/DN (DR9 frame data model table, typical over camcols; MN §1).
GAIN = {"g": 3.9, "r": 4.7, "i": 5.1}
#: Dark variance incl. read noise, DN^2 per native pixel (DR9 frame data model, typical camcol; MN §1).
DARK_VARIANCE = {"g": 1.4, "r": 1.1, "i": 6.0}
#: nMgy per DN: medians of the calibration vector (HDU1) of the bundled real frames,
#: run 2126 camcol 1 (resources/sdss-frames-run2126-camcol1-gri): g 0.00327, r 0.00479, i 0.00668.
CALIB_NMGY_PER_DN = {"g": 0.00327, "r": 0.00479, "i": 0.00668}
#: Saturation: SDSS CCDs saturate near 65535 DN (MN §1, flags_detail HAS_SATUR_DN); per native pixel,
#: after the sky (~140 DN) is subtracted we cap at (60000 DN) x calib.
SATURATION_DN = 60000.0
#: SDSS photometric zero point: m = 22.5 - 2.5 log10(f / nMgy) (MN §1, sdss3 dr9 magnitudes).
ZP = 22.5

#: Field LF M* (r, h=0.7): -20.44 + 5 log10(0.7) = -21.21 (Blanton et al. 2003; MN §2, §8).
M_STAR_R = -21.21
#: Cluster LF faint slope, all SDSS bands (Popesso et al. 2005; MN §5).
ALPHA_CLUSTER = -1.25


def flux_nmgy(mag):
    return 10.0 ** (-0.4 * (np.asarray(mag, dtype=float) - ZP))


# --------------------------------------------------------------------------- colours, distances, sizes


def red_sequence(z):
    """Observed (g-r, r-i) of the red sequence at z.

    STAND-IN: the DES red-sequence polynomials of J. DeRose & E. Rykoff (redMaPPer DES, in
    LSSTDESC/cosmodc2 ``mock_diagnostics``; MN §4), g-r ~ 0.92/1.08/1.23 at z = 0.1/0.15/0.2.
    Clipped to z <= 0.7, the range they were fitted over.
    """
    z = np.clip(np.asarray(z, dtype=float), 0.0, 0.7)
    gr = 0.48 + 4.98 * z - 6.63 * z**2 + 2.91 * z**3
    ri = 0.49 - 1.42 * z + 5.66 * z**2 - 3.54 * z**3
    return gr, ri


def k_correction_r(z, gr):
    """r-band K-correction from observed g-r (Chilingarian, Melchior & Zolotukhin 2010; MN §8)."""
    a = [
        [0, 0, 0, 0],
        [1.83285, -2.71446, 4.97336, -3.66864],
        [-19.7595, 10.5033, 18.8196, 6.07785],
        [33.6059, -120.713, -49.299, 0],
        [144.371, 216.453, 0, 0],
        [-295.39, 0, 0, 0],
    ]
    z = np.asarray(z, dtype=float)
    gr = np.asarray(gr, dtype=float)
    k = np.zeros(np.broadcast(z, gr).shape)
    for i in range(1, 6):
        for j in range(4):
            if a[i][j]:
                k = k + a[i][j] * z**i * gr**j
    return k


def distmod(z):
    zg, dm, _ = distance_table()
    return np.interp(z, zg, dm)


def shen_r50_kpc(M_r, early, gen: np.random.Generator):
    """Half-light radius (kpc) from Shen et al. 2003 eqs 14-16 (h = 0.7; MN §6), with scatter."""
    M = np.asarray(M_r, dtype=float)
    early = np.asarray(early, dtype=bool)
    log_early = -0.4 * 0.60 * M - 4.63
    a, b, g, M0 = 0.21, 0.53, -1.31, -20.52
    log_late = -0.4 * a * M + (b - a) * np.log10(1 + 10 ** (-0.4 * (M - M0))) + g
    sig = 0.25 + (0.48 - 0.25) / (1 + 10 ** (-0.8 * (M - M0)))  # sigma_lnR, eq 16
    ln_r = np.where(early, log_early, log_late) * np.log(10) + gen.normal(0, 1, M.shape) * sig
    return np.exp(ln_r)


def axis_ratio(early, gen: np.random.Generator):
    """Projected axis ratios.

    Early types: STAND-IN normal(0.75, 0.12) clipped to [0.4, 1] (bright deV galaxies have mean
    intrinsic C/A ~ 0.66-0.69, Vincent & Ryden 2005; MN §6). Disks: random inclination of an
    oblate disk with thickness/diameter 0.21 (Padilla & Strauss 2008; MN §6).
    """
    early = np.asarray(early, dtype=bool)
    q_e = np.clip(gen.normal(0.75, 0.12, early.shape), 0.4, 1.0)
    cosi = gen.uniform(0, 1, early.shape)
    q_d = np.sqrt(cosi**2 + 0.21**2 * (1 - cosi**2))
    return np.where(early, q_e, q_d)


# --------------------------------------------------------------------------- object lists


class Objects:
    """Columns of objects to draw; positions in arcsec east/north of the image centre."""

    FIELDS = ("east", "north", "mag_r", "gr", "ri", "kind", "n", "hlr", "q", "beta", "z")
    KINDS = {"star": 0, "dev": 1, "exp": 2, "sersic": 3}

    def __init__(self):
        self.cols = {f: [] for f in self.FIELDS}

    def add(self, **cols):
        size = len(np.atleast_1d(cols["mag_r"]))
        for f in self.FIELDS:
            self.cols[f].append(np.broadcast_to(np.asarray(cols[f], dtype=float), (size,)).copy())

    def arrays(self):
        return {f: (np.concatenate(v) if v else np.zeros(0)) for f, v in self.cols.items()}


def _schechter_mags(gen, n_bright, m_star, m_bright, m_faint, alpha=ALPHA_CLUSTER, bright_limit=1.75):
    """Magnitudes from a Schechter LF; ``n_bright`` of them brighter than m* + 1.75 (0.2 L*)."""
    grid = np.linspace(m_bright, m_faint, 600)
    x = 10 ** (-0.4 * (grid - m_star))
    pdf = x ** (alpha + 1) * np.exp(-x)
    cdf = np.cumsum(pdf)
    cdf /= cdf[-1]
    frac_bright = np.interp(m_star + bright_limit, grid, cdf)
    n_total = int(round(n_bright / max(frac_bright, 1e-6)))
    return np.interp(gen.uniform(0, 1, n_total), cdf, grid)


def _projected_nfw_radii(gen, n, r_max, rs):
    """Projected radii (same units as r_max) from an NFW surface density truncated at r_max."""
    if n <= 0:
        return np.zeros(0)
    r = np.linspace(1e-3 * rs, r_max, 800)
    x = r / rs
    f = np.empty_like(x)
    lo, hi = x < 1 - 1e-6, x > 1 + 1e-6
    f[lo] = (1 - 2 / np.sqrt(1 - x[lo] ** 2) * np.arctanh(np.sqrt((1 - x[lo]) / (1 + x[lo])))) / (x[lo] ** 2 - 1)
    f[hi] = (1 - 2 / np.sqrt(x[hi] ** 2 - 1) * np.arctan(np.sqrt((x[hi] - 1) / (1 + x[hi])))) / (x[hi] ** 2 - 1)
    f[~(lo | hi)] = 1.0 / 3.0
    cdf = np.cumsum(f * r)
    cdf = (cdf - cdf[0]) / (cdf[-1] - cdf[0])
    return np.interp(gen.uniform(0, 1, n), cdf, r)


def r200_mpc(richness, z):
    """R200c (Mpc) from richness: Simet et al. 2017 M200m(lambda) (MN §7), treated as M200c
    (STAND-IN: the ~20% mass-definition difference changes R200 by ~6%), with
    R200 = [3 M / (4 pi 200 rho_c(z))]^(1/3)."""
    m200 = 10**14.344 * (np.maximum(richness, 1.0) / 40.0) ** 1.33 / 0.7  # Msun (h = 0.7)
    rho_c = COSMO.critical_density(z).to_value("Msun / Mpc3")
    return (3 * m200 / (4 * np.pi * 200 * rho_c)) ** (1 / 3)


@lru_cache(maxsize=8)
def _comoving_volume_cdf(z_lo: float, z_hi: float) -> tuple[np.ndarray, np.ndarray]:
    z = np.linspace(z_lo, z_hi, 400)
    dv = COSMO.differential_comoving_volume(z).value
    cdf = np.concatenate([[0.0], np.cumsum((dv[1:] + dv[:-1]) / 2 * np.diff(z))])
    return z, cdf / cdf[-1]


def volume_redshifts(gen, n: int, z_range) -> np.ndarray:
    """Redshifts of objects at a constant comoving number density: dN/dz proportional to dV_c/dz.

    Uncatalogued groups are drawn so (no evolution assumed); a redshift uniform in z would put
    ~15x too many of them below z = 0.08, where a group's members spread over a whole view.
    """
    z, cdf = _comoving_volume_cdf(float(z_range[0]), float(z_range[1]))
    return np.interp(gen.uniform(0, 1, int(n)), cdf, z)


def member_reach_arcsec(z, richness):
    """How far from its centre a cluster's (or group's) members reach, in arcsec: min(R200, R_lambda).

    Members are counted within R_lambda = 1.0 (lambda/100)^0.2 h^-1 Mpc (the redMaPPer richness
    aperture, Rykoff et al. 2014), which is where lambda members brighter than 0.2 L* live; their
    NFW profile is truncated at R200 where that is smaller. Vectorised: the one sky bounds every
    cluster's and group's reach with it before drawing any member.
    """
    z = np.asarray(z, dtype=float)
    lam = np.maximum(np.asarray(richness, dtype=float), 1.0)
    kpa = kpc_per_arcsec(z, tabulated=True)
    r200 = r200_mpc(lam, z) * 1000.0 / kpa
    r_lam = 1000.0 / 0.7 * (lam / 100.0) ** 0.2 / kpa
    return np.minimum(r200, r_lam)


def cluster_objects(
    gen,
    z,
    richness,
    m_faint,
    *,
    bcg_rmag=np.nan,
    member_scale=1.0,
    concentration=3.0,
    blue_fraction=0.2,
    bcg=True,
    centre=(0.0, 0.0),
    r_max_arcsec=None,
) -> Objects:
    """A cluster (or group) at redshift z: BCG at ``centre`` plus members.

    Members brighter than 0.2 L* (m* + 1.75) number Poisson(member_scale x richness) (the
    redMaPPer richness definition, Rykoff et al. 2014), the rest follow the Schechter LF with
    alpha = -1.25 (Popesso et al. 2005; MN §5) and M*_r = -21.21 (STAND-IN: the field M*;
    MN §5) down to ``m_faint``. Positions: projected NFW with galaxy concentration c = 3 (Lin,
    Mohr & Stanford 2004; MN §7) truncated at R200. Colours: red sequence at z with 0.05 mag
    (g-r) / 0.03 (r-i) scatter (MN §4 stand-in); a ``blue_fraction`` (STAND-IN 0.2,
    Butcher-Oemler-like) of members is 0.5 mag bluer in g-r.
    """
    objs = Objects()
    gr_rs, ri_rs = red_sequence(z)
    dm = float(distmod(z))
    kpa = float(kpc_per_arcsec(z, tabulated=True))
    k_red = float(k_correction_r(z, gr_rs))
    m_star = M_STAR_R + dm + k_red
    r200 = float(r200_mpc(richness, z)) * 1000.0 / kpa  # arcsec
    r_max = float(member_reach_arcsec(z, richness))
    r_max = r_max if r_max_arcsec is None else min(r_max, r_max_arcsec)
    n_bright = gen.poisson(member_scale * richness)
    mags = _schechter_mags(gen, n_bright, m_star, m_star - 2.0, m_faint)
    if bcg:
        # BCG: the catalogue's r magnitude when it has one, else M_r ~ N(-22.9, 0.43) (STAND-IN
        # range -22.5..-23.5 with the Hansen et al. 2009 sigma_logL = 0.17; MN §5), kept at least
        # 0.3 mag brighter than the brightest member (magnitude gap; MN §5 stand-in).
        if np.isfinite(bcg_rmag):
            m_bcg = float(bcg_rmag)
        else:
            m_bcg = float(np.clip(gen.normal(-22.9, 0.43), -24.0, -22.2)) + dm + k_red
        if len(mags):
            mags = np.where(mags < m_bcg + 0.3, m_bcg + 0.3 + gen.exponential(0.7, mags.shape), mags)
        M_bcg = m_bcg - dm - k_red
        # BCG size: Shen early-type relation x 1.5 (STAND-IN: BCG envelopes are more extended than
        # the early-type relation); Sersic n = 4-6 (MN §6 stand-in).
        r50 = float(shen_r50_kpc(np.array([M_bcg]), np.array([True]), gen)[0]) * 1.5
        objs.add(
            east=centre[0],
            north=centre[1],
            mag_r=m_bcg,
            gr=gr_rs + gen.normal(0, 0.03),
            ri=ri_rs + gen.normal(0, 0.02),
            kind=Objects.KINDS["sersic"],
            n=gen.uniform(4.0, 5.5),
            hlr=r50 / kpa,
            q=np.clip(gen.normal(0.78, 0.08), 0.55, 1.0),
            beta=gen.uniform(0, np.pi),
            z=z,
        )
    n = len(mags)
    if n:
        rad = _projected_nfw_radii(gen, n, r_max, r200 / concentration)
        phi = gen.uniform(0, 2 * np.pi, n)
        blue = gen.uniform(0, 1, n) < blue_fraction
        gr = gr_rs + gen.normal(0, 0.05, n) - np.where(blue, gen.uniform(0.4, 0.6, n), 0.0)
        ri = ri_rs + gen.normal(0, 0.03, n) - np.where(blue, gen.uniform(0.05, 0.12, n), 0.0)
        M = mags - dm - k_correction_r(z, gr)
        r50 = shen_r50_kpc(M, ~blue, gen) / kpa
        objs.add(
            east=centre[0] + rad * np.cos(phi),
            north=centre[1] + rad * np.sin(phi),
            mag_r=mags,
            gr=gr,
            ri=ri,
            kind=np.where(blue, Objects.KINDS["exp"], Objects.KINDS["dev"]),
            n=0.0,
            hlr=r50,
            q=axis_ratio(~blue, gen),
            beta=gen.uniform(0, np.pi, n),
            z=z,
        )
    return objs


def field_objects(gen, half_width_arcsec, m_faint, density_scale=1.0) -> Objects:
    """Field galaxies: r-band counts dN/dm = 3500 x 10^(0.45 (r - 21)) deg^-2 mag^-1 for 14 < r.

    This integrates to 3,380 deg^-2 at r < 21, the Yasuda et al. 2001 total for 12 < r < 21
    (MN §2); the 0.45 dex/mag slope is the MN §2 STAND-IN. Red fraction: STAND-IN falling from
    0.55 at r = 17 to 0.2 at r = 22 (cosmoDC2 SDSS model f_red ~ 0.5-0.9 for bright, ~0.2 for
    faint galaxies; MN §2). Redshift: STAND-IN z ~ N(0.06 + 0.07 (r - 16), 0.06), a crude
    apparent-magnitude - redshift relation, so colours, K-corrections and sizes are consistent.
    """
    objs = Objects()
    area_deg2 = (2 * half_width_arcsec / 3600.0) ** 2
    m_lo = 14.0
    slope = 0.45
    # N(m_lo < r < m_faint)
    norm = 3500.0 / (slope * np.log(10))
    n_mean = norm * (10 ** (slope * (m_faint - 21)) - 10 ** (slope * (m_lo - 21))) * area_deg2 * density_scale
    n = gen.poisson(n_mean)
    u_ = gen.uniform(0, 1, n)
    lo, hi = 10 ** (slope * (m_lo - 21)), 10 ** (slope * (m_faint - 21))
    mags = 21 + np.log10(lo + u_ * (hi - lo)) / slope
    z = np.clip(gen.normal(0.06 + 0.07 * (mags - 16), 0.06), 0.01, 1.2)
    f_red = np.clip(0.55 - 0.07 * (mags - 17), 0.2, 0.55)
    red = gen.uniform(0, 1, n) < f_red
    gr_rs, ri_rs = red_sequence(z)
    gr = gr_rs + gen.normal(0, 0.06, n) - np.where(red, 0.0, gen.uniform(0.4, 0.6, n))
    # Blue-cloud r-i ~ 0.25-0.35 (MN §4 stand-in), red r-i from the red sequence.
    ri = np.where(red, ri_rs + gen.normal(0, 0.04, n), gen.uniform(0.2, 0.38, n))
    M = mags - distmod(z) - k_correction_r(z, gr)
    r50 = shen_r50_kpc(M, red, gen) / kpc_per_arcsec(z, tabulated=True)
    objs.add(
        east=gen.uniform(-half_width_arcsec, half_width_arcsec, n),
        north=gen.uniform(-half_width_arcsec, half_width_arcsec, n),
        mag_r=mags,
        gr=gr,
        ri=ri,
        kind=np.where(red, Objects.KINDS["dev"], Objects.KINDS["exp"]),
        n=0.0,
        hlr=np.clip(r50, 0.05, 60.0),
        q=axis_ratio(red, gen),
        beta=gen.uniform(0, np.pi, n),
        z=z,
    )
    return objs


def star_objects(gen, half_width_arcsec, m_faint, density_scale=1.0, bright_per_deg2=20.0) -> Objects:
    """Stars: dN/dm = 1210 x 10^(0.15 (r - 22)) deg^-2 mag^-1 for 14 < r (STAND-IN from Chen et
    al. 2001's ~2,100 deg^-2 to g = 21 at |b| ~ 60 deg and a 0.15 dex/mag slope, giving ~3,500
    deg^-2 to r = 22; MN §3); plus ``bright_per_deg2`` saturated stars with 9 < r < 14 (STAND-IN
    10-30 deg^-2; MN §3). Colours: STAND-IN mix of halo turn-off stars (g-r ~ 0.35) and M dwarfs
    (g-r ~ 1.3, redder r-i).
    """
    objs = Objects()
    area = (2 * half_width_arcsec / 3600.0) ** 2
    slope, m_lo = 0.15, 14.0
    norm = 1210.0 / (slope * np.log(10))
    lo, hi = 10 ** (slope * (m_lo - 22)), 10 ** (slope * (m_faint - 22))
    n = gen.poisson(norm * (hi - lo) * area * density_scale)
    mags = 22 + np.log10(lo + gen.uniform(0, 1, n) * (hi - lo)) / slope
    n_b = gen.poisson(bright_per_deg2 * area)
    mags = np.concatenate([mags, gen.uniform(9.0, 14.0, n_b)])
    n = len(mags)
    dwarf = gen.uniform(0, 1, n) < 0.35
    gr = np.where(dwarf, gen.normal(1.3, 0.15, n), gen.normal(0.4, 0.12, n))
    ri = np.where(dwarf, gen.uniform(0.5, 1.5, n), 0.35 * gr + gen.normal(0, 0.04, n))
    objs.add(
        east=gen.uniform(-half_width_arcsec, half_width_arcsec, n),
        north=gen.uniform(-half_width_arcsec, half_width_arcsec, n),
        mag_r=mags,
        gr=gr,
        ri=ri,
        kind=Objects.KINDS["star"],
        n=0.0,
        hlr=0.0,
        q=1.0,
        beta=0.0,
        z=0.0,
    )
    return objs


def foreground_objects(gen, half_width_arcsec, per_deg2) -> Objects:
    """Big foreground galaxies: z ~ U(0.01, 0.05), M_r ~ U(-21.5, -19.5) (STAND-IN rate
    ``per_deg2``), sizes from Shen et al. 2003, half early / half disk -- tens of arcsec across."""
    objs = Objects()
    area = (2 * half_width_arcsec / 3600.0) ** 2
    n = gen.poisson(per_deg2 * area)
    if n == 0:
        return objs
    z = gen.uniform(0.01, 0.05, n)
    early = gen.uniform(0, 1, n) < 0.5
    M = gen.uniform(-21.5, -19.5, n)
    gr_rs, ri_rs = red_sequence(z)
    gr = gr_rs + gen.normal(0, 0.04, n) - np.where(early, 0, gen.uniform(0.3, 0.5, n))
    ri = np.where(early, ri_rs, gen.uniform(0.2, 0.35, n))
    mags = M + distmod(z) + k_correction_r(z, gr)
    r50 = shen_r50_kpc(M, early, gen) / kpc_per_arcsec(z, tabulated=True)
    objs.add(
        east=gen.uniform(-half_width_arcsec, half_width_arcsec, n),
        north=gen.uniform(-half_width_arcsec, half_width_arcsec, n),
        mag_r=mags,
        gr=gr,
        ri=ri,
        kind=np.where(early, Objects.KINDS["dev"], Objects.KINDS["exp"]),
        n=0.0,
        hlr=np.clip(r50, 1.0, 90.0),
        q=axis_ratio(early, gen),
        beta=gen.uniform(0, np.pi, n),
        z=z,
    )
    return objs


# --------------------------------------------------------------------------- drawing


class _KCachedMoffat(galsim.Moffat):
    """A Moffat that keeps its k-space images: the exact galaxies of one view share one PSF, and
    GalSim's FFT drawing asks for the PSF on a handful of k grids (the FFT size fixes the grid at
    a given pixel scale), so evaluating it once per grid instead of once per galaxy gives the same
    pixels for a fraction of the time (GalSim's own advice in ``GSObject.drawFFT_makeKImage``)."""

    _MAX_CACHED_PIXELS = 1 << 20  # per k image (8 MB complex64); larger ones are drawn each time

    def _drawKImage(self, image, jac=None):
        if image.array.size > self._MAX_CACHED_PIXELS:
            return super()._drawKImage(image, jac)
        cache = self.__dict__.setdefault("_kcache", {})
        key = (
            image.bounds,
            image.scale,
            image.array.dtype.str,
            self.gsparams,
            None if jac is None else np.asarray(jac).tobytes(),
        )
        hit = cache.get(key)
        if hit is None:
            super()._drawKImage(image, jac)
            if len(cache) < 32:
                cache[key] = image.array.copy()
        else:
            image.array[...] = hit


@lru_cache(maxsize=64)
def _shared_psf(beta: float, fwhm: float, gsparams: galsim.GSParams) -> _KCachedMoffat:
    """One Moffat (with its k-image cache) per (beta, FWHM, GSParams) in this process."""
    return _KCachedMoffat(beta=beta, fwhm=fwhm, gsparams=gsparams)


class Canvas:
    """Three band images on the output grid, drawn on a native (0.396") sub-grid and binned.

    Exact objects (GalSim FFT) are added as they come; Moffat-shaped ones (faint PSF-dominated
    objects and stars) are queued by ``draw`` and evaluated together, vectorised, when ``img`` is
    read (``flush``): the same pixel values as one GalSim ``drawImage`` each, far fewer calls.
    """

    #: Sub-samples per native pixel and axis for stars brighter than ``exact_mag``: their stamp
    #: integrates the native pixel (what GalSim's FFT drawing does) by a midpoint rule on a
    #: 0.198" grid, within ~0.5 % of the exact integral at the peak for FWHM >= 0.9".
    STAR_SUBSAMPLE = 2
    #: Sub-sample pixels evaluated at once while flushing (bounds the temporary arrays, ~8 MB each).
    FLUSH_CHUNK = 1_000_000

    def __init__(self, pixels, pixel_scale, psf_fwhm, psf_beta, exact_mag, max_stamp_arcsec=200.0):
        self.n = int(pixels)
        self.scale = float(pixel_scale)
        self.os = max(1, int(round(self.scale / SDSS_PIXEL_SCALE_ARCSEC)))
        self.sub = self.scale / self.os
        self._img = np.zeros((3, self.n, self.n), dtype=np.float32)
        self.gsp = galsim.GSParams(folding_threshold=1e-2, maxk_threshold=3e-3, maximum_fft_size=4096)
        self.psf_fwhm = float(psf_fwhm)
        self.psf_beta = float(psf_beta)
        self.set_psf(psf_fwhm)
        self._unit_dev = galsim.DeVaucouleurs(half_light_radius=1.0, trunc=8.0, gsparams=self.gsp)
        self.exact_mag = exact_mag
        self.max_stamp = max_stamp_arcsec
        self.n_exact = 0
        self.n_fast = 0
        self._queue = []

    def set_psf(self, fwhm: float) -> None:
        """The PSF for the objects drawn from now on (a Moffat of ``psf_beta``).

        PSFs are shared between canvases (``_shared_psf``): the one sky's seeing takes a few
        dozen values, so the views of a shard reuse each other's PSF k-images.
        """
        self.psf_fwhm = float(fwhm)
        self.psf = _shared_psf(self.psf_beta, self.psf_fwhm, self.gsp)

    @property
    def img(self) -> np.ndarray:
        """The 3 x N x N float32 band images, every queued object included."""
        self.flush()
        return self._img

    def _profile(self, kind, n, hlr, q, beta):
        if kind == Objects.KINDS["star"]:
            return self.psf
        hlr = max(hlr, 0.05)
        trunc = 8 * hlr
        if kind == Objects.KINDS["dev"]:
            # the unit de Vaucouleurs (truncated at 8 hlr) dilated: the same profile as building it at
            # this hlr, but GalSim's Sersic tables (maxK, the Hankel transform) are computed once
            gal = self._unit_dev.dilate(hlr)
        elif kind == Objects.KINDS["exp"]:
            gal = galsim.Exponential(half_light_radius=hlr, gsparams=self.gsp)
        else:
            gal = galsim.Sersic(n=float(np.clip(n, 0.5, 6.0)), half_light_radius=hlr, trunc=trunc, gsparams=self.gsp)
        if q < 0.999:
            gal = gal.shear(q=q, beta=beta * galsim.radians)
        return galsim.Convolve(gal, self.psf, gsparams=self.gsp)

    def stamp_pixels(self, kind, mag_r, hlr, psf_fwhm=None) -> np.ndarray:
        """Half-size in output pixels of the stamp ``draw`` gives each object (vectorised).

        Enough for the light above ~1/3 of a faint pixel's noise: a star reaches 2 + 2 log10(f_r)
        PSF widths, a galaxy max(2.5 PSF, 5 hlr) x (1 + 0.25 log10(f_r)), both capped at
        ``max_stamp_arcsec``. The one sky uses it to draw only objects whose stamp meets the cutout.
        """
        kind = np.asarray(kind)
        fwhm = self.psf_fwhm if psf_fwhm is None else np.asarray(psf_fwhm, dtype=float)
        boost = np.maximum(0.0, np.log10(np.maximum(flux_nmgy(np.asarray(mag_r, dtype=float)), 1e-3)))
        star = kind == Objects.KINDS["star"]
        size = np.where(star, 0.0, np.asarray(hlr, dtype=float))
        half = np.where(star, fwhm * (2.0 + 2.0 * boost), np.maximum(2.5 * fwhm, 5.0 * size) * (1.0 + 0.25 * boost))
        return np.maximum(1, np.ceil(np.minimum(half, self.max_stamp) / self.scale)).astype(int)

    def draw(self, x, y, fluxes, mag_r, kind, n, hlr, q, beta, h=None):
        """Add one object at output-pixel (x, y) (0-based) with ``fluxes`` (g, r, i) in nMgy.

        ``h``: its stamp half-size in pixels when the caller has it (``stamp_pixels``).
        """
        size_arcsec = hlr if kind else 0.0
        exact = (mag_r < self.exact_mag) or (size_arcsec > 2.5 * self.psf_fwhm)
        if h is None:
            h = int(self.stamp_pixels(kind, mag_r, hlr))
        ix, iy = int(round(x)), int(round(y))
        x0, y0 = ix - h, iy - h
        m = 2 * h + 1
        if x0 >= self.n or y0 >= self.n or x0 + m <= 0 or y0 + m <= 0:
            return
        if kind == Objects.KINDS["star"]:
            # a star is the PSF: exact (pixel-integrated) when bright, sampled at native pixel centres
            # and normalised when faint -- both as queued Moffats of the PSF's width
            self._queue.append((x, y, *fluxes, h, self.psf_fwhm, 0.0, 0.0, not exact))
            if exact:
                self.n_exact += 1
            else:
                self.n_fast += 1
            return
        if not exact:
            # PSF-dominated: a Moffat of the convolved FWHM (FWHM_gal ~ 2 hlr for these small,
            # mostly exponential profiles), sheared by the galaxy shape diluted by the PSF.
            fg = 2.0 * max(hlr, 0.0)
            fw = math.sqrt(self.psf_fwhm**2 + fg**2)
            e = (1 - q) / (1 + q) * fg**2 / fw**2
            self._queue.append((x, y, *fluxes, h, fw, e if e > 1e-3 else 0.0, beta, True))
            self.n_fast += 1
            return
        o = self.os
        nat = m * o
        # object position in the native stamp's 0-based pixel coordinates
        px = (x - x0 + 0.5) * o - 0.5
        py = (y - y0 + 0.5) * o - 0.5
        offset = (px - (nat - 1) / 2.0, py - (nat - 1) / 2.0)
        prof = self._profile(kind, n, hlr, q, beta)
        stamp = prof.drawImage(nx=nat, ny=nat, scale=self.sub, offset=offset).array
        self.n_exact += 1
        if o > 1:
            stamp = stamp.reshape(m, o, m, o).sum(axis=(1, 3))
        # clip to the canvas
        sx0, sy0 = max(0, -x0), max(0, -y0)
        sx1, sy1 = min(m, self.n - x0), min(m, self.n - y0)
        part = stamp[sy0:sy1, sx0:sx1]
        for b in range(3):
            self._img[b, y0 + sy0 : y0 + sy1, x0 + sx0 : x0 + sx1] += np.float32(fluxes[b]) * part

    def flush(self) -> None:
        """Draw the queued Moffats: stamps of one size and sampling evaluated as one array, then added."""
        if not self._queue:
            return
        q = np.array(self._queue, dtype=float)
        self._queue = []
        # columns: x, y, f_g, f_r, f_i, h, fwhm, shear g, shear beta, faint (sampled + normalised)
        parts = []  # (flat pixel index, 3 x band values) of every stamp pixel on the canvas
        groups = np.stack([q[:, 5], q[:, 9]], axis=1)
        for h, faint in np.unique(groups, axis=0):
            rows = q[(groups[:, 0] == h) & (groups[:, 1] == faint)]
            ss = 1 if faint else self.STAR_SUBSAMPLE
            side = (2 * int(h) + 1) * self.os * ss
            step = max(1, self.FLUSH_CHUNK // side**2)
            for k in range(0, len(rows), step):
                parts.append(self._moffat_stamps(rows[k : k + step], int(h), ss, bool(faint)))
        idx = np.concatenate([p[0] for p in parts])
        vals = np.concatenate([p[1] for p in parts], axis=1)
        for b in range(3):  # unbuffered add: only the touched pixels (a bincount would sweep the canvas)
            np.add.at(self._img[b].reshape(-1), idx, vals[b].astype(np.float32))

    def _moffat_stamps(self, rows: np.ndarray, h: int, ss: int, normalise: bool) -> tuple[np.ndarray, np.ndarray]:
        """Moffat(beta, fwhm) sheared by (g, beta_g) at each row's (x, y), sampled at sub-pixel centres.

        GalSim's ``drawImage(method='no_pixel')`` samples surface brightness x pixel area at pixel
        centres; here with ``ss`` x ``ss`` samples per native pixel, then binned to output pixels.
        ``normalise``: scale each stamp to sum min(1, s), s its sampled sum (the fast path's rule).
        Returns the flat canvas index of each stamp pixel inside the canvas and its g, r, i values.
        """
        x, y, fl, fw, g, bg = rows[:, 0], rows[:, 1], rows[:, 2:5], rows[:, 6], rows[:, 7], rows[:, 8]
        m, k = 2 * h + 1, self.os * ss
        x0, y0 = np.round(x).astype(int) - h, np.round(y).astype(int) - h
        # sub-sample centres in output-pixel coordinates (pixel j spans j - 0.5 .. j + 0.5), as arcsec
        # offsets; the profile is evaluated in float32 (the canvas's precision; twice as fast)
        u = (np.arange(m * k) + 0.5) / k - 0.5
        dx = ((x0[:, None] + u[None, :] - x[:, None]) * self.scale).astype(np.float32)
        dy = ((y0[:, None] + u[None, :] - y[:, None]) * self.scale).astype(np.float32)
        # inverse of GalSim's shear matrix [[1 + g1, g2], [g2, 1 - g1]] / sqrt(1 - g^2) (area-preserving)
        g1 = (g * np.cos(2 * bg)).astype(np.float32)[:, None, None]
        g2 = (g * np.sin(2 * bg)).astype(np.float32)[:, None, None]
        beta = self.psf_beta
        rd = fw / (2.0 * math.sqrt(2.0 ** (1.0 / beta) - 1.0))  # Moffat scale radius from the FWHM
        # in units of rd, with the shear's 1 / sqrt(1 - g^2) folded in
        w = (1.0 / (rd * np.sqrt(1 - g * g))).astype(np.float32)[:, None, None]
        ex = (1 - g1) * w * dx[:, None, :] - g2 * w * dy[:, :, None]
        ey = (1 + g1) * w * dy[:, :, None] - g2 * w * dx[:, None, :]
        t = ex * ex
        t += ey * ey
        t += 1.0
        if beta == int(beta):  # (1 + r^2)^-beta by multiplications: several times faster than power
            stamp = t.copy()
            for _ in range(int(beta) - 1):
                stamp *= t
            np.reciprocal(stamp, out=stamp)
        else:
            stamp = np.power(t, -beta)
        norm = (beta - 1.0) / (np.pi * rd * rd) * (self.sub / ss) ** 2
        stamp *= norm.astype(np.float32)[:, None, None]
        if k > 1:
            stamp = stamp.reshape(len(rows), m, k, m, k).sum(axis=(2, 4))
        if normalise:
            s = stamp.sum(axis=(1, 2))
            stamp *= (np.minimum(1.0, s) / np.where(s > 0, s, 1.0))[:, None, None]
        # the parts inside the canvas
        jj = np.arange(m)
        cols = x0[:, None, None] + jj[None, None, :]
        rows_ = y0[:, None, None] + jj[None, :, None]
        inside = (cols >= 0) & (cols < self.n) & (rows_ >= 0) & (rows_ < self.n)
        idx = (rows_ * self.n + cols)[inside]
        fl = fl.astype(np.float32)
        return idx, np.stack([(stamp * fl[:, b, None, None])[inside] for b in range(3)])


def _band_fluxes(mag_r, gr, ri):
    """(g, r, i) fluxes in nMgy from r and the colours."""
    return np.stack([flux_nmgy(mag_r + gr), flux_nmgy(mag_r), flux_nmgy(mag_r - ri)], axis=1)


# --------------------------------------------------------------------------- real blank-field background


def blank_frame_paths(folder: str | Path) -> dict[str, Path]:
    """The one g, r and i frame of a blank-field folder: ``*-<band>-*.fits[.bz2|.gz]`` each.

    Any SDSS field serves (``frame-`` or ``rand_img-`` names); the folder's PROVENANCE.md
    says where the frames come from.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DeepCeeError(f"{folder}: SDSS blank-frame folder not found")
    out = {}
    for b in BANDS:
        found = sorted(p for p in folder.glob(f"*-{b}-*.fits*") if p.suffix in (".fits", ".bz2", ".gz"))
        if len(found) != 1:
            what = "no" if not found else f"{len(found)}"
            raise DeepCeeError(f"{folder}: {what} SDSS frame for band {b} (want one '*-{b}-*.fits[.bz2]')")
        out[b] = found[0]
    return out


@lru_cache(maxsize=1)
def _padded_frames(folder: str, side: int):
    """Each band's frame, reflect-padded once for crops of ``side`` native pixels, with its WCS."""
    from astropy.io import fits
    from astropy.wcs import WCS

    pad = side // 2 + 64  # the crop centre lies inside the frame (plus a few pixels between bands)
    out = {}
    for b, path in blank_frame_paths(folder).items():
        with fits.open(path, memmap=False) as hdul:
            data = np.asarray(hdul[0].data, dtype=np.float32)
            out[b] = (np.pad(data, pad, mode="reflect"), WCS(hdul[0].header))
    return out, pad


def blank_background(gen, pixels, os, folder):
    """A g, r, i crop (binned os x os, flux-summed) of a real SDSS blank field.

    The three frames are different CCD frames of one field; each band's crop is centred on
    the same sky position through its own WCS. Crops larger than the 2048 x 1489 frame are
    reflect-padded (the mirrored sky keeps the noise statistics, not the sources' uniqueness).
    The crop's centre, a quarter turn and a mirror are drawn from ``gen`` (the view's stream).
    """
    side = pixels * os
    frames, pad = _padded_frames(str(folder), side)
    data_r, w_r = frames["r"]
    ny, nx = data_r.shape[0] - 2 * pad, data_r.shape[1] - 2 * pad
    cx, cy = gen.uniform(0.3 * nx, 0.7 * nx), gen.uniform(0.3 * ny, 0.7 * ny)
    sky = w_r.pixel_to_world(cx, cy)
    out = np.zeros((3, pixels, pixels), dtype=np.float32)
    for j, b in enumerate(BANDS):
        padded, w = frames[b]
        bx, by = w.world_to_pixel(sky)
        x0 = min(max(int(round(float(bx))) - side // 2 + pad, 0), padded.shape[1] - side)
        y0 = min(max(int(round(float(by))) - side // 2 + pad, 0), padded.shape[0] - side)
        crop = padded[y0 : y0 + side, x0 : x0 + side]
        # (SDSS frames have RA along y; a blank background's orientation does not matter.)
        out[j] = crop.reshape(pixels, os, pixels, os).sum(axis=(1, 3))
    # a random quarter turn and mirror: one field gives eight orientations of its sources
    out = np.rot90(out, k=int(gen.integers(4)), axes=(1, 2))
    if gen.uniform() < 0.5:
        out = out[:, :, ::-1]
    return np.ascontiguousarray(out)


# --------------------------------------------------------------------------- one view

#: Objects this far (arcsec) outside a view still spill light into it.
MARGIN_ARCSEC = 30.0


def catalogued_cluster_objects(seed: int, cluster_id: str, z, richness, bcg_rmag, mc: dict) -> Objects:
    """A catalogued cluster as every image of it shows it: drawn from ``rng(seed, "mock-cluster", id)``
    with the ``images.mock`` member settings, so an injected view and the one sky agree."""
    return cluster_objects(
        rng(seed, "mock-cluster", str(cluster_id)),
        float(z),
        float(richness),
        mc["mag_limit"],
        bcg_rmag=np.nan if bcg_rmag is None else float(bcg_rmag),
        member_scale=mc["member_scale"],
        concentration=mc["member_concentration"],
        blue_fraction=mc["blue_member_fraction"],
    )


def _draw_target(canvas, objs: Objects, cluster_xy, wcs, pixels: int, scale: float) -> dict:
    """Draw the cluster's members that land in (or within ``MARGIN_ARCSEC`` of) the view; their truth."""
    margin = MARGIN_ARCSEC / scale
    a = objs.arrays()
    xs = cluster_xy[0] - a["east"] / scale
    ys = cluster_xy[1] + a["north"] / scale
    keep = (xs > -margin) & (xs < pixels + margin) & (ys > -margin) & (ys < pixels + margin)
    fl = _band_fluxes(a["mag_r"], a["gr"], a["ri"])
    for j in np.flatnonzero(keep):
        canvas.draw(
            xs[j], ys[j], fl[j], a["mag_r"][j], int(a["kind"][j]), a["n"][j], a["hlr"][j], a["q"][j], a["beta"][j]
        )
    n = int(keep.sum())
    ra, dec = wcs.pixel_to_world_values(xs[keep], ys[keep]) if n else (np.zeros(0), np.zeros(0))
    return {
        "ra": ra,
        "dec": dec,
        "x": xs[keep],
        "y": ys[keep],
        "mag_r": a["mag_r"][keep],
        "z": a["z"][keep],
        "member": np.full(n, "target", dtype="U10"),
        "group": np.zeros(n, dtype=int),
        "central": np.arange(len(keep))[keep] == 0,
    }


def saturate(img: np.ndarray, npix_native: int) -> None:
    """SDSS saturation of bright stars, per native pixel, in place (MN §1)."""
    for b, band in enumerate(BANDS):
        np.minimum(img[b], SATURATION_DN * CALIB_NMGY_PER_DN[band] * npix_native, out=img[b])


def add_sdss_noise(img: np.ndarray, normal: np.ndarray, scale: float, npix_native: int, synthetic: bool = True) -> None:
    """SDSS noise from unit normals ``normal``, in place: sky + source Poisson + dark variance (MN §1).

    sigma_DN^2 = DN/gain + darkVariance (DR9 frame data model) per native pixel, summed over the
    os^2 native pixels of an output pixel; sky-subtracted like SDSS frames. Over a real blank frame
    (``synthetic=False``) only the injected sources' own Poisson noise is added.
    """
    for b, band in enumerate(BANDS):
        calib = CALIB_NMGY_PER_DN[band]
        if synthetic:
            sky = SKY_NMGY_ARCSEC2[band] * scale**2
            var = (sky + np.maximum(img[b], 0)) * calib / GAIN[band] + DARK_VARIANCE[band] * calib**2 * npix_native
        else:
            var = np.maximum(img[b], 0) * calib / GAIN[band]
        img[b] += np.sqrt(var, dtype=np.float32) * normal[b]


def view_background(view, mc: dict) -> str:
    """``sdss_blank`` where the whole set asks for it (``mock.background``) or the views plan
    gave this view a real-sky background (training views, ``mock.real_background_fraction``)."""
    planned = str(view["background"]) if "background" in getattr(view, "colnames", view) else "synthetic"
    return "sdss_blank" if "sdss_blank" in (mc["background"], planned) else "synthetic"


def render_view(view, images_cfg: dict, seed: int, sky=None) -> tuple[np.ndarray, object, dict]:
    """Render one view; returns (3 x N x N float32 nMgy, WCS, info).

    A synthetic view is a cutout of the one mock sky (``images/sky.py``): ``sky`` is the
    stage's ``MockSky`` (of the same seed and ``images.mock``); without one, a sky holding only
    this view's cluster is made. A view over a real blank frame (``sdss_blank``) is the frame
    with the view's cluster injected. ``images_cfg`` is the full ``images:`` section
    (schemas/images.schema.yaml's defaults filled).
    """
    mc = images_cfg["mock"]
    cid, z = str(view["cluster_id"]), float(view["z"])
    if not np.isfinite(z) or z <= 0:
        raise DeepCeeError(f"cluster {cid}: redshift {z} unusable for the mock")
    if view_background(view, mc) == "synthetic":
        from deepcee.images import sky as one_sky  # sky.py builds on this module

        sky = sky if sky is not None else one_sky.sky_for_views([view], images_cfg, seed)
        return one_sky.render_view(sky, view, images_cfg)
    return _render_injected(view, images_cfg, seed)


def _render_injected(view, images_cfg: dict, seed: int) -> tuple[np.ndarray, object, dict]:
    """The view's cluster injected into a random crop of a real SDSS blank frame."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    mc = images_cfg["mock"]
    pixels = int(images_cfg["pixels"])
    scale = float(images_cfg["pixel_scale_arcsec"])
    name, cid = str(view["view"]), str(view["cluster_id"])
    gen_view = np.random.default_rng(int_seed(seed, "mock", name))
    wcs = make_wcs(float(view["centre_ra"]), float(view["centre_dec"]), pixels, scale)
    fwhm = float(np.clip(gen_view.normal(mc["psf_fwhm_arcsec"], mc["psf_fwhm_sigma_arcsec"]), 0.9, 2.2))
    canvas = Canvas(pixels, scale, fwhm, mc["psf_beta"], mc["exact_mag"])
    # the cluster centre in output pixels, through the WCS (exactly the label's position)
    cx, cy = (float(v) for v in wcs.world_to_pixel(SkyCoord(float(view["ra"]) * u.deg, float(view["dec"]) * u.deg)))
    target = catalogued_cluster_objects(seed, cid, view["z"], view["richness"], view["bcg_rmag"], mc)
    truth = _draw_target(canvas, target, (cx, cy), wcs, pixels, scale)
    img = canvas.img
    saturate(img, canvas.os**2)
    add_sdss_noise(img, gen_view.standard_normal(img.shape, dtype=np.float32), scale, canvas.os**2, synthetic=False)
    img += blank_background(gen_view, pixels, canvas.os, mc["blank_frames"])
    info = {
        "psf_fwhm_arcsec": fwhm,
        "n_exact": canvas.n_exact,
        "n_fast": canvas.n_fast,
        "cluster": len(truth["x"]),
        "cluster_x": cx,
        "cluster_y": cy,
        "truth": truth_table(name, cid, truth),
    }
    return img, wcs, info


TRUTH_COLUMNS = tuple(table_contract("truth").colnames)  # docs/contracts.md


def truth_table(view: str, cluster_id: str, cols: dict):
    """Every drawn object of one view in the ``truth`` contract's layout (docs/contracts.md).

    ``cols``: arrays ``member`` (target, cluster, group, field, star, foreground), ``group``
    (the view's uncatalogued group number, 0 = none), ``central`` (BCG / BGG), ``ra``, ``dec``
    (deg), ``x``, ``y`` (FITS-array pixels, 0-based, as ``wcs.pixel_to_world``), ``mag_r``, ``z``.
    """
    from astropy.table import Table

    n = len(cols["x"])
    return Table(
        {
            "view": np.full(n, view, dtype="U64"),
            "cluster_id": np.full(n, cluster_id, dtype="U32"),
            "member": np.asarray(cols["member"], dtype=str) if n else np.zeros(0, dtype="U10"),
            "group": np.asarray(cols["group"], dtype=int),
            "central": np.asarray(cols["central"], dtype=bool),
            **{k: np.asarray(cols[k], dtype=float) for k in ("ra", "dec", "x", "y", "mag_r", "z")},
        },
        names=TRUTH_COLUMNS,
    )


def render_view_to_fits(view, images_cfg: dict, seed: int, out_path: str | Path, sky=None) -> dict:
    img, wcs, info = render_view(view, images_cfg, seed, sky=sky)
    write_view_fits(
        out_path,
        {b: img[j] for j, b in enumerate(BANDS)},
        wcs,
        meta={"SOURCE": "mock", "VIEW": str(view["view"]), "SEEING": round(info["psf_fwhm_arcsec"], 4)},
    )
    return info
