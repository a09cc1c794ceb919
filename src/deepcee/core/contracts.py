"""One contract per results file that another stage or the paper reads.

Each file under ``results/`` that crosses a stage boundary is declared here once: its
path pattern, its columns (name, dtype, unit) or, for a JSON summary, the keys a reader
relies on. ``read_table``/``write_table`` and ``read_summary``/``write_summary_checked``
are the one reader and the one writer; a file that breaks its contract is refused with
one DeepCeeError line naming the file and the column or key. Tests build their fake
files from the same declarations (tests/paper_fakes.py), so producer, consumer and fakes
cannot drift apart.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepcee.core.errors import DamagedFileError, DeepCeeError
from deepcee.core.files import config_hash, read_ecsv, software_versions, write_ecsv, write_json, write_text

#: dtype name -> numpy dtype kinds that satisfy it.
_KINDS = {"str": "UOS", "float": "f", "int": "iu", "bool": "b"}
_PY_TYPES = {"str": str, "float": float, "int": int, "bool": bool}


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str  # one of _KINDS
    unit: str | None = None
    description: str = ""


@dataclass(frozen=True)
class TableContract:
    """A table file: ``format`` is ``ecsv`` (units kept) or ``csv`` (plain, full-precision numbers)."""

    name: str
    path: str  # pattern relative to the results directory; {name} is a wildcard
    format: str
    columns: tuple[Column, ...]

    @property
    def colnames(self) -> list[str]:
        return [c.name for c in self.columns]


@dataclass(frozen=True)
class SummaryContract:
    """A JSON summary: ``keys`` maps a dotted key to its type (``number``, ``str``, ``object``, ``list``)."""

    name: str
    path: str
    keys: dict[str, str]


def _cols(*spec: tuple) -> tuple[Column, ...]:
    return tuple(Column(*s) for s in spec)


_CATALOGUE = _cols(
    ("id", "str"),
    ("name", "str"),
    ("ra", "float", "deg"),
    ("dec", "float", "deg"),
    ("z", "float"),
    ("richness", "float"),
    ("n_members", "float"),
    ("bcg_rmag", "float", "mag"),
    ("abell", "str"),
    ("source", "str"),
)
_LABELS = _cols(
    ("view", "str"),
    ("png", "str"),
    ("fits", "str"),
    ("cluster_id", "str"),
    ("ra", "float", "deg"),
    ("dec", "float", "deg"),
    ("z", "float"),
    ("richness", "float"),
    ("bcg_rmag", "float", "mag"),
    ("offset_ra_arcsec", "float", "arcsec"),
    ("offset_dec_arcsec", "float", "arcsec"),
    ("x", "float"),
    ("y", "float"),
    ("x0", "float"),
    ("y0", "float"),
    ("x1", "float"),
    ("y1", "float"),
    ("split", "str", None, "train or test"),
    ("flipped", "bool", None, "a left-right flipped copy"),
)
#: The hard negatives (images.mock.negative_fraction): training PNGs with nothing in them to box.
_NEGATIVES = _cols(
    ("view", "str"),
    ("png", "str"),
    ("fits", "str"),
    ("split", "str", None, "train (hard negatives are training images only)"),
    ("flipped", "bool", None, "a left-right flipped copy"),
)
_PREDICTIONS = _cols(
    ("view", "str"),
    ("x", "float", "pix"),
    ("y", "float", "pix"),
    ("x0", "float", "pix"),
    ("y0", "float", "pix"),
    ("x1", "float", "pix"),
    ("y1", "float", "pix"),
    ("score", "float", None, "confidence, 0-1"),
    ("ra", "float", "deg", "the cluster centre: the box centre, or the BCG near it (on_bcg)"),
    ("dec", "float", "deg"),
    ("box_ra", "float", "deg", "the box centre (the paper's cluster position)"),
    ("box_dec", "float", "deg"),
    ("on_bcg", "bool", None, "x, y, ra, dec moved to the brightest galaxy near the box centre"),
)
#: Tables 2 and 3 of the paper (section 4): one row per confidence-score threshold in per cent.
_SWEEP = _cols(
    ("threshold", "float", "percent"),
    ("tp", "int"),
    ("fp", "int"),
    ("fn", "int"),
    ("precision", "float"),
    ("recall", "float"),
    ("f1", "float"),
    # passing boxes (TP + FP under the paper's counting) and, of them, the extra boxes near a found cluster
    ("duplicates", "int"),
    ("passing", "int"),
)
_LOSSES = _cols(
    ("step", "int"),
    ("loss_total", "float"),
    ("loss_rpn_objectness", "float"),
    ("loss_rpn_box", "float"),
    ("loss_classifier", "float"),
    ("loss_box_reg", "float"),
    ("lr", "float"),
    ("seconds", "float", "s"),
)

#: The real-sky test per field (and pooled) at the pooled operating threshold (evaluate.stage.real_sky_fields).
_REAL_SKY_FIELDS = _cols(
    ("field", "str", None, "the real SDSS test field (folder name), or 'pooled'"),
    ("images", "int"),
    ("clusters", "int"),
    ("threshold", "float", "percent", "the pooled sweep's operating threshold"),
    ("tp", "int"),
    ("fp", "int"),
    ("fn", "int"),
    ("precision", "float"),
    ("recall", "float"),
    ("f1", "float"),
    ("f1_lo", "float", None, "bootstrap interval over the field's clusters (evaluate.bootstrap.level)"),
    ("f1_hi", "float"),
    ("best_threshold", "float", "percent", "the field's own best-F1 threshold"),
    ("best_f1", "float"),
)
#: The real-sky test by member kind (evaluate/real_sky_members.py): galsim and real as Table 2's row at
#: each kind's own operating threshold; the controls (scattered, blank) as views with a passing box.
_REAL_SKY_MEMBERS = _cols(
    ("kind", "str", None, "galsim, real, scattered or blank (evaluate.real_sky.member_kinds)"),
    ("views", "int"),
    ("threshold", "float", "percent", "galsim, controls: the galsim views' operating threshold; real: its own best"),
    ("tp", "int", None, "-1 for a control (no cluster)"),
    ("fp", "int"),
    ("fn", "int", None, "-1 for a control"),
    ("precision", "float"),
    ("recall", "float"),
    ("f1", "float", None, "NaN for a control"),
    ("f1_lo", "float", None, "bootstrap interval over the kind's clusters (evaluate.bootstrap.level)"),
    ("f1_hi", "float"),
    ("views_with_box", "int", None, "views with a box passing the threshold"),
    ("fraction_with_box", "float"),
    ("fraction_lo", "float", None, "Wilson interval (evaluate.bootstrap.level); NaN for galsim and real"),
    ("fraction_hi", "float"),
    ("boxes_per_view", "float"),
)
#: Each real test field's own Table-2 sweep, stacked (the figure of the fields).
_REAL_SKY_FIELD_SWEEPS = _cols(("field", "str"), *((c.name, c.dtype, c.unit, c.description) for c in _SWEEP))
#: Boxes the model gives on the real test fields with nothing injected (evaluate.blank_sky).
_BLANK_DETECTIONS = _cols(
    ("field", "str"),
    ("tile", "int", None, "which square crop of the field"),
    ("x", "float", "pix", "box centre, PNG pixels of the crop"),
    ("y", "float", "pix"),
    ("score", "float"),
    ("ra", "float", "deg", "box centre on the sky (the field's own WCS)"),
    ("dec", "float", "deg"),
    ("box_arcsec", "float", "arcsec", "the box's mean side"),
    ("known", "bool", None, "within the match radius of a redMaPPer, Abell/ACO or MCXC cluster"),
    ("catalogue_id", "str", None, "the nearest matched catalogue cluster, or empty"),
)

#: The views plan (src/deepcee/images/views.py): one row per image to render or download.
_VIEWS = _cols(
    ("view", "str"),
    ("cluster_id", "str"),
    ("k", "int", None, "view number of the cluster"),
    ("ra", "float", "deg"),
    ("dec", "float", "deg"),
    ("z", "float"),
    ("richness", "float"),
    ("bcg_rmag", "float"),
    ("offset_ra_arcsec", "float", "arcsec"),
    ("offset_dec_arcsec", "float", "arcsec"),
    ("centre_ra", "float", "deg"),
    ("centre_dec", "float", "deg"),
    ("split", "str", None, "train or test, fixed by the plan (a comparison set: all test)"),
    ("background", "str", None, "synthetic or sdss_blank (a real SDSS field under the injected cluster)"),
    ("field", "str", None, "the real SDSS field of an sdss_blank view (its folder's name); empty for a synthetic one"),
    ("shard", "int"),
)
#: Every object drawn in a mock view (or, from SDSS, every spectrum near a test view) for the case studies.
_TRUTH = _cols(
    ("view", "str"),
    ("cluster_id", "str"),
    ("member", "str", None, "target, cluster (another catalogued one), group, field, star or foreground"),
    ("group", "int", None, "uncatalogued group number, 0 = none"),
    ("central", "bool", None, "the BCG / BGG"),
    ("ra", "float", None, "deg"),
    ("dec", "float", None, "deg"),
    ("x", "float", None, "FITS-array pixel, NaN for SDSS spectra"),
    ("y", "float", None, "FITS-array pixel, NaN for SDSS spectra"),
    ("mag_r", "float"),
    ("z", "float"),
)
#: Every prediction above the chosen threshold with its distance to the true cluster (Fig. 13).
_DISTANCES = (
    _cols(("pred_index", "int", None, "row in the predictions file"), ("view", "str"), ("cluster_id", "str"))
    + _PREDICTIONS[1:7]
    + _cols(
        ("score", "float"),
        ("ra", "float", "deg"),
        ("dec", "float", "deg"),
        ("z", "float", None, "the true cluster's"),
        ("separation_arcsec", "float", None, "arcsec"),
        ("distance_kpc", "float", None, "kpc"),
        ("within", "bool"),
        ("tp_centre", "bool", None, "the cluster's one true positive"),
    )
)
#: The test images' truth with whether each cluster was found (Figs 7, 14, 15).
_RECOVERED = tuple(c for c in _LABELS if c.name not in ("split", "flipped")) + _cols(
    ("best_score_within", "float"),
    ("recovered", "bool"),
    ("tp_distance_kpc", "float", None, "kpc"),
)
_FALSE_POSITIVES = _DISTANCES + _cols(("fp_class", "str"), ("structure_z", "float"))
_CASE_STUDIES = _cols(
    ("target_kpc", "float", None, "the paper's case distance, kpc"),
    ("truth_index", "int"),
    ("view", "str"),
    ("cluster_id", "str"),
    ("z", "float"),
    ("distance_kpc", "float", None, "kpc"),
    ("score", "float"),
    ("pred_index", "int"),
    ("figure", "str"),
    ("n_target_in_top_box", "int"),
    ("n_group_in_top_box", "int"),
    ("n_field_in_top_box", "int"),
)
#: Table 1 of the paper (section 4): example test clusters.
_EXAMPLES = _cols(
    ("id", "str"),
    ("view", "str"),
    ("cluster_id", "str"),
    ("ra", "float", "deg"),
    ("dec", "float", "deg"),
    ("score_percent", "float", "percent"),
    ("z", "float"),
    ("bcg_rmag", "float", "mag"),
    ("richness", "float"),
)
_TILES = _cols(
    ("tile", "str"),
    ("index", "int", None, "the cell the tile owns (search/tiles.py StripGrid)"),
    ("ra", "float", "deg"),
    ("dec", "float", "deg"),
    ("shard", "int"),
)
#: Every box of one search shard at or above score_min (src/deepcee/search/stage.py).
_SEARCH_DETECTIONS = _cols(
    ("tile", "str"),
    ("tile_index", "int"),
    ("x0", "float", "pix"),
    ("y0", "float", "pix"),
    ("x1", "float", "pix"),
    ("y1", "float", "pix"),
    ("score", "float"),
    ("ra", "float", "deg"),
    ("dec", "float", "deg"),
    ("box_arcsec", "float", "arcsec"),
    ("owner", "int", None, "the tile (cell index) owning the centre"),
    ("owned", "bool"),
)
_CANDIDATES = _cols(
    ("id", "str"),
    ("ra", "float", "deg"),
    ("dec", "float", "deg"),
    ("score", "float"),
    ("box_arcsec", "float", "arcsec"),
    ("n_detections", "int"),
    ("tiles", "str", None, "';'-joined"),
    *[
        col
        for cat in ("redmapper", "abell", "mcxc")
        for col in (
            (f"{cat}_id", "str"),
            (f"{cat}_z", "float"),
            (f"{cat}_richness", "float"),
            (f"{cat}_sep_arcmin", "float", "arcmin"),
        )
    ],
    ("known", "bool"),
    ("box_ra", "float", "deg"),
    ("box_dec", "float", "deg"),
    ("on_bcg", "bool"),
    ("z_est", "float"),
    ("z_flag", "str"),
    ("richness_est", "float"),
    ("richness_flag", "str"),
    ("red_excess", "float"),
    ("confirmed", "bool"),
    ("parent", "str"),
)
#: The redshift stage's estimate for every detection above the chosen threshold (src/deepcee/redshift/stage.py).
_REDSHIFT_DETECTIONS = _cols(
    ("view", "str"),
    ("score", "float"),
    ("ra", "float", None, "deg"),
    ("dec", "float", None, "deg"),
    ("x0", "float", None, "pix"),
    ("y0", "float", None, "pix"),
    ("x1", "float", None, "pix"),
    ("y1", "float", None, "pix"),
    ("z_est", "float"),
    ("z_flag", "str"),
    ("richness_est", "float"),
    ("richness_flag", "str"),
    ("gr_rs", "float"),
    ("ri_rs", "float"),
    ("n_box", "int"),
    ("colour_excess", "float"),
    ("member_excess", "float"),
    ("member_coverage", "float"),
    ("matched", "bool"),
    ("primary", "bool"),
    ("cluster_id", "str"),
    ("z_cat", "float"),
    ("lambda_cat", "float"),
    ("distance_kpc", "float", None, "kpc"),
)

TABLES: dict[str, TableContract] = {
    c.name: c
    for c in (
        TableContract("catalogue", "01_catalogue/{sample,redmapper}.ecsv", "ecsv", _CATALOGUE),
        TableContract("labels", "{02_images,05_redmapper,04_evaluate/real_sky}/labels.ecsv", "ecsv", _LABELS),
        TableContract("negatives", "02_images/negatives.ecsv", "ecsv", _NEGATIVES),
        TableContract("losses", "03_train/losses.csv", "csv", _LOSSES),
        TableContract(
            "predictions",
            "{04_evaluate/predictions_test,05_redmapper/predictions,04_evaluate/real_sky/predictions}.ecsv",
            "ecsv",
            _PREDICTIONS,
        ),
        TableContract(
            "sweep", "tables/{table2_sweep_test,table3_sweep_redmapper,table_real_sky_sweep}.csv", "csv", _SWEEP
        ),
        TableContract("views", "{02_images,05_redmapper,04_evaluate/real_sky}/views.ecsv", "ecsv", _VIEWS),
        TableContract("real_sky_fields", "tables/table_real_sky_fields.csv", "csv", _REAL_SKY_FIELDS),
        TableContract("real_sky_members", "tables/table_real_sky_members.csv", "csv", _REAL_SKY_MEMBERS),
        TableContract("real_sky_field_sweeps", "04_evaluate/real_sky/field_sweeps.csv", "csv", _REAL_SKY_FIELD_SWEEPS),
        TableContract("blank_detections", "04_evaluate/real_sky/blank/detections.ecsv", "ecsv", _BLANK_DETECTIONS),
        TableContract("truth", "{02_images/truth/truth_{shard},04_evaluate/sdss_redshifts_test}.ecsv", "ecsv", _TRUTH),
        TableContract("distances", "{04_evaluate/distances_test,05_redmapper/distances}.ecsv", "ecsv", _DISTANCES),
        TableContract("recovered", "{04_evaluate/recovered_test,05_redmapper/recovered}.ecsv", "ecsv", _RECOVERED),
        TableContract("false_positives", "04_evaluate/false_positives.ecsv", "ecsv", _FALSE_POSITIVES),
        TableContract("case_studies", "04_evaluate/case_studies.ecsv", "ecsv", _CASE_STUDIES),
        TableContract("examples", "tables/table1_examples.csv", "csv", _EXAMPLES),
        TableContract("tiles", "07_search/tiles.ecsv", "ecsv", _TILES),
        TableContract("search_detections", "07_search/shards/shard_{shard}.ecsv", "ecsv", _SEARCH_DETECTIONS),
        TableContract("candidates", "07_search/candidates.ecsv", "ecsv", _CANDIDATES),
        TableContract(
            "redshift_detections", "08_redshift/detections_{test,redmapper}.ecsv", "ecsv", _REDSHIFT_DETECTIONS
        ),
    )
}

_EVALUATE_KEYS = {
    "counts": "object",
    "chosen_threshold": "number",
    "chosen_by": "str",
    "distance_kpc": "number",
    "sigma_kpc": "number",
    "fraction_predictions_within": "number",
    # the counting rule in force, boxes per image at score 0 and the 0 % row at 300 per image
    "extra_boxes": "str",
    "boxes_per_image_at_zero": "object",
    "zero_row_normalised_300": "object",
    "other_extra_boxes_rule": "object",
    # the cluster position in force (box | bcg: deepcee.detector.centring); with bcg, box_centre holds
    # the same evaluation at the box centres (the paper's position)
    "centre": "str",
    # bootstrap intervals over test clusters (deepcee.evaluate.bootstrap)
    "intervals_at_chosen.f1": "list",
    "intervals_at_chosen.precision": "list",
    "intervals_at_chosen.recall": "list",
    "sweep_intervals": "list",
}
SUMMARIES: dict[str, SummaryContract] = {
    c.name: c
    for c in (
        #: counts.abell_clusters is there only where the source names the Abell catalogue (bundled path)
        SummaryContract(
            "catalogue_summary", "01_catalogue/summary.json", {"counts.sample": "number", "counts.parent": "number"}
        ),
        SummaryContract("images_summary", "02_images/summary.json", {"counts": "object"}),
        SummaryContract(
            "train_summary", "03_train/summary.json", {"counts.steps": "number", "device": "str", "seconds": "number"}
        ),
        SummaryContract("evaluate_summary", "04_evaluate/summary.json", _EVALUATE_KEYS),
        #: KS tests of section 4.2: properties.<z|bcg_rmag|richness> hold ``available`` and, when
        #: available, ``statistic``, ``pvalue`` and ``critical_value``.
        SummaryContract(
            "ks",
            "{04_evaluate/ks_test,05_redmapper/ks}.json",
            {"chosen_threshold_percent": "number", "alpha": "number", "properties": "object"},
        ),
        SummaryContract(
            "redmapper_summary", "05_redmapper/summary.json", {**_EVALUATE_KEYS, "region.area_deg2": "number"}
        ),
        SummaryContract(
            "real_sky_summary",
            "04_evaluate/real_sky/summary.json",
            {**_EVALUATE_KEYS, "f1_gap": "number", "synthetic.at_chosen": "object", "blank_frames": "list"},
        ),
        SummaryContract(
            "blank_sky_summary",
            "04_evaluate/real_sky/blank/summary.json",
            {
                "threshold": "number",
                "area_deg2": "number",
                "n_boxes": "number",
                "n_false": "number",
                "false_per_deg2": "number",
                "false_per_deg2_interval": "list",
                "fields": "list",
            },
        ),
        #: the realism benchmark (deepcee.images.realism): mock crops against real SDSS crops
        SummaryContract(
            "realism_summary",
            "02_images/realism.json",
            {"auc.logistic.auc": "number", "auc.logistic.ci": "list", "n_real_fields": "number", "n_crops": "object"},
        ),
        SummaryContract(
            "search_summary",
            "07_search/summary.json",
            {
                "source": "str",
                "area_deg2": "number",
                "n_tiles": "number",
                "tiles_per_deg2": "number",
                "shards": "number",
                "score_threshold": "number",
                "merge_radius_arcsec": "number",
                "match_radius_arcmin": "number",
                "n_candidates_above_threshold": "number",
                "n_known": "number",
                "n_new": "number",
                "completeness": "object",
                "purity": "object",
                # the red-sequence confirmed candidates (deepcee.search.confirm), the operating selection
                "confirmation": "object",
                "timings": "object",
                # the candidates' z and λ (deepcee.search.candidate_redshifts.redshift_summary)
                "redshift": "object",
            },
        ),
        SummaryContract(
            "redshift_summary",
            "08_redshift/summary.json",
            {"calibration": "object", "outlier_threshold": "number", "sets": "object"},
        ),
    )
}

#: Keys of one property of ``ks.properties`` when ``available`` is true.
KS_PROPERTY_KEYS = {"available": "bool", "statistic": "number", "pvalue": "number", "critical_value": "number"}


# --------------------------------------------------------------------------- tables
def table_contract(name: str) -> TableContract:
    if name not in TABLES:
        raise DeepCeeError(f"no contract for results table '{name}' (have: {', '.join(TABLES)})")
    return TABLES[name]


def check_table(name: str, table, where: str | os.PathLike) -> None:
    """Raise one line naming ``where`` and the first column that is missing or of the wrong dtype/unit."""
    contract = table_contract(name)
    for col in contract.columns:
        if col.name not in table.colnames:
            raise DamagedFileError(
                f"{where}: missing column '{col.name}' ({contract.name} contract; has: {', '.join(table.colnames)})"
            )
        kind = table[col.name].dtype.kind
        if kind not in _KINDS[col.dtype]:
            raise DamagedFileError(
                f"{where}: column '{col.name}' is {table[col.name].dtype}, "
                f"the {contract.name} contract says {col.dtype}"
            )
        if contract.format == "ecsv" and col.unit is not None:
            unit = table[col.name].unit
            if unit is None or str(unit) != col.unit:
                raise DamagedFileError(
                    f"{where}: column '{col.name}' has unit {unit}, the {contract.name} contract says {col.unit}"
                )


def read_table(name: str, path: str | os.PathLike):
    """The file at ``path`` as an astropy Table, checked against contract ``name``."""
    contract = table_contract(name)
    path = Path(path)
    if contract.format == "ecsv":
        table = read_ecsv(path, what=contract.name)
    else:
        table = _read_csv(contract, path)
    check_table(name, table, path)
    return table


def _read_csv(contract: TableContract, path: Path):
    from astropy.table import Table

    if not path.is_file():
        raise DeepCeeError(f"{path}: {contract.name} not found")
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames or []
        for col in contract.columns:
            if col.name not in fields:
                raise DamagedFileError(
                    f"{path}: missing column '{col.name}' ({contract.name} contract; has: {', '.join(fields)})"
                )
        values: dict[str, list] = {c.name: [] for c in contract.columns}
        for lineno, row in enumerate(reader, start=2):
            for col in contract.columns:
                values[col.name].append(_parse_cell(path, lineno, col, row[col.name]))
    return Table(
        [values[c.name] for c in contract.columns],
        names=contract.colnames,
        dtype=[_numpy_dtype(c.dtype) for c in contract.columns],
    )


def _numpy_dtype(dtype: str):
    return {"str": str, "float": float, "int": "int64", "bool": bool}[dtype]


def _parse_cell(path: Path, lineno: int, col: Column, text: str | None) -> Any:
    try:
        if col.dtype == "str":
            return "" if text is None else text
        if col.dtype == "bool":
            if text not in ("True", "False"):
                raise ValueError(text)
            return text == "True"
        if col.dtype == "float":
            return float("nan") if text == "" else float(text)
        number = float(text)
        if not number.is_integer():
            raise ValueError(text)
        return int(number)
    except (TypeError, ValueError):
        raise DamagedFileError(f"{path}: row {lineno}: column '{col.name}' is '{text}', not {col.dtype}") from None


def _csv_value(value):
    import numpy as np

    if isinstance(value, (float, np.floating)):
        return "" if not math.isfinite(float(value)) else repr(float(value))
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if np.ma.is_masked(value):
        return ""
    return value


def csv_text(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    """CSV text with full-precision floats (``repr``) and empty cells for NaN or masked values."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(list(header))
    for row in rows:
        writer.writerow([_csv_value(v) for v in row])
    return buffer.getvalue()


