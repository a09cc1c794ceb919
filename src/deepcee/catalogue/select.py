"""Cluster catalogues: load (VizieR or bundled), normalise to one schema, apply the paper's cuts.

Two faces behind one interface (docs/design.md §4):

* ``vizier``  — WHL12 (Wen, Han & Liu 2012, ``J/ApJS/199/34/table1``) and redMaPPer
  (``J/ApJS/224/1/cat_dr8``) through ``astroquery.vizier``, cached on disk, retried.
  WHL12 names its Abell counterparts in its ``Other`` column.
* ``bundled`` — offline: the real Abell/ACO positions (VizieR VII/110A) cross-matched to
  the real redMaPPer SDSS DR8 v5.10 catalogue; centre, redshift and richness come from
  redMaPPer. It has no BCG magnitude: that column stays masked, never invented.

Every catalogue is normalised to ``SCHEMA`` and written as ECSV with units.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.coordinates import Angle, SkyCoord
from astropy.table import MaskedColumn, Table

from deepcee.core.bundled import check_bundled
from deepcee.core.contracts import read_table, write_table
from deepcee.core.errors import DeepCeeError
from deepcee.core.files import atomic_path
from deepcee.core.network import RetriesExhausted, with_retries

#: The normalised schema every catalogue is turned into (name, unit, dtype).
SCHEMA: tuple[tuple[str, u.UnitBase | None, str], ...] = (
    ("id", None, "U32"),
    ("name", None, "U32"),
    ("ra", u.deg, "f8"),
    ("dec", u.deg, "f8"),
    ("z", None, "f8"),
    ("richness", None, "f8"),
    ("n_members", None, "f8"),
    ("bcg_rmag", u.mag, "f8"),
    ("abell", None, "U16"),
    ("source", None, "U32"),
)
SCHEMA_COLUMNS = tuple(name for name, _, _ in SCHEMA)

#: Source columns each raw catalogue must have (VizieR names / bundled CSV header).
WHL12_COLUMNS = ("WHL", "RAJ2000", "DEJ2000", "zph", "RL*", "N200", "rmag", "Other")
REDMAPPER_VIZIER_COLUMNS = ("ID", "Name", "RAJ2000", "DEJ2000", "zlambda", "lambda")
REDMAPPER_BUNDLED_COLUMNS = ("ID", "name", "RA", "dec", "redshift", "lambda")

_ABELL_IN_TEXT = re.compile(r"\b(?:A|ACO|Abell)\s*(\d{1,4})\b")


# --------------------------------------------------------------------------- reading raw files
def read_text(path: str | Path) -> str:
    """A catalogue file's text, a ``.gz`` or ``.bz2`` one decompressed here: a user's own file cut
    short (no PROVENANCE record to check it against) is one line naming it, not the bare EOFError,
    ValueError or UnicodeDecodeError astropy's reader would end in."""
    from deepcee.core.files import read_decompressed

    path = Path(path)
    raw = read_decompressed(path)
    try:
        return raw.decode()
    except UnicodeDecodeError as err:
        raise DeepCeeError(f"{path}: not a text catalogue ({err.reason} at byte {err.start})") from None


def read_csv_table(path: str | Path) -> Table:
    """A (possibly compressed) CSV catalogue with a header line and at least one row; anything else
    is one line naming the file (an empty file is blamed on the file, not on the cuts)."""
    lines = read_text(path).splitlines()
    if len([line for line in lines if line.strip()]) < 2:
        raise DeepCeeError(f"{path}: no rows (an empty or cut catalogue file)")
    try:
        return Table.read(lines, format="ascii.csv")
    except ValueError as err:
        raise DeepCeeError(f"{path}: not a readable CSV table ({err})") from None


def _require_columns(table: Table, required: Sequence[str], where: str) -> None:
    missing = [name for name in required if name not in table.colnames]
    if missing:
        raise DeepCeeError(f"{where}: missing required column '{missing[0]}' (has: {', '.join(table.colnames)})")


