"""The views plan: which images to make, where each is centred, which shard makes it.

Paper §2.2: every cluster is imaged ``views_per_cluster`` times (paper: 4), each
time with the pointing moved by a random offset drawn from a uniform distribution
so that the cluster "could be found anywhere within 270 arcseconds from the image
centre". We draw the cluster's offset from the image centre uniformly in a square
(|east|, |north| <= max_offset_arcsec, as the paper's Fig. 3 shows a square spread),
so the cluster always stays inside the 792" field (half-width 396").

Offsets come from ``deepcee.core.seeds.rng(seed, "views", cluster_id)``: the same seed
and catalogue give the same views in any order, in any process. A cluster's k-th offset
is the k-th draw of its stream, whatever the number of views asked for.

The plan also fixes each view's split (``deepcee.images.split.assign_split`` over the
first ``views_per_cluster`` views) so that the test clusters can be imaged more often than
the training ones (``images.split.test_views_per_cluster``: the paper images every cluster
four times; the CPU default trains on one view per cluster but tests on four) and so that
the renderer knows which views may get a real-sky background (training views only,
``images.mock.real_background_fraction``). A plan made without a split (the redMaPPer
comparison and the real-sky evaluation) marks every view ``test``.

A view over a real SDSS field (a training view the plan gives a real background, a real-sky
test view) names its field (``field``) and is a smaller square (``images.mock.real_view_pixels``,
350 px: a crop of one SDSS frame, ``images/mock/real_fields.py``); its offset is the same draw
shrunk by ``real_offset_factor`` so that the cluster stays as far from the edge as in a
synthetic view.

Offset convention used everywhere in this stage (and in ``labels.ecsv``):
``offset_ra_arcsec`` / ``offset_dec_arcsec`` are the cluster's position RELATIVE TO
THE IMAGE CENTRE, east and north, in arcsec on the tangent plane at the cluster. The
image centre is therefore the cluster moved by minus the offset.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table

from deepcee.core.contracts import read_table, table_contract, write_table
from deepcee.core.errors import DeepCeeError
from deepcee.core.seeds import rng
from deepcee.images.split import assign_split

VIEW_COLUMNS = table_contract("views").colnames  # docs/contracts.md
#: A hard-negative view's name: ``<cluster id>_n0`` (a real training crop with nothing injected).
NEGATIVE_SUFFIX = "n0"


def is_negative(view) -> bool:
    """Whether a planned view is a hard negative (its ``members`` are ``blank`` in a training view)."""
    cols = getattr(view, "colnames", view)
    return "members" in cols and str(view["members"]) == "blank" and str(view["split"]) == "train"


def _floats(column) -> np.ndarray:
    return np.ma.filled(np.ma.asarray(column, dtype=float), np.nan)


def plan_views(
    catalogue: Table,
    views_per_cluster: int,
    max_offset_arcsec: float,
    seed: int,
    shards: int = 1,
    where: str = "catalogue",
    split: dict | None = None,
    real_background_fraction: float = 0.0,
    real_fields: list[str] | None = None,
    real_offset: float = 1.0,
    negative_fraction: float = 0.0,
) -> Table:
    """One row per view: cluster properties, the offset, the image centre, split, background,
    field, shard.

    ``split`` is ``images.split`` (``by``, ``test_fraction``, ``test_views_per_cluster``);
    None marks every view ``test`` (a comparison set). ``real_background_fraction`` of the
    training views, drawn per view from the seed, are rendered over one of ``real_fields``
    (field names, drawn per view), their offsets shrunk by ``real_offset`` (``real_offset_factor``).
    ``negative_fraction`` of the training clusters, drawn per cluster, get one more training view,
    ``<id>_n0``: a crop of one of ``real_fields`` with nothing injected (``members`` blank), a
    hard negative that carries no box (``images.mock.negative_fraction``).
    """
    if (real_background_fraction > 0 or negative_fraction > 0) and not real_fields:
        raise DeepCeeError(
            f"{where}: real backgrounds asked for (real_background_fraction, negative_fraction) but no real field named"
        )
    for col in ("id", "ra", "dec", "z", "richness"):
        if col not in catalogue.colnames:
            raise DeepCeeError(f"{where}: missing column '{col}'")
    if len(catalogue) == 0:
        raise DeepCeeError(f"{where}: no clusters to image")
    ids = [str(x) for x in catalogue["id"]]
    if shards > len(ids):  # a shard without a cluster writes no folder, which Snakemake blames on latency
        raise DeepCeeError(
            f"{where}: {len(ids)} clusters for {shards} image shards (images.shards), and each shard images "
            f"whole clusters: lower images.shards to {len(ids)} or keep more clusters"
        )
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise DeepCeeError(f"{where}: duplicate cluster id '{dup}'")
    bcg = _floats(catalogue["bcg_rmag"]) if "bcg_rmag" in catalogue.colnames else np.full(len(ids), np.nan)
    ra = _floats(catalogue["ra"])
    dec = _floats(catalogue["dec"])
    for i, cid in enumerate(ids):
        if not (np.isfinite(ra[i]) and np.isfinite(dec[i])):
            raise DeepCeeError(f"{where}: cluster '{cid}' has no RA/Dec")
    n_views = dict.fromkeys(ids, views_per_cluster)
    view_split = {}
    if split is not None:
        base = [(f"{cid}_v{k}", cid) for cid in ids for k in range(views_per_cluster)]
        view_split = assign_split(
            [v for v, _ in base], [c for _, c in base], split["by"], float(split["test_fraction"]), seed
        )
        extra = int(split.get("test_views_per_cluster") or 0)
        for v, cid in base:
            if view_split[v] == "test":
                n_views[cid] = max(n_views[cid], extra)
    rows = []
    for i, cid in enumerate(ids):
        gen = rng(seed, "views", cid)
        offsets = gen.uniform(-max_offset_arcsec, max_offset_arcsec, size=(n_views[cid], 2))
        cluster = SkyCoord(ra[i] * u.deg, dec[i] * u.deg)
        for k in range(n_views[cid]):
            name = f"{cid}_v{k}"
            de, dn = offsets[k]
            background = _background(seed, name, view_split.get(name, "test"), real_background_fraction)
            field = ""
            if background == "sdss_blank":
                field = str(real_fields[int(rng(seed, "background-field", name).integers(len(real_fields)))])
                de, dn = de * real_offset, dn * real_offset
            centre = cluster.spherical_offsets_by(-de * u.arcsec, -dn * u.arcsec)
            rows.append(
                (
                    name,
                    cid,
                    k,
                    ra[i],
                    dec[i],
                    float(catalogue["z"][i]),
                    float(catalogue["richness"][i]),
                    bcg[i],
                    de,
                    dn,
                    centre.ra.deg,
                    centre.dec.deg,
                    view_split.get(name, "test"),
                    background,
                    field,
                )
            )
        training = view_split.get(f"{cid}_v0") == "train"
        if training and negative_fraction > 0 and rng(seed, "negative", cid).uniform() < negative_fraction:
            name = f"{cid}_{NEGATIVE_SUFFIX}"
            field = str(real_fields[int(rng(seed, "background-field", name).integers(len(real_fields)))])
            cluster_cols = (cid, n_views[cid], ra[i], dec[i], float(catalogue["z"][i]), float(catalogue["richness"][i]))
            rows.append((name, *cluster_cols, bcg[i], 0.0, 0.0, ra[i], dec[i], "train", "sdss_blank", field))
    table = Table(rows=rows, names=VIEW_COLUMNS[:-1])
    negative = np.char.endswith(np.asarray(table["view"], dtype=str), f"_{NEGATIVE_SUFFIX}")
    if negative.any():
        table["members"] = np.where(negative, "blank", "")
    # Shards: whole clusters go to one shard (round robin over the sorted cluster list),
    # so a shard's mock clusters are drawn once and shards are balanced.
    order = {cid: j for j, cid in enumerate(sorted(set(ids)))}
    table["shard"] = [order[c] % shards for c in table["cluster_id"]]
    for col in ("ra", "dec", "centre_ra", "centre_dec"):
        table[col].unit = u.deg
    table["offset_ra_arcsec"].unit = u.arcsec
    table["offset_dec_arcsec"].unit = u.arcsec
    table.meta.update(
        {
            "views_per_cluster": views_per_cluster,
            "max_offset_arcsec": max_offset_arcsec,
            "seed": seed,
            "shards": shards,
            "offset_convention": "cluster position minus image centre, east/north arcsec",
            "split": dict(split) if split is not None else "all test",
            "real_background_fraction": real_background_fraction,
            "negative_fraction": negative_fraction,
        }
    )
    return table


def real_offset_factor(
    real_view_pixels: int, pixels: int, pixel_scale_arcsec: float, max_offset_arcsec: float
) -> float:
    """How much a real-field view's offset is shrunk so that its cluster stays as far from an edge
    as in a synthetic view: a ``pixels``-wide view with offsets up to ``max_offset_arcsec`` keeps
    the cluster ``pixels x scale / 2 - max_offset`` (126" in the default) inside every edge; the
    ``real_view_pixels`` square keeps the same margin (1 where the full offset fits)."""
    margin = pixels * pixel_scale_arcsec / 2.0 - max_offset_arcsec
    room = real_view_pixels * pixel_scale_arcsec / 2.0 - max(margin, 0.0)
    return 1.0 if max_offset_arcsec <= 0 else float(min(1.0, max(0.0, room) / max_offset_arcsec))


def _background(seed: int, view: str, split: str, fraction: float) -> str:
    """``sdss_blank`` for a seeded ``fraction`` of the training views, else ``synthetic``."""
    if split != "train" or fraction <= 0:
        return "synthetic"
    return "sdss_blank" if rng(seed, "background", view).uniform() < fraction else "synthetic"


def write_views(table: Table, path: str | Path) -> None:
    write_table("views", table, path)


def read_views(path: str | Path) -> Table:
    return read_table("views", path)


def shard_views(table: Table, shard: int) -> Table:
    return table[np.asarray(table["shard"]) == int(shard)]


def held_out_views(
    table: Table,
    shards: int,
    views_per_cluster: int | None = None,
    fields: list[str] | None = None,
    real_offset: float = 1.0,
) -> Table:
    """The test views of a plan (each cluster's first ``views_per_cluster``, or all), re-sharded
    (whole clusters per shard): the real-sky set.

    With ``fields`` (field names) every view goes over a real field: the i-th test cluster's k-th
    view (clusters sorted by id) over field (i + k) mod len(fields), so each field holds a share
    of every cluster's views and each cluster is seen over several fields; offsets are shrunk by
    ``real_offset`` (``real_offset_factor``) and the centres moved to match.
    """
    keep = np.asarray(table["split"]) == "test"
    if views_per_cluster is not None:
        keep &= np.asarray(table["k"]) < int(views_per_cluster)
    out = table[keep]
    if len(out) == 0:
        raise DeepCeeError("views plan: no test views to re-render")
    order = {cid: j for j, cid in enumerate(sorted({str(c) for c in out["cluster_id"]}))}
    if int(shards) > len(order):
        raise DeepCeeError(
            f"views plan: {len(order)} test clusters for {shards} real-sky shards (evaluate.real_sky.shards), and "
            f"each shard renders whole clusters: lower it to {len(order)}"
        )
    out["shard"] = [order[str(c)] % int(shards) for c in out["cluster_id"]]
    out.meta["shards"] = int(shards)
    if fields:
        out.replace_column("background", np.full(len(out), "sdss_blank"))
        names = [str(fields[(order[str(c)] + int(k)) % len(fields)]) for c, k in zip(out["cluster_id"], out["k"])]
        out.replace_column("field", np.asarray(names, dtype=str))
        de = np.asarray(out["offset_ra_arcsec"], dtype=float) * real_offset
        dn = np.asarray(out["offset_dec_arcsec"], dtype=float) * real_offset
        cluster = SkyCoord(np.asarray(out["ra"], float) * u.deg, np.asarray(out["dec"], float) * u.deg)
        centre = cluster.spherical_offsets_by(-de * u.arcsec, -dn * u.arcsec)
        out["offset_ra_arcsec"], out["offset_dec_arcsec"] = de, dn
        out["centre_ra"], out["centre_dec"] = centre.ra.deg, centre.dec.deg
        for col in ("centre_ra", "centre_dec"):
            out[col].unit = u.deg
        for col in ("offset_ra_arcsec", "offset_dec_arcsec"):
            out[col].unit = u.arcsec
        out.meta["real_fields"] = list(fields)
        out.meta["real_offset_factor"] = float(real_offset)
    return out


def with_member_kinds(table: Table, kinds) -> Table:
    """The real-sky views once per member kind (``images.mock.real_members.MEMBER_KINDS``), in the
    kinds' order, each row's ``members`` column naming its kind. A ``galsim`` view keeps its name;
    another kind's is ``<view>-<kind>``. Every kind of a view has the same field, shard and
    ``source_view`` (the galsim view's name, which keys the crop and the seeing drawn for it), so
    the kinds differ only in what is injected."""
    from astropy.table import vstack

    kinds = [str(k) for k in kinds]
    if not kinds or len(set(kinds)) != len(kinds):
        raise DeepCeeError(f"real-sky member kinds: want distinct kinds, got {kinds}")
    parts = []
    for kind in kinds:
        part = table.copy()
        part["source_view"] = np.asarray(part["view"], dtype=str)
        if kind != "galsim":
            part["view"] = np.asarray([f"{v}-{kind}" for v in part["view"]], dtype=str)
        part["members"] = np.full(len(part), kind, dtype="U10")
        parts.append(part)
    out = vstack(parts, metadata_conflicts="silent")
    out.meta = dict(table.meta)
    out.meta["member_kinds"] = kinds
    return out
