"""The SDSS instrument the mock is seen through: PSF drawing on a native-pixel grid, saturation
and the SDSS noise model (docs/design.md §4; numbers in docs/mock-numbers.md, "MN §k").

Every object is drawn on a ``Canvas``: an SDSS-like PSF (Moffat), sky-subtracted nanomaggy
pixels, then ``saturate`` and ``add_sdss_noise`` (sky + source Poisson + dark variance).

Speed: galaxies brighter than ``exact_mag`` (and every large one) are drawn exactly
(GalSim Sersic/DeVaucouleurs/Exponential x Moffat, FFT incl. the pixel); fainter,
PSF-dominated ones as a sheared Moffat of the convolved width sampled in real space
(GalSim's ``method='no_pixel'`` on the native 0.396" grid, then binned, which integrates
the pixel), evaluated for all of them at once with numpy (``Canvas.flush``), as are the
stars. Each object is drawn once (unit flux) and added to g, r, i with its
three fluxes (``band_fluxes``): one PSF shape for the three bands (per-band FWHM differences of
~0.2", MN §1, are ignored). docs/mock-numbers.md ("Notes for the renderer") has the numbers.
"""

from __future__ import annotations

import math
from functools import lru_cache

import galsim
import numpy as np

from deepcee.core.sdss import SDSS_PIXEL_SCALE_ARCSEC
from deepcee.images.fits import BANDS
from deepcee.images.mock.universe import Objects, flux_nmgy

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


def band_fluxes(mag_r, gr, ri):
    """(g, r, i) fluxes in nMgy from r and the colours."""
    return np.stack([flux_nmgy(mag_r + gr), flux_nmgy(mag_r), flux_nmgy(mag_r - ri)], axis=1)


# --------------------------------------------------------------------------- saturation and noise


def saturate(img: np.ndarray, npix_native: int) -> None:
    """SDSS saturation of bright stars, per native pixel, in place (MN §1)."""
    for b, band in enumerate(BANDS):
        np.minimum(img[b], SATURATION_DN * CALIB_NMGY_PER_DN[band] * npix_native, out=img[b])


def noise_normals(gen: np.random.Generator, shape, fraction: float = 0.0, kernel_px: float = 1.0) -> np.ndarray:
    """Unit-variance normals (``shape`` = 3 x N x N) of which ``fraction`` of the variance is smooth
    over a Gaussian of ``kernel_px`` pixels: the light of sources below the mock's magnitude limit
    and the sky subtraction leave SDSS frames' noise correlated between neighbouring pixels (MN §1:
    lag-1 autocorrelation 0.03-0.05 in the bundled fields, ``python -m deepcee.bench.realism``).
    The smooth part is one field for the three bands (faint galaxies shine in every band), drawn
    after the white normals, so fraction 0 gives exactly the white normals of before."""
    normal = gen.standard_normal(shape, dtype=np.float32)
    if fraction <= 0:
        return normal
    from scipy.ndimage import gaussian_filter

    smooth = gaussian_filter(gen.standard_normal(shape[1:]), float(kernel_px), mode="wrap")
    smooth /= smooth.std()
    normal *= np.float32(np.sqrt(1.0 - fraction))
    normal += np.float32(np.sqrt(fraction)) * smooth.astype(np.float32)[None]
    return normal


def add_sdss_noise(
    img: np.ndarray,
    normal: np.ndarray,
    scale: float,
    npix_native: int,
    synthetic: bool = True,
    sky_factor: float = 1.0,
) -> None:
    """SDSS noise from unit normals ``normal``, in place: sky + source Poisson + dark variance (MN §1).

    sigma_DN^2 = DN/gain + darkVariance (DR9 frame data model) per native pixel, summed over the
    os^2 native pixels of an output pixel; sky-subtracted like SDSS frames. ``sky_factor`` scales
    the sky flux (a field's sky brightness: MN §1 quartiles). Over a real blank frame
    (``synthetic=False``) only the injected sources' own Poisson noise is added.
    """
    for b, band in enumerate(BANDS):
        calib = CALIB_NMGY_PER_DN[band]
        if synthetic:
            sky = SKY_NMGY_ARCSEC2[band] * scale**2 * sky_factor
            var = (sky + np.maximum(img[b], 0)) * calib / GAIN[band] + DARK_VARIANCE[band] * calib**2 * npix_native
        else:
            var = np.maximum(img[b], 0) * calib / GAIN[band]
        img[b] += np.sqrt(var, dtype=np.float32) * normal[b]