def read_abell_tsv(paths: Sequence[str | Path]) -> Table:
    """Read the ACO (VII/110A) ASU-TSV files: ``ACO, RA 'HH MM.m', Dec '+DD MM', Count, Rich``.

    The files have no header line (``-out.meta=`` was empty); data start after the
    ``----`` separator and ``#`` lines are comments.
    """
    numbers, ras, decs = [], [], []
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise DeepCeeError(f"{path}: Abell catalogue file not found")
        check_bundled(path)  # a cut file still parses, into a smaller sample
        in_data, rows = False, len(numbers)
        for lineno, line in enumerate(read_text(path).splitlines(), start=1):
            if line.startswith("#") or not line.strip():
                continue
            if line.startswith("----"):
                in_data = True
                continue
            if not in_data:
                continue  # the units/header lines VizieR may write before the separator
            fields = line.split("\t")
            if len(fields) < 3:
                raise DeepCeeError(f"{path}:{lineno}: expected ACO, RA, Dec columns, got {line!r}")
            try:
                numbers.append(int(fields[0]))
                ras.append(Angle(fields[1].strip(), unit=u.hourangle).deg)
                decs.append(Angle(fields[2].strip(), unit=u.deg).deg)
            except ValueError as err:
                raise DeepCeeError(f"{path}:{lineno}: unreadable ACO row ({err})") from None
            if not (0 <= ras[-1] < 360 and -90 <= decs[-1] <= 90):
                raise DeepCeeError(
                    f"{path}:{lineno}: ACO {numbers[-1]}: RA {ras[-1]:g} or Dec {decs[-1]:g} deg is off the sky"
                )
        if len(numbers) == rows:  # each file: an empty north file would leave the south, which Dec > 0 empties
            raise DeepCeeError(f"{path}: no rows (no ACO row after a '----' separator line: an empty or cut file)")
    if not numbers:
        raise DeepCeeError("no Abell/ACO catalogue file named (catalogue.bundled.abell)")
    return Table({"aco": numbers, "ra": ras * u.deg, "dec": decs * u.deg})


def read_redmapper_bundled(path: str | Path) -> Table:
    """The bundled redMaPPer DR8 v5.10 CSV → the normalised schema (no BCG magnitude)."""
    path = Path(path)
    if not path.exists():
        raise DeepCeeError(f"{path}: redMaPPer catalogue file not found")
    check_bundled(path)
    raw = read_csv_table(path)
    _require_columns(raw, REDMAPPER_BUNDLED_COLUMNS, str(path))
    ids = [f"RM{i}" for i in _integers(raw, "ID", str(path))]
    lam = _numbers(raw, "lambda", ids, str(path))
    table = _normalised(
        ids=ids,
        names=[str(n) for n in raw["name"]],
        ra=_numbers(raw, "RA", ids, str(path)),
        dec=_numbers(raw, "dec", ids, str(path)),
        z=_numbers(raw, "redshift", ids, str(path)),
        richness=lam,
        n_members=lam,
        bcg_rmag=None,
        abell=[""] * len(raw),
        source="redmapper-dr8-v5.10",
    )
    return _drop_missing(
        table, ids, str(path), required={"ra": "RA", "dec": "dec"}, droppable={"z": "redshift", "n_members": "lambda"}
    )


def normalise_whl12(raw: Table, where: str = "WHL12") -> Table:
    """VizieR ``J/ApJS/199/34/table1`` → the normalised schema.

    richness = RL* (eq. 4 of the paper), n_members = N200, bcg_rmag = the BCG's r mag,
    abell = the Abell number named in ``Other`` (empty when none).
    """
    _require_columns(raw, WHL12_COLUMNS, where)
    ids = [f"WHL{str(n).strip().replace(' ', '')}" for n in raw["WHL"]]
    table = _normalised(
        ids=ids,
        names=[f"WHL {str(n).strip()}" for n in raw["WHL"]],
        ra=_numbers(raw, "RAJ2000", ids, where),
        dec=_numbers(raw, "DEJ2000", ids, where),
        z=_numbers(raw, "zph", ids, where),
        richness=_numbers(raw, "RL*", ids, where),
        n_members=_numbers(raw, "N200", ids, where),
        bcg_rmag=_numbers(raw, "rmag", ids, where),
        abell=[abell_name_from_text(_as_text(v)) for v in raw["Other"]],
        source="whl12-vizier",
    )
    return _drop_missing(
        table,
        ids,
        where,
        required={"ra": "RAJ2000", "dec": "DEJ2000", "richness": "RL*"},
        droppable={"z": "zph", "n_members": "N200"},
    )


