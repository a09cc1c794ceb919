"""The search's candidates as astronomers open them: FITS and VOTable with units, UCDs and column
descriptions (TOPCAT and Aladin read both), and the searched footprint as a MOC (mocpy).

The ECSV ``candidates.ecsv`` stays the contract file the workflow reads; these are its exports.
"""

from __future__ import annotations

import numpy as np
from astropy.table import Table

from deepcee.core.files import atomic_path

#: UCD (IVOA UCD1+) and description of every candidate column (docs/contracts.md, 07_search).
COLUMNS: dict[str, tuple[str, str]] = {
    "id": ("meta.id;meta.main", "Candidate identifier"),
    "ra": ("pos.eq.ra;meta.main", "Right ascension (ICRS) of the cluster: its BCG where on_bcg, else the box centre"),
    "dec": ("pos.eq.dec;meta.main", "Declination (ICRS) of the cluster: its BCG where on_bcg, else the box centre"),
    "score": ("stat.likelihood", "Highest detector confidence score among the merged detections"),
    "box_arcsec": ("phys.angSize", "Side of the detection box"),
    "n_detections": ("meta.number", "Detections (tiles and boxes) merged into this candidate"),
    "tiles": ("meta.id", "The tiles that saw it, ';'-joined"),
    "known": ("meta.code", "Within the match radius of a redMaPPer, Abell/ACO or MCXC cluster"),
    "box_ra": ("pos.eq.ra", "Right ascension (ICRS) of the merged detection's box centre"),
    "box_dec": ("pos.eq.dec", "Declination (ICRS) of the merged detection's box centre"),
    "on_bcg": ("meta.code", "ra, dec moved to the brightest cluster galaxy near the box centre"),
    "z_est": ("src.redshift.phot", "Red-sequence photometric redshift of the candidate"),
    "z_flag": ("meta.code.qual", "Why z_est is missing (empty when measured)"),
    "richness_est": ("phys.size;arith.ratio", "Richness: red-sequence galaxies brighter than 0.4 L* within 400 kpc"),
    "richness_flag": ("meta.code.qual", "Why richness_est is missing (empty when measured)"),
    "red_excess": (
        "meta.number",
        "Galaxies in the box in the red-sequence colour window beyond the field's expectation",
    ),
    "confirmed": ("meta.code", "score >= the threshold, red_excess >= search.confirm.min_red_excess, no parent"),
    "parent": ("meta.id.parent", "The richer confirmed candidate this one was percolated into (empty for none)"),
}
_CATALOGUES = {"redmapper": "redMaPPer DR8", "abell": "Abell/ACO", "mcxc": "MCXC"}
for _cat, _name in _CATALOGUES.items():
    COLUMNS[f"{_cat}_id"] = ("meta.id.cross", f"Nearest {_name} cluster within the match radius")
    COLUMNS[f"{_cat}_z"] = ("src.redshift", f"Redshift of that {_name} cluster")
    COLUMNS[f"{_cat}_sep_arcmin"] = ("pos.angDistance", f"Separation from that {_name} cluster")
COLUMNS["redmapper_richness"] = ("phys.size;arith.ratio", "redMaPPer richness lambda of that cluster")
COLUMNS["abell_richness"] = ("meta.number", "Abell/ACO richness of that cluster, as the bundled catalogue gives it")
COLUMNS["mcxc_richness"] = ("phys.mass", "MCXC M500 of that cluster, in 1e14 solar masses")


def _described(candidates: Table) -> Table:
    table = Table(candidates, copy=True)
    for name in table.colnames:
        ucd, description = COLUMNS.get(name, ("", ""))
        table[name].description = description
        table[name].meta["ucd"] = ucd
    return table


def write_votable(candidates: Table, path) -> None:
    """A VOTable: every FIELD with its unit, UCD and DESCRIPTION."""
    from astropy.io.votable import from_table, writeto

    table = _described(candidates)
    votable = from_table(table)
    for field in votable.get_first_table().fields:
        field.ucd = table[field.name].meta["ucd"] or None
    with atomic_path(path) as tmp:
        writeto(votable, str(tmp))


def write_fits(candidates: Table, path) -> None:
    """A FITS binary table: units (TUNITn), descriptions (TCOMMn) and UCDs (TUCDn), the
    conventions TOPCAT reads."""
    from astropy.io import fits

    table = _described(candidates)
    hdu = fits.table_to_hdu(table)
    for i, name in enumerate(table.colnames, start=1):
        ucd, description = COLUMNS.get(name, ("", ""))
        if description:
            hdu.header[f"TCOMM{i}"] = description
        if ucd:
            hdu.header[f"TUCD{i}"] = ucd
    hdu.header["EXTNAME"] = "CANDIDATES"
    with atomic_path(path) as tmp:
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(tmp, overwrite=True)


def write_footprint_moc(tiles: Table, path, max_depth: int = 15) -> float:
    """The searched footprint (the cells the tiles own, tiles.ecsv) as a MOC FITS file at
    ``max_depth`` (15: 6.4" cells, a cell's edge to ~1.5 % of its side); its area in deg²."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord
    from mocpy import MOC

    from deepcee.search.tiles import grid_from_meta

    grid = grid_from_meta(tiles.meta)
    index = np.sort(np.asarray(tiles["index"], dtype=np.int64))
    ra_lo, ra_hi, dec_lo, dec_hi = grid.cells(index)
    # one zone per run of neighbouring cells of a strip (a box region: one per strip)
    strip = grid.strip_of(index)
    breaks = np.flatnonzero((np.diff(index) != 1) | (np.diff(strip) != 0)) + 1
    moc = None
    for run in np.split(np.arange(len(index)), breaks):
        a, b = run[0], run[-1]
        lo, hi = ra_lo[a], ra_hi[b]
        for part_lo, part_hi in ((lo, hi),) if hi - lo <= 180 else ((lo, (lo + hi) / 2), ((lo + hi) / 2, hi)):
            corners = SkyCoord([part_lo, part_hi] * u.deg, [dec_lo[a], dec_hi[b]] * u.deg)
            zone = MOC.from_zone(corners, max_depth=int(max_depth))
            moc = zone if moc is None else moc.union(zone)
    with atomic_path(path) as tmp:
        moc.save(str(tmp), format="fits", overwrite=True)
    return float(moc.sky_fraction) * 4 * np.pi * (180 / np.pi) ** 2
