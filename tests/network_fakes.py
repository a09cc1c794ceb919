"""The network, offline, for a whole workflow run: every service the paper profile asks
(VizieR, SkyView, the SDSS spectra) answered from bundled real files, in every job process.

``install(resources)`` puts the fakes in place; ``tests/offline_network/sitecustomize.py`` calls it
at the start of every Python process when ``DEEPCEE_OFFLINE_NETWORK`` names the resources folder,
so the Snakemake run and each of its jobs use them without a line of workflow code knowing.

* VizieR: ``requests.Session.request``, the layer astroquery's Vizier sends its query through,
  answers with VizieR-layout VOTables of the bundled real catalogues (``vizier_fake``).
* SkyView: ``SkyViewClass.get_images`` returns real SDSS g, r, i pixels (a crop of one of the
  bundled SDSS frames, chosen by the asked position) as a TAN image centred on the asked
  position at the asked pixel count and width: real sky, at a borrowed position and scale.
* SDSS spectra: ``SDSSClass.query_region`` answers the bundled redMaPPer centres in the square
  as galaxy spectra at the cluster redshift.

Every call is appended to ``$DEEPCEE_OFFLINE_NETWORK_LOG`` (one JSON line), so a test can say
which services the run asked. ``$DEEPCEE_OFFLINE_NETWORK_CACHE``, if set, is a folder where the
SkyView fake keeps the bundled frames decompressed for the run's other jobs.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np

WHL12 = "J/ApJS/199/34/table1"
REDMAPPER = "J/ApJS/224/1/cat_dr8"


def _record(service: str, **what) -> None:
    log = os.environ.get("DEEPCEE_OFFLINE_NETWORK_LOG")
    if log:
        with open(log, "a") as handle:
            handle.write(json.dumps({"service": service, **what}) + "\n")


def _vizier(resources: Path):
    import requests

    fakes = []

    def request(session, method, url, **kwargs):
        if not fakes:  # built at the first request: only the download job pays for it
            from vizier_fake import (
                REDMAPPER_FIELDS,
                WHL12_FIELDS,
                FakeVizier,
                redmapper_rows,
                votable_bytes,
                whl12_rows,
            )

            payloads = {
                WHL12: votable_bytes(WHL12, WHL12_FIELDS, whl12_rows(resources)),
                REDMAPPER: votable_bytes(REDMAPPER, REDMAPPER_FIELDS, redmapper_rows(resources, n=None)),
            }
            fakes.append(FakeVizier(payloads))
        _record("vizier", url=str(url))
        return fakes[0](session, method, url, **kwargs)

    requests.Session.request = request


def _skyview(resources: Path):
    from functools import lru_cache

    from astropy import units as u
    from astropy.io import fits
    from astroquery.skyview import SkyViewClass

    cache = os.environ.get("DEEPCEE_OFFLINE_NETWORK_CACHE")

    @lru_cache(maxsize=64)
    def frame(path: Path):
        """A frame's pixels and header; decompressed once per run where a cache folder is named
        (a bz2 frame takes about a second, and every download job asks dozens of them)."""
        if cache:
            stored = Path(cache) / f"{path.parent.name}--{path.name}.fits"
            if not stored.exists():
                with fits.open(path) as hdul:
                    part = stored.with_suffix(f".{os.getpid()}.part")
                    fits.PrimaryHDU(hdul[0].data.astype(np.float32), hdul[0].header).writeto(part)
                    part.replace(stored)  # whole or absent: jobs run side by side
            path = stored
        with fits.open(path) as hdul:
            return hdul[0].data.astype(np.float32), hdul[0].header.copy()

    def get_images(self, position, survey, *, pixels=None, width=None, **kwargs):
        band, n = survey[0][-1], int(pixels)
        _record("skyview", survey=survey[0], ra=position.ra.deg, dec=position.dec.deg, pixels=n)
        # a real SDSS frame and a place in it, both fixed by the asked position (the three bands agree)
        frames = sorted(resources.glob(f"sdss-frames-*/*-{band}-*.fits.bz2"))
        rng = np.random.default_rng([int(round(position.ra.deg * 1e4)), int(round((position.dec.deg + 90) * 1e4))])
        data, header = frame(frames[rng.integers(len(frames))])
        # as much of the frame as fits, summed in f x f blocks (flux kept): real sky over the
        # widest field the frame holds, at the asked pixel count
        f = max(1, min(data.shape) // n)
        y0, x0 = rng.integers(0, data.shape[0] - n * f + 1), rng.integers(0, data.shape[1] - n * f + 1)
        block = data[y0 : y0 + n * f, x0 : x0 + n * f].reshape(n, f, n, f).sum(axis=(1, 3))
        scale = u.Quantity(width).to_value(u.deg) / n
        for key in [k for k in header if k.startswith(("CD", "PC", "CDELT", "CROTA", "CRPIX", "CRVAL", "CTYPE"))]:
            del header[key]
        header.update(
            CTYPE1="RA---TAN",
            CTYPE2="DEC--TAN",
            CRVAL1=position.ra.deg,
            CRVAL2=position.dec.deg,
            CRPIX1=(n + 1) / 2,
            CRPIX2=(n + 1) / 2,
            CDELT1=-scale,
            CDELT2=scale,
            CUNIT1="deg",
            CUNIT2="deg",
        )
        return [fits.HDUList([fits.PrimaryHDU(np.ascontiguousarray(block, dtype=np.float32), header=header)])]

    SkyViewClass.get_images = get_images


def _sdss(resources: Path):
    from astropy.table import Table
    from astroquery.sdss import SDSSClass

    def query_region(self, coordinates, *, width=None, **kwargs):
        from deepcee.catalogue.select import read_redmapper_bundled

        clusters = read_redmapper_bundled(resources / "redmapper-sdss-dr8-v5.10/sdss_redmapper.csv.gz")
        ra, dec = coordinates.ra.deg, coordinates.dec.deg
        half = width.to_value("deg") / 2
        dra = (np.asarray(clusters["ra"]) - ra + 180) % 360 - 180
        inside = (np.abs(dra * np.cos(np.radians(dec))) <= half) & (np.abs(np.asarray(clusters["dec"]) - dec) <= half)
        _record("sdss", ra=ra, dec=dec, found=int(inside.sum()))
        if not inside.any():
            return None
        rows = clusters[inside]
        return Table(
            {
                "ra": rows["ra"],
                "dec": rows["dec"],
                "objid": np.arange(len(rows), dtype=np.int64),
                "z": rows["z"],
                "class": ["GALAXY"] * len(rows),
            }
        )

    SDSSClass.query_region = query_region


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs ``hooks[name](resources)`` right after module ``name`` is first imported, so a process
    that never asks a service (most jobs) never imports astroquery for its fake."""

    def __init__(self, hooks: dict, resources: Path):
        self.hooks, self.resources = hooks, resources

    def find_spec(self, name, path, target=None):
        if name not in self.hooks:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        hook, load = self.hooks.pop(name), spec.loader.exec_module

        def exec_module(module):
            load(module)
            hook(self.resources)

        spec.loader.exec_module = exec_module
        return spec


def install(resources: str | Path) -> None:
    hooks = {"astroquery.vizier": _vizier, "astroquery.skyview": _skyview, "astroquery.sdss": _sdss}
    sys.meta_path.insert(0, _AfterImport(hooks, Path(resources)))
