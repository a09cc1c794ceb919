"""One view of the mock: a planned view (a row of views.ecsv) rendered to g, r, i nanomaggies,
its WCS, and the truth table of every object drawn (docs/design.md §4, docs/contracts.md).

A synthetic view is a cutout of the one mock sky (``images/mock/sky.py``) centred on the view's
centre, its noise keyed by the view's name. A view over a real SDSS blank frame
(``images.mock.background: sdss_blank``, or a training view the plan gave a real-sky background)
is a crop of the frame (``images/mock/real_fields.py``) with only the view's catalogued cluster
injected, drawn with the same key as the sky draws it (``universe.catalogued_cluster_objects``)
and the same instrument (``images/mock/draw.py``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table

from deepcee.core.contracts import table_contract
from deepcee.core.errors import DeepCeeError
from deepcee.core.seeds import int_seed
from deepcee.images.fits import BANDS, make_wcs, write_view_fits
from deepcee.images.mock.draw import Canvas, add_sdss_noise, band_fluxes, saturate
from deepcee.images.mock.library_objects import LibraryObjects, LibraryObjectSettings, check_kind, load_library_objects
from deepcee.images.mock.real_fields import crop, read_field
from deepcee.images.mock.real_members import MEMBER_KINDS, RealMemberSettings, draw_real_members, load_role_galaxies
from deepcee.images.mock.sky import MockSky, SkyObjects, read_sky_catalogues
from deepcee.images.mock.universe import Objects, catalogued_cluster_objects

#: Objects this far (arcsec) outside a view still spill light into it.
MARGIN_ARCSEC = 30.0
TRUTH_COLUMNS = tuple(table_contract("truth").colnames)  # docs/contracts.md
#: What each drawn object is to a view's truth table (docs/contracts.md, ``truth``): the view's
#: own cluster is its ``target``; another catalogued cluster in the view is ``cluster``.
TRUTH_MEMBER = {"field": "field", "star": "star", "foreground": "foreground", "group": "group", "cluster": "cluster"}
#: The render's counts under the keys the image stage's manifests have always used.
VIEW_COUNT_KEYS = {"target": "cluster", "star": "stars", "cluster": "other_cluster"}


# --------------------------------------------------------------------------- one view


def view_background(view, mc: dict) -> str:
    """``sdss_blank`` where the whole set asks for it (``mock.background``) or the views plan
    gave this view a real-sky background (training views, ``mock.real_background_fraction``)."""
    planned = str(view["background"]) if "background" in getattr(view, "colnames", view) else "synthetic"
    return "sdss_blank" if "sdss_blank" in (mc["background"], planned) else "synthetic"


def member_kind(view, mc: dict, seed: int) -> str:
    """How a real-background view's cluster is drawn (``real_members.MEMBER_KINDS``): the view's own
    ``members`` (the real-sky plan's kinds), else ``images.mock.members``; ``mixed`` makes a share
    ``real_members.fraction`` of the views real, drawn from the view's own stream."""
    planned = str(view["members"]) if "members" in getattr(view, "colnames", view) else ""
    if planned in MEMBER_KINDS:
        return planned
    if planned not in ("", "--", "None"):
        raise DeepCeeError(f"view {view['view']}: unknown members kind {planned!r} (want {', '.join(MEMBER_KINDS)})")
    setting = str(mc.get("members", "galsim"))
    if setting == "mixed":
        fraction = float(mc.get("real_members", {}).get("fraction", 0.5))
        gen = np.random.default_rng(int_seed(seed, "members-kind", str(view["view"])))
        return "real" if gen.uniform() < fraction else "galsim"
    return setting


def render_view(
    view,
    images_cfg: dict,
    seed: int,
    sky: MockSky | None = None,
    real_fields: dict | None = None,
    galaxy_library: tuple[str, str] | None = None,
) -> tuple[np.ndarray, object, dict]:
    """Render one planned view; returns (3 x N x N float32 nMgy, WCS, info).

    A synthetic view is a cutout of the one mock sky (``images/mock/sky.py``): ``sky`` is the
    stage's ``MockSky`` (of the same seed and ``images.mock``); without one, a sky holding only
    this view's cluster is made. A view over a real field (``sdss_blank``) is a square crop of the
    field named by the view (``real_fields``: name -> prepared FITS, ``real_fields.prepare_fields``)
    with the view's cluster injected. ``images_cfg`` is the full ``images:`` section
    (schemas/images.schema.yaml's defaults filled). ``galaxy_library``: the (table, stamps) files
    of the real-galaxy library, for views whose members are real galaxies (``member_kind``) and
    for the sky's bright objects (``images.mock.sky_objects: real``).
    """
    mc = images_cfg["mock"]
    cid, z = str(view["cluster_id"]), float(view["z"])
    if not np.isfinite(z) or z <= 0:
        raise DeepCeeError(f"cluster {cid}: redshift {z} unusable for the mock")
    if view_background(view, mc) == "synthetic":
        sky = sky if sky is not None else sky_for_views([view], images_cfg, seed)
        return _render_cutout(sky, view, images_cfg, galaxy_library)
    return _render_injected(view, images_cfg, seed, real_fields or {}, galaxy_library)


def render_view_to_fits(
    view,
    images_cfg: dict,
    seed: int,
    out_path: str | Path,
    sky=None,
    real_fields: dict | None = None,
    galaxy_library: tuple[str, str] | None = None,
) -> dict:
    img, wcs, info = render_view(
        view, images_cfg, seed, sky=sky, real_fields=real_fields, galaxy_library=galaxy_library
    )
    meta = {"SOURCE": "mock", "VIEW": str(view["view"]), "SEEING": round(info["psf_fwhm_arcsec"], 4)}
    if info.get("real_field"):
        meta["FIELD"] = str(info["real_field"])[:68]
    write_view_fits(out_path, {b: img[j] for j, b in enumerate(BANDS)}, wcs, meta=meta)
    return info


# --------------------------------------------------------------------------- a cutout of the one sky


def sky_library(view, images_cfg: dict, galaxy_library: tuple[str, str] | None) -> LibraryObjects | None:
    """The real galaxies and stars a synthetic view's bright objects are drawn from
    (``images.mock.sky_objects: real``): the library's entries of the view's role (a training
    view's: the training fields'; any other view's: the test fields'); None for GalSim's sky."""
    mc = images_cfg["mock"]
    if check_kind(mc.get("sky_objects", "galsim")) == "galsim":
        return None
    if galaxy_library is None:
        raise DeepCeeError(f"view {view['view']}: images.mock.sky_objects: real, but no galaxy library was given")
    training = str(view["split"]) == "train" if "split" in getattr(view, "colnames", view) else False
    return load_library_objects(
        *(str(p) for p in galaxy_library),
        "train" if training else "test",
        float(images_cfg["pixel_scale_arcsec"]),
        LibraryObjectSettings.from_config(mc.get("sky_library")),
    )


def _render_cutout(
    sky: MockSky, view, images_cfg: dict, galaxy_library: tuple[str, str] | None = None
) -> tuple[np.ndarray, object, dict]:
    """One planned view (a row of views.ecsv) as a cutout of the one sky: (image, WCS, info).

    The noise is keyed by the view's name; ``info`` holds the seeing at the view's centre, the
    counts of what was drawn (``library_objects``: how many are real library entries), the
    target's pixel position and the truth table of every object.
    """
    pixels = int(images_cfg["pixels"])
    scale = float(images_cfg["pixel_scale_arcsec"])
    name, cid = str(view["view"]), str(view["cluster_id"])
    if not sky.holds(cid):
        raise DeepCeeError(f"view {name}: cluster {cid} is not in the mock sky (add the plan's clusters)")
    wcs = make_wcs(float(view["centre_ra"]), float(view["centre_dec"]), pixels, scale)
    library = sky_library(view, images_cfg, galaxy_library)
    img, info = sky.render(wcs, (pixels, pixels), scale, noise_key=("view", name), library=library)
    cx, cy = wcs.world_to_pixel_values(float(view["ra"]), float(view["dec"]))
    truth = _truth_table(info.pop("objects"), name, cid)
    members, n = np.unique(np.asarray(truth["member"], dtype=str), return_counts=True)
    counts = {VIEW_COUNT_KEYS.get(m, m): int(k) for m, k in zip(members, n)}
    centre = wcs.pixel_to_world((pixels - 1) / 2.0, (pixels - 1) / 2.0)
    seeing = float(sky.seeing_at(centre.ra.deg, centre.dec.deg)[0])
    return (
        img,
        wcs,
        {
            "psf_fwhm_arcsec": seeing,
            "n_exact": info["n_exact"],
            "n_fast": info["n_fast"],
            "library_objects": info["library"],
            **dict.fromkeys((VIEW_COUNT_KEYS.get(m, m) for m in ("target", *TRUTH_MEMBER.values())), 0),
            **counts,
            "cluster_x": float(cx),
            "cluster_y": float(cy),
            "truth": truth,
        },
    )


def _truth_table(objs: SkyObjects, view: str, cluster_id: str) -> Table:
    """The drawn objects as the view's truth (``truth_table``): the view's cluster is the
    ``target``; the view's uncatalogued groups are numbered 1, 2, ... in drawing order."""
    c = objs.cols
    label = np.asarray(c["label"], dtype=str)
    owner = np.asarray(c["owner"], dtype=str)
    member = np.asarray([TRUTH_MEMBER[x] for x in label], dtype="U10")
    member[(label == "cluster") & (owner == cluster_id)] = "target"
    group = np.zeros(len(objs), dtype=int)
    is_group = label == "group"
    if is_group.any():
        names, first = np.unique(owner[is_group], return_index=True)
        number = {str(names[j]): k + 1 for k, j in enumerate(np.argsort(first))}
        group[is_group] = [number[o] for o in owner[is_group]]
    cols = {k: c[k] for k in ("ra", "dec", "x", "y", "mag_r", "z", "central")}
    return truth_table(view, cluster_id, {**cols, "member": member, "group": group})


# --------------------------------------------------------------------------- a real frame, the cluster injected


def _view_field(view, real_fields: dict, gen: np.random.Generator) -> str:
    """The field a view is cut from: the one the plan named, or (a plan without a ``field`` column)
    one drawn from the view's stream."""
    name = str(view["field"]) if "field" in getattr(view, "colnames", view) else ""
    name = "" if name in ("", "--", "None") else name
    if not real_fields:
        raise DeepCeeError(f"view {view['view']}: a real-sky view but no prepared real field was given")
    if not name:
        name = sorted(real_fields)[int(gen.integers(len(real_fields)))]
    if name not in real_fields:
        raise DeepCeeError(
            f"view {view['view']}: real field {name!r} is not among the prepared fields {sorted(real_fields)}"
        )
    return name


def _render_injected(
    view, images_cfg: dict, seed: int, real_fields: dict, galaxy_library: tuple[str, str] | None = None
) -> tuple[np.ndarray, object, dict]:
    """The view's cluster injected into a square crop of a real SDSS field (``real_fields.crop``):
    nothing in it but real sky and the cluster. Training views' crops are turned and mirrored as
    a whole (augmentation); a test view's is taken as it is.

    The members are drawn as ``member_kind`` says: ``galsim`` (all by GalSim), ``real`` (those
    brighter than ``real_members.mag_limit`` as real library galaxies of the view's role, the rest
    by GalSim), ``scattered`` (the GalSim members that land in the view, each moved to a uniformly
    drawn position: the same light, no cluster) or ``blank`` (nothing injected). The member
    choices come from their own stream, so a ``galsim`` view is the same whatever the setting."""
    mc = images_cfg["mock"]
    pixels = int(mc["real_view_pixels"])
    scale = float(images_cfg["pixel_scale_arcsec"])
    name, cid = str(view["view"]), str(view["cluster_id"])
    # the crop and seeing stream: the view's, or (a real-sky member kind) its galsim twin's, so every
    # kind of a view lies over the same crop with the same seeing
    source = str(view["source_view"]) if "source_view" in getattr(view, "colnames", view) else name
    gen_view = np.random.default_rng(int_seed(seed, "mock", source))
    gen_members = np.random.default_rng(int_seed(seed, "mock-members", name))
    kind = member_kind(view, mc, seed)
    field_name = _view_field(view, real_fields, gen_view)
    wcs = make_wcs(float(view["centre_ra"]), float(view["centre_dec"]), pixels, scale)
    fwhm = float(np.clip(gen_view.normal(mc["psf_fwhm_arcsec"], mc["psf_fwhm_sigma_arcsec"]), 0.9, 2.2))
    canvas = Canvas(pixels, scale, fwhm, mc["psf_beta"], mc["exact_mag"])
    # the cluster centre in output pixels, through the WCS (exactly the label's position)
    cx, cy = (float(v) for v in wcs.world_to_pixel(SkyCoord(float(view["ra"]) * u.deg, float(view["dec"]) * u.deg)))
    target = catalogued_cluster_objects(seed, cid, view["z"], view["richness"], view["bcg_rmag"], mc)
    placed = _place_target(target, (cx, cy), pixels, scale)
    training = str(view["split"]) == "train" if "split" in getattr(view, "colnames", view) else False
    real = np.zeros(len(placed["xs"]), dtype=bool)
    stamps = None
    if kind == "blank":
        placed = {k: v[:0] for k, v in placed.items()}
        real = real[:0]
    elif kind == "scattered":
        placed["xs"] = gen_members.uniform(-0.5, pixels - 0.5, len(placed["xs"]))
        placed["ys"] = gen_members.uniform(-0.5, pixels - 0.5, len(placed["ys"]))
    elif kind == "real":
        if galaxy_library is None:
            raise DeepCeeError(f"view {name}: real-galaxy members asked for, but no galaxy library was given")
        galaxies = load_role_galaxies(*(str(p) for p in galaxy_library), "train" if training else "test", scale)
        stamps = np.zeros((3, pixels, pixels), dtype=np.float32)
        real, mags, _ = draw_real_members(
            stamps,
            galaxies,
            placed["xs"],
            placed["ys"],
            placed["mag_r"],
            placed["gr"],
            placed["ri"],
            gen_members,
            RealMemberSettings.from_config(mc.get("real_members")),
            exclude_field=field_name,
        )
        placed["mag_r"] = mags
    truth = _draw_target(canvas, placed, ~real, wcs, "scattered" if kind == "scattered" else "target")
    img = canvas.img
    saturate(img, canvas.os**2)
    add_sdss_noise(img, gen_view.standard_normal(img.shape, dtype=np.float32), scale, canvas.os**2, synthetic=False)
    if stamps is not None:  # real galaxies carry their own noise
        img += stamps
    background, (x0, y0, turns, mirrored) = crop(read_field(real_fields[field_name]), pixels, gen_view, orient=training)
    img += background
    info = {
        "psf_fwhm_arcsec": fwhm,
        "n_exact": canvas.n_exact,
        "n_fast": canvas.n_fast,
        "cluster": len(truth["x"]) if kind in ("galsim", "real") else 0,
        "members": kind,
        "real_members": int(real.sum()),
        "cluster_x": cx,
        "cluster_y": cy,
        "real_field": field_name,
        "real_field_crop": [x0, y0, turns, bool(mirrored)],
        "truth": truth_table(name, cid, truth),
    }
    return img, wcs, info


def _place_target(objs: Objects, cluster_xy, pixels: int, scale: float) -> dict:
    """The cluster's members that land in (or within ``MARGIN_ARCSEC`` of) the view: their pixel
    positions and every column the drawing needs, the BCG (``central``) marked."""
    margin = MARGIN_ARCSEC / scale
    a = objs.arrays()
    xs = cluster_xy[0] - a["east"] / scale
    ys = cluster_xy[1] + a["north"] / scale
    keep = (xs > -margin) & (xs < pixels + margin) & (ys > -margin) & (ys < pixels + margin)
    out = {k: np.asarray(a[k])[keep] for k in ("mag_r", "gr", "ri", "kind", "n", "hlr", "q", "beta", "z")}
    out.update(xs=xs[keep], ys=ys[keep], central=np.arange(len(keep))[keep] == 0)
    return out


def _draw_target(canvas, placed: dict, galsim_drawn, wcs, member: str = "target") -> dict:
    """Draw by GalSim the placed members marked ``galsim_drawn`` (the others were drawn from the
    library); the truth of them all."""
    xs, ys = placed["xs"], placed["ys"]
    fl = band_fluxes(placed["mag_r"], placed["gr"], placed["ri"])
    for j in np.flatnonzero(galsim_drawn):
        canvas.draw(
            xs[j],
            ys[j],
            fl[j],
            placed["mag_r"][j],
            int(placed["kind"][j]),
            placed["n"][j],
            placed["hlr"][j],
            placed["q"][j],
            placed["beta"][j],
        )
    n = len(xs)
    ra, dec = wcs.pixel_to_world_values(xs, ys) if n else (np.zeros(0), np.zeros(0))
    return {
        "ra": ra,
        "dec": dec,
        "x": xs,
        "y": ys,
        "mag_r": placed["mag_r"],
        "z": placed["z"],
        "member": np.full(n, member, dtype="U10"),
        "group": np.zeros(n, dtype=int),
        "central": placed["central"] if member == "target" else np.zeros(n, dtype=bool),
    }


# --------------------------------------------------------------------------- truth


def truth_table(view: str, cluster_id: str, cols: dict):
    """Every drawn object of one view in the ``truth`` contract's layout (docs/contracts.md).

    ``cols``: arrays ``member`` (target, cluster, group, field, star, foreground), ``group``
    (the view's uncatalogued group number, 0 = none), ``central`` (BCG / BGG), ``ra``, ``dec``
    (deg), ``x``, ``y`` (FITS-array pixels, 0-based, as ``wcs.pixel_to_world``), ``mag_r``, ``z``.
    """
    n = len(cols["x"])
    return Table(
        {
            "view": np.full(n, view, dtype="U64"),
            "cluster_id": np.full(n, cluster_id, dtype="U32"),
            "member": np.asarray(cols["member"], dtype=str) if n else np.zeros(0, dtype="U10"),
            "group": np.asarray(cols["group"], dtype=int),
            "central": np.asarray(cols["central"], dtype=bool),
            **{k: np.asarray(cols[k], dtype=float) for k in ("ra", "dec", "x", "y", "mag_r", "z")},
        },
        names=TRUTH_COLUMNS,
    )


# --------------------------------------------------------------------------- the sky of an image shard


def plan_clusters(views) -> Table:
    """The clusters a views plan (rows of views.ecsv) centres on: id, ra, dec, z, richness, bcg_rmag."""
    seen = {}
    for v in views:
        cid = str(v["cluster_id"])
        if cid not in seen:
            bcg = v["bcg_rmag"]
            bcg = np.nan if bcg is None or np.ma.is_masked(bcg) else float(bcg)
            seen[cid] = (cid, float(v["ra"]), float(v["dec"]), float(v["z"]), float(v["richness"]), bcg)
    return Table(
        rows=list(seen.values()) or None,
        names=("id", "ra", "dec", "z", "richness", "bcg_rmag"),
        dtype=("U32", float, float, float, float, float),
    )


def sky_for_views(views, images_cfg: dict, seed: int, catalogues: dict | None = None) -> MockSky:
    """The one sky an image shard cuts its synthetic views from.

    ``catalogues``: ``redmapper`` (path), ``abell`` (paths) and ``match_radius_arcmin`` of the
    bundled catalogues the sky holds; without them the sky holds only the plan's clusters. The
    plan's clusters are always held, with the plan's values (``MockSky.add_clusters``).
    """
    rm = only = None
    if catalogues:
        rm, only = read_sky_catalogues(
            catalogues["redmapper"], catalogues["abell"], float(catalogues.get("match_radius_arcmin", 3.0))
        )
    sky = MockSky(int(seed), {**images_cfg["mock"], "background": "synthetic"}, rm, only)
    sky.add_clusters(plan_clusters(views))
    return sky
