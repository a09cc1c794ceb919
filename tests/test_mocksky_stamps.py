"""The mock's vectorised Moffat stamps against GalSim drawing the same objects (docs/mock-numbers.md)."""

from __future__ import annotations

import math

import galsim
import numpy as np
import pytest

from deepcee.images.mock import draw

PIX, SCALE, FWHM, BETA, EXACT_MAG = 41, 1.584, 1.4, 3.0, 19.5


def _canvas():
    return draw.Canvas(PIX, SCALE, FWHM, BETA, EXACT_MAG)


def _galsim_stamp(canvas, prof, x, y, h, method, normalise):
    """One object drawn by GalSim on the canvas' native sub-grid and binned, as Canvas.draw did per object."""
    o, m = canvas.os, 2 * h + 1
    x0, y0 = round(x) - h, round(y) - h
    nat = m * o
    offset = ((x - x0 + 0.5) * o - 0.5 - (nat - 1) / 2.0, (y - y0 + 0.5) * o - 0.5 - (nat - 1) / 2.0)
    stamp = prof.drawImage(nx=nat, ny=nat, scale=canvas.sub, offset=offset, method=method).array.astype(float)
    if normalise:
        s = stamp.sum()
        stamp = stamp / s * min(1.0, s)
    out = np.zeros((PIX, PIX))
    out[y0 : y0 + m, x0 : x0 + m] = stamp.reshape(m, o, m, o).sum(axis=(1, 3))
    return out


def _moments(img):
    """Flux, centroid (px) and second moments (px^2) of an image."""
    yy, xx = np.mgrid[: img.shape[0], : img.shape[1]]
    f = img.sum()
    cx, cy = (img * xx).sum() / f, (img * yy).sum() / f
    qxx = (img * (xx - cx) ** 2).sum() / f
    qyy = (img * (yy - cy) ** 2).sum() / f
    qxy = (img * (xx - cx) * (yy - cy)).sum() / f
    return f, cx, cy, qxx, qyy, qxy


def _assert_like(got, want, moment_rtol):
    f, cx, cy, qxx, qyy, qxy = _moments(got)
    f0, cx0, cy0, qxx0, qyy0, qxy0 = _moments(want)
    assert f == pytest.approx(f0, rel=0.01)
    assert abs(cx - cx0) < 0.05 and abs(cy - cy0) < 0.05
    assert qxx == pytest.approx(qxx0, rel=moment_rtol) and qyy == pytest.approx(qyy0, rel=moment_rtol)
    assert abs(qxy - qxy0) < moment_rtol * math.sqrt(qxx0 * qyy0)


def _stamp_half(canvas, f_r, size):
    half = max(2.5 * canvas.psf_fwhm, 5.0 * size) * (1.0 + 0.25 * max(0.0, math.log10(max(f_r, 1e-3))))
    return max(1, math.ceil(half / canvas.scale))


def test_faint_star_stamp_is_galsims_moffat():
    """A faint star: the PSF sampled at native pixel centres (no_pixel), normalised, binned."""
    c = _canvas()
    x, y, mag = 20.3, 19.77, 21.0
    fl = draw.band_fluxes(np.array([mag]), np.array([0.5]), np.array([0.2]))[0]
    c.draw(x, y, fl, mag, 0, 0.0, 0.0, 1.0, 0.0)
    assert c.n_fast == 1 and c.n_exact == 0
    h = max(1, math.ceil(FWHM * (2.0 + 2.0 * max(0.0, math.log10(fl[1]))) / SCALE))
    want = _galsim_stamp(c, c.psf, x, y, h, "no_pixel", True)
    got = c.img[1] / fl[1]
    np.testing.assert_allclose(got, want, atol=1e-6 * want.max())
    _assert_like(got, want, 0.02)
    np.testing.assert_allclose(c.img[0] / fl[0], got, rtol=1e-5, atol=1e-9)  # one shape, three fluxes