def normalise_redmapper_vizier(raw: Table, where: str = "redMaPPer") -> Table:
    """VizieR ``J/ApJS/224/1/cat_dr8`` (redMaPPer v6.3) → the normalised schema."""
    _require_columns(raw, REDMAPPER_VIZIER_COLUMNS, where)
    ids = [f"RM{i}" for i in _integers(raw, "ID", where)]
    lam = _numbers(raw, "lambda", ids, where)
    table = _normalised(
        ids=ids,
        names=[_as_text(n).strip() for n in raw["Name"]],
        ra=_numbers(raw, "RAJ2000", ids, where),
        dec=_numbers(raw, "DEJ2000", ids, where),
        z=_numbers(raw, "zlambda", ids, where),
        richness=lam,
        n_members=lam,
        bcg_rmag=None,
        abell=[""] * len(raw),
        source="redmapper-v6.3-vizier",
    )
    return _drop_missing(
        table,
        ids,
        where,
        required={"ra": "RAJ2000", "dec": "DEJ2000"},
        droppable={"z": "zlambda", "n_members": "lambda"},
    )


def abell_name_from_text(text: str) -> str:
    """``'A1795; RXC J1348.8+2635'`` → ``'A1795'``; no Abell counterpart → ``''``."""
    match = _ABELL_IN_TEXT.search(text or "")
    return f"A{int(match.group(1))}" if match else ""


def _as_text(value) -> str:
    if isinstance(value, bytes):
        return value.decode()
    if np.ma.is_masked(value):
        return ""
    return str(value)


def _filled(column) -> np.ndarray:
    """A numeric column as floats, masked entries as NaN."""
    return np.ma.filled(np.ma.asarray(column, dtype=float), np.nan)


def _numbers(raw: Table, column: str, ids: Sequence[str], where: str) -> np.ndarray:
    """``raw[column]`` as floats, missing (masked, blank) as NaN; text that is not a number is
    a one-line error naming the file, the row (its id) and the column."""
    values = raw[column]
    if values.dtype.kind in "biuf":
        return _filled(values)
    mask = np.ma.getmaskarray(values)
    out = np.full(len(values), np.nan)
    for i, value in enumerate(np.asarray(values)):
        text = _as_text(value).strip()
        if mask[i] or not text:
            continue
        try:
            out[i] = float(text)
        except ValueError:
            raise DeepCeeError(
                f"{where}: row {i + 1} (id {ids[i]}): column '{column}' is not a number ({text[:40]!r})"
            ) from None
    return out


def _integers(raw: Table, column: str, where: str) -> list[int]:
    """An id column as integers; a missing or non-integer id is a one-line error naming the row."""
    values = raw[column]
    mask = np.ma.getmaskarray(values)
    out = []
    for i, value in enumerate(np.asarray(values)):
        text = _as_text(value).strip()
        try:
            if mask[i] or not text:
                raise ValueError
            out.append(int(text))
        except ValueError:
            raise DeepCeeError(
                f"{where}: row {i + 1}: column '{column}' is not an integer id "
                f"({'missing' if mask[i] or not text else repr(text[:40])})"
            ) from None
    return out


