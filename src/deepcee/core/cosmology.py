"""The paper's cosmology and the kpc <-> arcsec <-> pixel conversions built on it."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from astropy import units as u
from astropy.cosmology import FlatLambdaCDM

from deepcee.core.sdss import SDSS_PIXEL_SCALE_ARCSEC

#: Chan & Stott (2019) §1: H0 = 71 km/s/Mpc, Omega_m = 0.27, Omega_Lambda = 0.73 (flat).
COSMO = FlatLambdaCDM(H0=71, Om0=0.27)


@lru_cache(maxsize=1)
def distance_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(z, distance modulus, kpc per arcsec) on 1500 redshifts from 0.002 to 1.5, for fast lookups."""
    zg = np.linspace(0.002, 1.5, 1500)
    return zg, COSMO.distmod(zg).value, COSMO.kpc_proper_per_arcmin(zg).value / 60.0


def kpc_per_arcsec(z, tabulated: bool = False):
    """Proper transverse kpc per arcsec at redshift ``z`` (angular-diameter distance).

    ``tabulated``: interpolate ``distance_table`` instead (relative error below 1e-5); the mock sky
    draws thousands of field galaxies per view and its images are defined with this lookup.
    """
    if tabulated:
        zg, _, kpa = distance_table()
        return np.interp(z, zg, kpa)
    return COSMO.kpc_proper_per_arcmin(np.asarray(z, dtype=float)).to_value(u.kpc / u.arcmin) / 60.0


def kpc_to_arcsec(kpc, z):
    return np.asarray(kpc, dtype=float) / kpc_per_arcsec(z)


def arcsec_to_kpc(arcsec, z):
    return np.asarray(arcsec, dtype=float) * kpc_per_arcsec(z)


def kpc_to_pixels(kpc, z, pixel_scale_arcsec: float = SDSS_PIXEL_SCALE_ARCSEC):
    return kpc_to_arcsec(kpc, z) / pixel_scale_arcsec
