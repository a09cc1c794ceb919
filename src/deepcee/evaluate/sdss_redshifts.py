"""Spectroscopic redshifts around the test images from SDSS (paper §3.1, Figs 8-11; paper profile).

The paper's case studies overlay the SDSS spectroscopic redshifts of the galaxies in each
field. With real images (``images.source: skyview``) there is no mock truth, so this module
asks SDSS (``astroquery.sdss.SDSS.query_region``) for every spectrum in a square of side
``width_arcsec`` centred on each test cluster (the service caps a radius search at 3 arcmin,
a 792 arcsec view offset by up to 270 arcsec needs a 1,332 arcsec square), caches each answer as ECSV on disk
(a rerun asks nothing), retries with
exponential backoff, and writes the answers in the mock truth's layout
(``deepcee.images.mock.render.TRUTH_COLUMNS``) so the case-study step reads either.

Membership from spectra alone: ``star`` (SDSS class STAR or z < 0.002), ``target`` when
|z - z_cluster| <= ``dz`` (1 + z_cluster), ``foreground`` when below that and z < 0.05,
else ``field``. Spectra carry no group catalogue, so no object is tagged ``group`` here.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from astropy.table import Table, vstack

from deepcee.core.config import with_defaults
from deepcee.core.contracts import rows_table, write_table
from deepcee.core.errors import DeepCeeError
from deepcee.core.files import atomic_path
from deepcee.core.network import RetriesExhausted, with_retries

PHOTOOBJ_FIELDS = ["ra", "dec", "objid"]
SPECOBJ_FIELDS = ["z", "class"]


def _query_sdss(ra: float, dec: float, width_arcsec: float):
    """The live query (network): every SDSS spectrum in the square, as an astropy Table or None."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord
    from astroquery.sdss import SDSS

    return SDSS.query_region(
        SkyCoord(ra * u.deg, dec * u.deg),
        width=width_arcsec * u.arcsec,
        spectro=True,
        photoobj_fields=PHOTOOBJ_FIELDS,
        specobj_fields=SPECOBJ_FIELDS,
    )


def _cache_file(cache_dir: Path, ra: float, dec: float, width_arcsec: float) -> Path:
    key = f"{ra:.6f}_{dec:+.6f}_{width_arcsec:.1f}"
    return cache_dir / f"sdss_spec_{key}_{hashlib.sha1(key.encode()).hexdigest()[:8]}.ecsv"


def _normalise(answer, what: str) -> Table:
    """ra, dec, z, class (str) from the service's table; None (nothing found) becomes an empty table."""
    if answer is None:
        return Table(names=("ra", "dec", "z", "class"), dtype=(float, float, float, str))
    if not isinstance(answer, Table):
        raise DeepCeeError(f"{what}: SDSS answered with a {type(answer).__name__}, not a table")
    missing = [c for c in ("ra", "dec", "z") if c not in answer.colnames]
    if missing:
        raise DeepCeeError(f"{what}: SDSS answer has no column(s) {', '.join(missing)}")
    cls = [str(c).strip().upper() for c in answer["class"]] if "class" in answer.colnames else [""] * len(answer)
    return Table(
        {
            "ra": np.asarray(answer["ra"], float),
            "dec": np.asarray(answer["dec"], float),
            "z": np.asarray(np.ma.filled(np.ma.asarray(answer["z"]).astype(float), np.nan)),
            "class": np.asarray(cls, dtype=str) if cls else np.zeros(0, dtype=str),
        }
    )


def spec_redshifts(
    ra: float,
    dec: float,
    *,
    width_arcsec: float = 1400.0,
    cache_dir: str | Path = ".cache/sdss",
    retries: int = 4,
    backoff_s: float = 2.0,
    label: str = "",
    query: Callable | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Table:
    """Every SDSS spectrum in a ``width_arcsec`` square on (ra, dec), cached; ``query`` replaces the live service."""
    cache_dir = Path(cache_dir)
    cached = _cache_file(cache_dir, ra, dec, width_arcsec)
    what = f"view {label}" if label else f"SDSS query at ({ra:.5f}, {dec:+.5f})"
    if cached.exists():
        return Table.read(cached, format="ascii.ecsv")
    query = query or _query_sdss
    try:
        answer = with_retries(lambda: query(ra, dec, width_arcsec), retries, backoff_s, sleep)
    except RetriesExhausted as err:
        raise DeepCeeError(f"{what}: SDSS spectroscopic query failed after {retries} tries ({err.summary})") from None
    table = _normalise(answer, what)
    cache_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(cached) as tmp:
        table.write(tmp, format="ascii.ecsv", overwrite=True)
    return table


def membership(z, cls, z_cluster: float, dz: float = 0.01) -> np.ndarray:
    """star / target / foreground / field for each spectrum (see module doc)."""
    z = np.asarray(z, float)
    cls = np.asarray([str(c).upper() for c in cls], dtype=str) if len(z) else np.zeros(0, dtype=str)
    out = np.full(len(z), "field", dtype=object)
    window = dz * (1.0 + z_cluster)
    out[np.abs(z - z_cluster) <= window] = "target"
    out[(z < z_cluster - window) & (z < 0.05)] = "foreground"
    out[(cls == "STAR") | (z < 0.002)] = "star"
    return out.astype(str)


def truth_from_sdss(
    labels: Table,
    out_path,
    cfg: dict | None = None,
    query: Callable | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Table:
    """The case studies' truth table for the test views of ``labels`` from SDSS spectra.

    ``cfg``: the ``evaluate.sdss_redshifts`` section (complete in the workflow), checked and filled
    from schemas/evaluate.schema.yaml for callers outside it.
    """
    from deepcee.evaluate.metrics import truth_table
    from deepcee.images.mock.render import TRUTH_COLUMNS

    c = with_defaults("evaluate", {"sdss_redshifts": cfg or {}})["sdss_redshifts"]
    parts = []
    for row in truth_table(labels):
        spec = spec_redshifts(
            float(row["ra"]),
            float(row["dec"]),
            width_arcsec=float(c["width_arcsec"]),
            cache_dir=c["cache_dir"],
            retries=int(c["retries"]),
            backoff_s=float(c["backoff_s"]),
            label=str(row["view"]),
            query=query,
            sleep=sleep,
        )
        n = len(spec)
        parts.append(
            Table(
                {
                    "view": [str(row["view"])] * n,
                    "cluster_id": [str(row["cluster_id"])] * n,
                    "member": membership(spec["z"], spec["class"], float(row["z"]), float(c["dz"])),
                    "group": np.zeros(n, dtype=int),
                    "central": np.zeros(n, dtype=bool),
                    "ra": np.asarray(spec["ra"], float),
                    "dec": np.asarray(spec["dec"], float),
                    "x": np.full(n, np.nan),
                    "y": np.full(n, np.nan),
                    "mag_r": np.full(n, np.nan),
                    "z": np.asarray(spec["z"], float),
                },
                names=TRUTH_COLUMNS,
                dtype=(str, str, str, int, bool) + (float,) * 6,
            )
        )
    table = vstack(parts) if parts else rows_table("truth", [])
    table.meta.update({"source": "sdss_spectra", **{k: (str(v) if k == "cache_dir" else v) for k, v in c.items()}})
    write_table("truth", table, out_path)
    return table