def _check_values(table: Table, ids: Sequence[str], where: str, raw_names: dict[str, str]) -> None:
    """Refuse a catalogue that cannot be a cluster catalogue, naming the file, the row and the column:
    a repeated id (two rows would become one cluster twice), RA outside [0, 360), Dec outside
    [-90, 90], a redshift or richness that is infinite or not positive. Missing values are left
    to ``_drop_missing``."""
    seen: dict[str, int] = {}
    for i, cluster_id in enumerate(ids):
        if cluster_id in seen:
            raise DeepCeeError(
                f"{where}: row {i + 1}: id {cluster_id} repeats row {seen[cluster_id] + 1} (ids must be unique)"
            )
        seen[cluster_id] = i
    checks = {
        "ra": (lambda v: (v >= 0) & (v < 360), "outside [0, 360) deg"),
        "dec": (lambda v: (v >= -90) & (v <= 90), "outside [-90, 90] deg"),
        "z": (lambda v: np.isfinite(v) & (v > 0), "not a positive finite redshift"),
        "n_members": (lambda v: np.isfinite(v) & (v > 0), "not a positive finite member count"),
        "richness": (lambda v: np.isfinite(v) & (v > 0), "not a positive finite richness"),
    }
    for name, (ok, what) in checks.items():
        values = np.asarray(table[name], dtype=float)
        present = ~np.isnan(values)
        bad = np.flatnonzero(present & ~ok(np.where(present, values, 0.0)))
        if len(bad):
            i = int(bad[0])
            column = raw_names.get(name, name)
            more = f" (and {len(bad) - 1} more rows)" if len(bad) > 1 else ""
            raise DeepCeeError(f"{where}: row {i + 1} (id {ids[i]}): column '{column}' = {values[i]:g} is {what}{more}")


def _drop_missing(
    table: Table, ids: Sequence[str], where: str, required: dict[str, str], droppable: dict[str, str]
) -> Table:
    """Refuse rows missing a value the stage needs; drop (and count) rows missing a value that
    the paper's cuts (§2.1: redshift range, member count) would reject anyway.

    The counts go to ``table.meta['dropped']`` as ``"dropped: missing z (N rows)"`` (keyed by
    the normalised column) for the stage summary and log; no row with a NaN in these columns is kept.
    Values present but impossible are refused first (``_check_values``).
    """
    _check_values(table, ids, where, {**required, **droppable})
    for name, column in required.items():
        bad = np.flatnonzero(~np.isfinite(np.asarray(table[name], dtype=float)))
        if len(bad):
            i = int(bad[0])
            more = f" (and {len(bad) - 1} more rows)" if len(bad) > 1 else ""
            raise DeepCeeError(f"{where}: row {i + 1} (id {ids[i]}): column '{column}' has no value{more}")
    keep = np.ones(len(table), bool)
    dropped = []
    for name in droppable:
        missing = keep & ~np.isfinite(np.asarray(table[name], dtype=float))
        if missing.any():
            dropped.append(f"dropped: missing {name} ({int(missing.sum())} rows)")
            keep &= ~missing
    if not dropped:
        return table
    out = table[keep]
    out.meta["dropped"] = dropped
    return out


def _normalised(*, ids, names, ra, dec, z, richness, n_members, bcg_rmag, abell, source) -> Table:
    n = len(ids)
    table = Table()
    table["id"] = np.asarray(ids, dtype="U32")
    table["name"] = np.asarray(names, dtype="U32")
    table["ra"] = np.asarray(_filled(ra), dtype=float) * u.deg
    table["dec"] = np.asarray(_filled(dec), dtype=float) * u.deg
    table["z"] = np.asarray(_filled(z), dtype=float)
    table["richness"] = np.asarray(_filled(richness), dtype=float)
    table["n_members"] = np.asarray(_filled(n_members), dtype=float)
    if bcg_rmag is None:
        table["bcg_rmag"] = MaskedColumn(np.full(n, np.nan), mask=np.ones(n, bool), unit=u.mag)
    else:
        values = np.asarray(_filled(bcg_rmag), dtype=float)
        table["bcg_rmag"] = MaskedColumn(values, mask=~np.isfinite(values), unit=u.mag)
    table["abell"] = np.asarray(abell, dtype="U16")
    table["source"] = np.full(n, source, dtype="U32")
    return table


# --------------------------------------------------------------------------- the bundled path


