"""Detections of all shards -> one candidate per cluster, cross-matched to the bundled catalogues.

Two steps (``merge_detections``):

1. **Ownership.** A detection is kept only by the tile whose cell of the strip grid holds its
   centre (``owned``; ``search/tiles.py``, ``StripGrid``: 440" cells, ~67 tiles per deg²): each
   792" tile reaches well beyond its cell, so neighbouring tiles overlap (a point of the sky lies
   in about three tiles), and the owning tile is the one in which the cluster is wholly inside
   the field.
2. **Sky merge.** The owned detections are grouped greedily from the highest score down: each
   unclaimed detection claims every other one within ``merge_radius_arcsec``. Default 60":
   the paper's match radius is 100 kpc at the cluster's redshift (paper §3.1), 60" at z = 0.09
   and smaller beyond, so two centres of one cluster seen from neighbouring tiles (which
   straddle a cell border a few arcsec apart) always merge, while clusters of the catalogue
   are degrees apart on average (redMaPPer: ~2.6 deg^-2) and keep apart.

A candidate takes the position, score and box of its best detection, and lists every tile
that saw it (any detection >= score_min within the radius, owned or not).
"""

from __future__ import annotations

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table, vstack

from deepcee.core.contracts import read_table, rows_table
from deepcee.core.errors import DeepCeeError

CANDIDATE_COLUMNS = ["id", "ra", "dec", "score", "box_arcsec", "n_detections", "tiles"]


def read_shards(paths) -> Table:
    """All shard tables, stacked."""
    tables = []
    for p in paths:
        t = read_table("search_detections", p)
        if len(t):
            tables.append(t)
    if not tables:
        return rows_table("search_detections", [])
    return vstack(tables, metadata_conflicts="silent")


def _coords(t):
    return SkyCoord(np.asarray(t["ra"], float) * u.deg, np.asarray(t["dec"], float) * u.deg)


def merge_detections(det: Table, radius_arcsec: float = 60.0) -> Table:
    """Owned detections merged on the sky -> candidates (see the module docstring)."""
    owned = det[np.asarray(det["owned"], bool)] if len(det) else det
    cols = {c: [] for c in CANDIDATE_COLUMNS}
    if len(owned):
        order = np.argsort(-np.asarray(owned["score"], float), kind="stable")
        owned = owned[order]
        c_owned = _coords(owned)
        c_all = _coords(det)
        claimed = np.zeros(len(owned), bool)
        for i in range(len(owned)):
            if claimed[i]:
                continue
            near = c_owned.separation(c_owned[i]).to_value(u.arcsec) <= radius_arcsec
            members = near & ~claimed
            claimed |= members
            seen = c_all.separation(c_owned[i]).to_value(u.arcsec) <= radius_arcsec
            tiles = sorted({str(x) for x in det["tile"][seen]} | {str(x) for x in owned["tile"][members]})
            cols["ra"].append(float(owned["ra"][i]))
            cols["dec"].append(float(owned["dec"][i]))
            cols["score"].append(float(owned["score"][i]))
            cols["box_arcsec"].append(float(owned["box_arcsec"][i]))
            cols["n_detections"].append(int(members.sum()))
            cols["tiles"].append(";".join(tiles))
    n = len(cols["ra"])
    cols["id"] = [f"DCS{k + 1:05d}" for k in range(n)]
    out = Table(
        {
            "id": np.asarray(cols["id"], dtype="U16"),
            "ra": np.asarray(cols["ra"], float),
            "dec": np.asarray(cols["dec"], float),
            "score": np.asarray(cols["score"], float),
            "box_arcsec": np.asarray(cols["box_arcsec"], float),
            "n_detections": np.asarray(cols["n_detections"], int),
            "tiles": np.asarray(cols["tiles"], dtype=str),
        }
    )
    out["ra"].unit = out["dec"].unit = "deg"
    out["box_arcsec"].unit = "arcsec"
    out.meta["merge_radius_arcsec"] = float(radius_arcsec)
    return out


# --------------------------------------------------------------------------- catalogues
def read_mcxc(path) -> Table:
    """The bundled MCXC (Piffaretti et al. 2011) CSV -> id, ra, dec, z, m500 (1e14 Msun); a cut,
    edited or empty file is one line naming it (``core.bundled``, ``catalogue.select.read_csv_table``)."""
    from deepcee.catalogue.select import read_csv_table
    from deepcee.core.bundled import check_bundled

    check_bundled(path)
    raw = read_csv_table(path)
    for c in ("MCXC", "RAdeg", "DEdeg", "z", "M500"):
        if c not in raw.colnames:
            raise DeepCeeError(f"{path}: MCXC table has no column '{c}'")
    return Table(
        {
            "id": [f"MCXC {x}" for x in raw["MCXC"]],
            "ra": np.asarray(raw["RAdeg"], float),
            "dec": np.asarray(raw["DEdeg"], float),
            "z": np.asarray(raw["z"], float),
            "richness": np.asarray(np.ma.filled(raw["M500"], np.nan), float),
        }
    )


def load_catalogues(config: dict, mcxc_path) -> dict[str, Table]:
    """redMaPPer, Abell/ACO and MCXC as id, ra, dec, z, richness (NaN where a catalogue has none)."""
    from deepcee.catalogue.select import read_abell_tsv, read_redmapper_bundled

    cat = config["catalogue"]["bundled"]
    rm = read_redmapper_bundled(cat["redmapper"])
    aco = read_abell_tsv(cat["abell"])
    return {
        "redmapper": Table(
            {
                "id": rm["id"],
                "ra": np.asarray(rm["ra"], float),
                "dec": np.asarray(rm["dec"], float),
                "z": np.asarray(rm["z"], float),
                "richness": np.asarray(rm["richness"], float),
            }
        ),
        "abell": Table(
            {
                "id": [f"A{int(a)}" for a in aco["aco"]],
                "ra": np.asarray(aco["ra"], float),
                "dec": np.asarray(aco["dec"], float),
                "z": np.full(len(aco), np.nan),
                "richness": np.full(len(aco), np.nan),
            }
        ),
        "mcxc": read_mcxc(mcxc_path),
    }


def cross_match(cands: Table, catalogues: dict[str, Table], radius_arcmin: float) -> Table:
    """Add, per catalogue, the nearest entry within ``radius_arcmin``: id, z, richness, separation; and known."""
    known = np.zeros(len(cands), bool)
    for name, cat in catalogues.items():
        ids = np.full(len(cands), "", dtype="U32")
        z = np.full(len(cands), np.nan)
        rich = np.full(len(cands), np.nan)
        sep = np.full(len(cands), np.nan)
        if len(cands) and len(cat):
            idx, d, _ = _coords(cands).match_to_catalog_sky(_coords(cat))
            d = d.to_value(u.arcmin)
            hit = d <= radius_arcmin
            ids[hit] = np.asarray(cat["id"], dtype=str)[idx[hit]]
            z[hit] = np.asarray(cat["z"], float)[idx[hit]]
            rich[hit] = np.asarray(cat["richness"], float)[idx[hit]]
            sep[hit] = d[hit]
            known |= hit
        cands[f"{name}_id"] = ids
        cands[f"{name}_z"] = z
        cands[f"{name}_richness"] = rich
        cands[f"{name}_sep_arcmin"] = sep
        cands[f"{name}_sep_arcmin"].unit = "arcmin"
    cands["known"] = known
    cands.meta["match_radius_arcmin"] = float(radius_arcmin)
    cands.meta["richness_columns"] = "redmapper: lambda; abell: none; mcxc: M500 in 1e14 Msun"
    return cands