def write_table(name: str, table, path: str | os.PathLike) -> None:
    """Write ``table`` (an astropy Table holding at least the contract's columns) to ``path``, atomically.

    ECSV keeps every column (units and metadata too); CSV writes the contract's columns, in its order.
    """
    contract = table_contract(name)
    check_table(name, table, f"{path} (being written)")
    if contract.format == "ecsv":
        write_ecsv(table, path)
    else:
        rows = [[table[c][i] for c in contract.colnames] for i in range(len(table))]
        write_text(path, csv_text(contract.colnames, rows))


def _expand(pattern: str) -> list[str]:
    """``a/{b,c}.ecsv`` -> ``['a/b.ecsv', 'a/c.ecsv']`` (outermost comma-separated braces, nested allowed)."""
    start = pattern.find("{")
    if start < 0:
        return [pattern]
    depth, parts, last = 0, [], start + 1
    for i in range(start, len(pattern)):
        depth += {"{": 1, "}": -1}.get(pattern[i], 0)
        if depth == 1 and pattern[i] == ",":
            parts.append(pattern[last:i])
            last = i + 1
        elif depth == 0:
            parts.append(pattern[last:i])
            end = i
            break
    if len(parts) == 1:  # a wildcard such as {shard}
        head, tail = pattern[: end + 1], pattern[end + 1 :]
        return [head + rest for rest in _expand(tail)]
    return [x for part in parts for x in _expand(pattern[:start] + part + pattern[end + 1 :])]


