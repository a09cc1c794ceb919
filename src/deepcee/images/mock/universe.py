"""What exists in the mock universe: the populations of galaxies, clusters, groups and stars
(docs/design.md §4), as object lists with positions in arcsec east/north of a centre.

Every number below cites its source; "MN §k" refers to the numbered section of
``docs/mock-numbers.md``, which gives the publication, page and, for the few STAND-IN
values, why they were chosen. Distances and sizes use the project cosmology (``deepcee.core.cosmology.COSMO``,
flat LCDM H0 = 71, Om = 0.27, the paper's); docs/mock-numbers.md quotes H0 = 70, Om = 0.3,
a 1-2 per cent difference in the derived distances that is far below the stand-ins'
own uncertainty.

What the sky holds (the one sky, ``images/mock/sky.py``, places these lists on it):
  * clusters: a BCG exactly at the catalogue RA/Dec (the label), red-sequence
    members (and a blue fraction) drawn from a Schechter LF normalised to the
    catalogue richness, placed on a projected NFW profile within R200;
    a catalogued cluster is drawn from ``rng(seed, "mock-cluster", cluster_id)``
    (``catalogued_cluster_objects``) so every image of one cluster shows the same cluster;
  * the field: galaxies from SDSS number counts with a red/blue mix, redshifts,
    colours and sizes; stars from SDSS high-latitude star counts;
  * confusers: uncatalogued groups at other redshifts (``volume_redshifts``), bright
    (saturated) stars, big foreground galaxies.

How they are drawn (PSF, noise) is ``images/mock/draw.py``; one view of them is
``images/mock/render.py``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from deepcee.core.cosmology import COSMO, distance_table, kpc_per_arcsec
from deepcee.core.seeds import rng

# --------------------------------------------------------------------------- photometry and luminosity functions

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