@pytest.mark.parametrize(
    ("kind", "hlr", "q", "beta", "size_rtol"), [(2, 0.6, 0.45, 0.7, 0.1), (1, 0.35, 0.8, 2.5, 0.15)]
)
def test_faint_galaxy_stamp_is_galsims_sheared_moffat(kind, hlr, q, beta, size_rtol):
    """A faint PSF-dominated galaxy: GalSim's sheared Moffat of the convolved FWHM, and close to the exact drawing."""
    c = _canvas()
    x, y, mag = 17.6, 22.45, 21.5
    fl = draw.band_fluxes(np.array([mag]), np.array([0.9]), np.array([0.4]))[0]
    c.draw(x, y, fl, mag, kind, 0.0, hlr, q, beta)
    assert c.n_fast == 1
    got = c.img[1] / fl[1]
    h = _stamp_half(c, fl[1], hlr)
    fg = 2.0 * hlr
    fw = math.sqrt(FWHM**2 + fg**2)
    e = (1 - q) / (1 + q) * fg**2 / fw**2
    moffat = galsim.Moffat(beta=BETA, fwhm=fw, gsparams=c.gsp).shear(g=e, beta=beta * galsim.radians)
    want = _galsim_stamp(c, moffat, x, y, h, "no_pixel", True)
    np.testing.assert_allclose(got, want, atol=1e-6 * want.max())
    _assert_like(got, want, 0.02)
    # the exact (FFT, pixel-integrated) drawing of the real profile: same flux and centre; the size
    # differs by the fast path's FWHM_gal ~ 2 hlr approximation (most for de Vaucouleurs profiles)
    exact = _galsim_stamp(c, c._profile(kind, 0.0, hlr, q, beta), x, y, h, "auto", False)
    _assert_like(got, exact, size_rtol)


def test_bright_star_integrates_the_pixel_like_galsims_fft():
    """A star brighter than exact_mag: the pixel-integrated PSF, as GalSim's FFT drawing of it."""
    c = _canvas()
    x, y, mag = 20.1, 20.45, 16.0
    fl = draw.band_fluxes(np.array([mag]), np.array([0.5]), np.array([0.2]))[0]
    c.draw(x, y, fl, mag, 0, 0.0, 0.0, 1.0, 0.0)
    assert c.n_exact == 1 and c.n_fast == 0
    h = max(1, math.ceil(FWHM * (2.0 + 2.0 * math.log10(fl[1])) / SCALE))
    want = _galsim_stamp(c, c.psf, x, y, h, "auto", False)
    got = c.img[1] / fl[1]
    np.testing.assert_allclose(got, want, atol=5e-3 * want.max())
    _assert_like(got, want, 0.02)


def test_stamps_clip_at_the_canvas_edge():
    """An object centred just off the canvas adds the on-canvas part of the same stamp."""
    fl = draw.band_fluxes(np.array([21.0]), np.array([0.5]), np.array([0.2]))[0]
    edge, full = _canvas(), _canvas()
    edge.draw(-0.4, 20.2, fl, 21.0, 0, 0.0, 0.0, 1.0, 0.0)  # same sub-pixel phase as x = 20.6
    full.draw(20.6, 20.2, fl, 21.0, 0, 0.0, 0.0, 1.0, 0.0)
    a, b = edge.img[1], full.img[1]
    np.testing.assert_allclose(a[:, :20], b[:, 21:], rtol=1e-5, atol=1e-7 * b.max())
    assert 0.3 < a.sum() / b.sum() < 0.7


def test_exact_galaxies_are_galsims_fft_drawing():
    """Bright galaxies: the dilated unit de Vaucouleurs and the PSF's reused k images change no pixel."""
    c = _canvas()
    gals = [
        (20.3, 19.6, 17.5, 1, 1.2, 0.6, 0.4),
        (21.1, 20.7, 18.0, 1, 2.9, 0.8, 2.0),
        (19.8, 20.2, 18.5, 2, 1.5, 0.5, 1.0),
    ]
    want = np.zeros((PIX, PIX))
    for x, y, mag, kind, hlr, q, beta in gals:
        fl = draw.band_fluxes(np.array([mag]), np.array([0.9]), np.array([0.4]))[0]
        c.draw(x, y, fl, mag, kind, 0.0, hlr, q, beta)
        gal = (
            galsim.DeVaucouleurs(half_light_radius=hlr, trunc=8 * hlr, gsparams=c.gsp)
            if kind == 1
            else galsim.Exponential(half_light_radius=hlr, gsparams=c.gsp)
        )
        prof = galsim.Convolve(
            gal.shear(q=q, beta=beta * galsim.radians),
            galsim.Moffat(beta=BETA, fwhm=FWHM, gsparams=c.gsp),
            gsparams=c.gsp,
        )
        want += fl[1] * _galsim_stamp(c, prof, x, y, _stamp_half(c, fl[1], hlr), "auto", False)
    assert c.n_exact == len(gals)
    np.testing.assert_allclose(c.img[1], want, rtol=1e-5, atol=1e-6 * want.max())