def contract_for(path: str | os.PathLike) -> str:
    """The name of the table contract whose path pattern ends ``path`` (a file under results/)."""
    import re

    text = Path(path).as_posix()
    for contract in TABLES.values():
        for pattern in _expand(contract.path):
            regex = re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(pattern))
            if re.search(rf"(^|/){regex}$", text):
                return contract.name
    raise DeepCeeError(f"{path}: no results-table contract matches this path (docs/contracts.md)")


def rows_table(name: str, rows: Iterable[Iterable[Any]]):
    """An astropy Table of contract ``name`` from plain row tuples (in the contract's column order)."""
    from astropy.table import Table

    contract = table_contract(name)
    rows = [tuple(r) for r in rows]
    dtypes = [_numpy_dtype(c.dtype) for c in contract.columns]
    table = (
        Table(rows=rows, names=contract.colnames, dtype=dtypes)
        if rows
        else Table(names=contract.colnames, dtype=dtypes)
    )
    for col in contract.columns:
        if col.unit is not None and contract.format == "ecsv":
            table[col.name].unit = col.unit
    return table


# --------------------------------------------------------------------------- summaries
def summary_contract(name: str) -> SummaryContract:
    if name not in SUMMARIES:
        raise DeepCeeError(f"no contract for results summary '{name}' (have: {', '.join(SUMMARIES)})")
    return SUMMARIES[name]