def cross_match_abell(redmapper: Table, abell: Table, radius_arcmin: float) -> Table:
    """redMaPPer clusters with an Abell/ACO position within ``radius_arcmin``.

    Each Abell cluster takes its nearest redMaPPer cluster; a redMaPPer cluster claimed
    by several Abell entries keeps the closest. The result keeps redMaPPer's centre,
    redshift and richness, adds the Abell name and the match separation.
    """
    rm_coords = SkyCoord(redmapper["ra"], redmapper["dec"])
    aco_coords = SkyCoord(abell["ra"], abell["dec"])
    idx, sep, _ = aco_coords.match_to_catalog_sky(rm_coords)
    sep_arcmin = sep.to_value(u.arcmin)
    within = sep_arcmin <= radius_arcmin
    best: dict[int, tuple[float, int]] = {}
    for aco_row in np.flatnonzero(within):
        rm_row = int(idx[aco_row])
        if rm_row not in best or sep_arcmin[aco_row] < best[rm_row][0]:
            best[rm_row] = (float(sep_arcmin[aco_row]), int(abell["aco"][aco_row]))
    rows = sorted(best)
    matched = redmapper[rows]
    matched["abell"] = [f"A{best[r][1]}" for r in rows]
    matched["abell_sep_arcmin"] = [best[r][0] for r in rows] * u.arcmin
    matched["source"] = "aco-x-redmapper-dr8-v5.10"
    return matched


# --------------------------------------------------------------------------- VizieR with cache + retries


@dataclass(frozen=True)
class VizierSettings:
    cache_dir: Path
    retries: int = 4
    backoff_s: float = 2.0
    timeout_s: float = 120.0


def cache_path(catalog_id: str, cache_dir: str | Path) -> Path:
    return Path(cache_dir) / (catalog_id.replace("/", "_") + ".ecsv")


