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
    "ra": ("pos.eq.ra;meta.main", "Right ascension (ICRS) of the merged detection"),
    "dec": ("pos.eq.dec;meta.main", "Declination (ICRS) of the merged detection"),
    "score": ("stat.likelihood", "Highest detector confidence score among the merged detections"),
    "box_arcsec": ("phys.angSize", "Side of the detection box"),
    "n_detections": ("meta.number", "Detections (tiles and boxes) merged into this candidate"),
    "tiles": ("meta.id", "The tiles that saw it, ';'-joined"),
    "known": ("meta.code", "Within the match radius of a redMaPPer, Abell/ACO or MCXC cluster"),
    "z_est": ("src.redshift.phot", "Red-sequence photometric redshift of the candidate"),
    "z_flag": ("meta.code.qual", "Why z_est is missing (empty when measured)"),
    "richness_est": ("phys.size;arith.ratio", "Richness: red-sequence galaxies brighter than 0.4 L* within 400 kpc"),
    "richness_flag": ("meta.code.qual", "Why richness_est is missing (empty when measured)"),
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


def write_footprint_moc(pixels, nside: int, path) -> float:
    """The searched footprint (the tiles' owned nested HEALPix pixels) as a MOC FITS file; its
    area in deg²."""
    from mocpy import MOC

    order = int(round(np.log2(nside)))
    moc = MOC.from_healpix_cells(np.asarray(pixels, dtype=np.uint64), np.uint8(order), order)
    with atomic_path(path) as tmp:
        moc.save(str(tmp), format="fits", overwrite=True)
    return float(moc.sky_fraction) * 4 * np.pi * (180 / np.pi) ** 2