def get_key(data: Any, dotted: str) -> Any:
    """``data['a']['b']`` for ``'a.b'``; None where any step is missing."""
    node = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _type_ok(value: Any, kind: str) -> bool:
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "list":
        return isinstance(value, list)
    return isinstance(value, _PY_TYPES[kind])


def check_summary(name: str, data: Any, where: str | os.PathLike) -> None:
    contract = summary_contract(name)
    if not isinstance(data, dict):
        raise DamagedFileError(f"{where}: not a JSON object ({contract.name} contract)")
    for key, kind in contract.keys.items():
        value = get_key(data, key)
        if value is None:
            raise DamagedFileError(f"{where}: missing key '{key}' ({contract.name} contract)")
        if not _type_ok(value, kind):
            raise DamagedFileError(
                f"{where}: key '{key}' is {type(value).__name__}, the {contract.name} contract says {kind}"
            )
    if name == "ks":
        for prop, entry in data["properties"].items():
            keys = KS_PROPERTY_KEYS if isinstance(entry, dict) and entry.get("available") else {"available": "bool"}
            for key, kind in keys.items():
                value = get_key(entry, key)
                if value is None or not _type_ok(value, kind):
                    raise DamagedFileError(
                        f"{where}: key 'properties.{prop}.{key}' missing or not {kind} ({contract.name} contract)"
                    )


def read_summary(name: str, path: str | os.PathLike) -> dict:
    """A stage summary, checked against contract ``name``."""
    path = Path(path)
    if not path.is_file():
        raise DeepCeeError(f"{path}: {name} not found")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise DamagedFileError(f"{path}: not valid JSON ({err.msg}, line {err.lineno})") from err
    check_summary(name, data, path)
    return data


def write_summary_checked(name: str, path: str | os.PathLike, data: dict) -> None:
    """Write a summary only if it holds every key its contract promises (no half-promised file)."""
    check_summary(name, data, f"{path} (being written)")
    write_json(path, data)


def write_summary(
    path: str | os.PathLike, counts: dict, config: dict | None = None, contract: str | None = None, **extra: Any
) -> dict:
    """Write a stage's machine-readable summary: counts, config hash, software versions.

    ``contract``: the name of its declaration in deepcee.core.contracts; a summary missing a
    promised key is refused before anything is written.
    """
    summary = {"counts": counts, "software": software_versions(), **extra}
    if config is not None:
        summary["config_hash"] = config_hash(config)
        summary["config"] = config
    if contract is not None:
        check_summary(contract, summary, f"{path} (being written)")
    write_json(path, summary)
    return summary