def fetch_vizier(catalog_id: str, settings: VizierSettings, sleep: Callable[[float], None] = time.sleep) -> Table:
    """Every row and column of one VizieR table, from the disk cache or the network.

    Network errors are retried with exponential backoff; after the last try the error
    says how to pre-fetch on a machine with the network or switch to ``bundled``.
    """
    cached = cache_path(catalog_id, settings.cache_dir)
    if cached.exists():
        return Table.read(cached, format="ascii.ecsv")

    from astroquery import cache_conf
    from astroquery.vizier import Vizier

    vizier = Vizier(columns=["**"], row_limit=-1, timeout=settings.timeout_s)

    def ask():
        with cache_conf.set_temp("cache_active", False):
            return vizier.get_catalogs(catalog_id)

    try:
        tables = with_retries(ask, settings.retries, settings.backoff_s, sleep)
    except RetriesExhausted as err:
        raise DeepCeeError(
            f"VizieR unreachable for '{catalog_id}' after {settings.retries} tries"
            f" ({err.summary}); pre-fetch it on a machine with the"
            f" network (`snakemake --cores 1 download_vizier`, it caches to {settings.cache_dir}),"
            f" or set catalogue.source: bundled"
        ) from None
    if len(tables) == 0:
        raise DeepCeeError(f"VizieR returned no table for '{catalog_id}'")
    table = tables[0]
    table.meta = {"vizier_catalog": catalog_id, "retrieved": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    with atomic_path(cached) as tmp:
        table.write(tmp, format="ascii.ecsv")
    return table


# --------------------------------------------------------------------------- cuts


@dataclass(frozen=True)
class Cuts:
    z_min: float = 0.1
    z_max: float = 0.2
    min_members: float = 20
    dec_min: float = 0.0
    abell_only: bool = True

    @classmethod
    def from_config(cls, cfg: dict) -> Cuts:
        return cls(**{k: cfg[k] for k in ("z_min", "z_max", "min_members", "dec_min", "abell_only")})

    def steps(self) -> list[tuple[str, Callable[[Table], np.ndarray]]]:
        steps = []
        if self.abell_only:
            steps.append(("Abell counterpart", lambda t: np.char.str_len(np.asarray(t["abell"], dtype=str)) > 0))
        steps += [
            (
                f"{self.z_min} < z < {self.z_max}",
                lambda t: (np.asarray(t["z"]) > self.z_min) & (np.asarray(t["z"]) < self.z_max),
            ),
            (f"members >= {self.min_members:g}", lambda t: np.asarray(t["n_members"]) >= self.min_members),
            (f"Dec > {self.dec_min}", lambda t: np.asarray(t["dec"].quantity.to_value(u.deg)) > self.dec_min),
        ]
        return steps


def apply_cuts(table: Table, cuts: Cuts, where: str = "catalogue") -> tuple[Table, list[dict]]:
    """Apply the cuts in order; return the selection and the count after each cut.

    An empty selection is an error naming the cuts that emptied it.
    """
    counts = [{"cut": "input", "n": len(table)}]
    keep = np.ones(len(table), dtype=bool)
    applied = []
    for label, test in cuts.steps():
        with np.errstate(invalid="ignore"):
            keep &= np.asarray(test(table), dtype=bool)
        applied.append(label)
        counts.append({"cut": label, "n": int(keep.sum())})
        if not keep.any():
            raise DeepCeeError(
                f"{where}: the selection is empty after the cuts {' & '.join(applied)}"
                f" ({len(table)} rows in); loosen catalogue.cuts"
            )
    return table[keep], counts


# --------------------------------------------------------------------------- ECSV in and out


def write_catalogue(table: Table, path: str | Path, **meta) -> None:
    """Write a normalised catalogue as ECSV (units and metadata kept), atomically."""
    out = table.copy()
    out.meta.update(meta)
    write_table("catalogue", out, path)


def read_catalogue(path: str | Path) -> Table:
    """Read a catalogue written by :func:`write_catalogue`, checking the schema."""
    return read_table("catalogue", path)


def has_bcg_magnitudes(table: Table) -> bool:
    column = table["bcg_rmag"]
    values = np.ma.filled(np.ma.asarray(column, dtype=float), np.nan)
    return bool(np.isfinite(values).any())


# --------------------------------------------------------------------------- the stage as one call


def load_sources(
    cfg: dict, whl12_path: str | Path | None = None, redmapper_path: str | Path | None = None
) -> tuple[Table, Table, dict]:
    """The parent catalogue (before cuts) and the comparison catalogue for ``catalogue.source``.

    For ``vizier`` the raw tables come from the download rule's cached files; for
    ``bundled`` from ``resources/``. Returns (parent, redmapper, notes).
    """
    source = cfg["source"]
    if source == "vizier":
        whl12 = normalise_whl12(Table.read(whl12_path, format="ascii.ecsv"), str(whl12_path))
        redmapper = normalise_redmapper_vizier(Table.read(redmapper_path, format="ascii.ecsv"), str(redmapper_path))
        return (
            whl12,
            redmapper,
            {
                "parent": f"WHL12 (VizieR {cfg['vizier']['whl12']})",
                "comparison": f"redMaPPer v6.3 (VizieR {cfg['vizier']['redmapper']})",
                "members_column": "N200",
            },
        )
    if source == "bundled":
        redmapper = read_redmapper_bundled(cfg["bundled"]["redmapper"])
        abell = read_abell_tsv(cfg["bundled"]["abell"])
        parent = cross_match_abell(redmapper, abell, cfg["match_radius_arcmin"])
        return (
            parent,
            redmapper,
            {
                "parent": f"Abell/ACO (VII/110A, {len(abell)} clusters) matched within "
                f"{cfg['match_radius_arcmin']} arcmin to redMaPPer DR8 v5.10",
                "comparison": "redMaPPer DR8 v5.10 (bundled)",
                "members_column": "lambda",
                "abell_clusters": len(abell),
            },
        )
    raise DeepCeeError(f"config key 'catalogue.source': unknown source '{source}'")


def select_sample(parent: Table, cfg: dict) -> tuple[Table, list[dict]]:
    """The paper's cuts from config, then ``max_clusters`` (shrunken runs), sorted by id."""
    sample, counts = apply_cuts(parent, Cuts.from_config(cfg["cuts"]), where=parent.meta.get("file", "catalogue"))
    sample = sample[np.argsort(np.asarray(sample["ra"]), kind="stable")]
    if cfg.get("max_clusters"):
        sample = sample[: cfg["max_clusters"]]
        counts.append({"cut": f"max_clusters = {cfg['max_clusters']}", "n": len(sample)})
    return sample, counts
