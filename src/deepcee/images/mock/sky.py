"""One mock sky: a deterministic universe that any TAN cutout renders the same way.

Training views, test views, redMaPPer views and search tiles are all cutouts of it
(docs/design.md §4): a cluster looks the same in each, and whatever lies near it on the sky
(another catalogued cluster, a group, a bright star) is in every view that covers it.

  * field galaxies, stars (saturated ones included) and big foreground galaxies live in
    HEALPix cells of ``FIELD_NSIDE`` = 512 (nested, ~412" across, a quarter of a view side):
    the objects of one cell come from ``numpy.random.SeedSequence`` keyed by (seed, cell)
    (``deepcee.core.seeds.rng``), drawn with ``universe``'s population functions over a square
    covering the cell and kept where their centre falls inside it. Small cells keep what a
    view generates close to what it shows;
  * uncatalogued groups are indexed per ``GROUP_NSIDE`` = 64 cell (~0.9 deg): each cell's
    group centres, redshifts (0.04 < z < 0.45 at a constant comoving density,
    ``universe.volume_redshifts``) and richnesses come from the cell's key, and a group's
    members are drawn (from the group's own key) only when a cutout comes within their reach;
  * every redMaPPer cluster at its catalogue z and lambda, drawn from the same key as the
    image stage always used (``rng(seed, "mock-cluster", id)``), found by its reach
    (``universe.member_reach_arcsec``), not by cell;
  * every Abell/ACO position with no redMaPPer cluster within the match radius, as a
    cluster of richness ``ABELL_ONLY_RICHNESS`` = 40 at z ~ U(0.05, 0.20) keyed by its ACO
    number (Abell richness class >= 0 means >= 30 galaxies within m3 + 2 in 1.5 h^-1 Mpc,
    Abell, Corwin & Olowin 1989; lambda ~ 40 is a typical redMaPPer richness of such
    clusters; the redshift range is where the catalogue's clusters lie);
  * the seeing is a property of the sky: one PSF FWHM per ``SEEING_NSIDE`` = 256 cell
    (~14', the size of an SDSS field, 13.5' x 9.8'; SDSS seeing changes field by field),
    drawn like the per-view seeing of an injected view (N(1.43", 0.2") clipped to 0.9-2.2"). An
    object takes the seeing of the cell its centre lies in.

A cutout (any TAN WCS) draws exactly the objects whose stamp (``Canvas.stamp_pixels``, at
most ``MAX_STAMP_ARCSEC``) meets it, through its own WCS, with ``draw``'s ``Canvas`` (same
PSF, exact/fast split, saturation). Noise (``draw``'s SDSS noise model) is drawn from a key of
the cutout, so it differs between cutouts; everything else agrees pixel for pixel where they
overlap. Position angles are drawn for north-up, east-left axes and turned (or mirrored) into
each cutout's WCS, so a rotated cutout shows the same shapes.

Views as cutouts of this sky (their truth tables and counts) are ``images/mock/render.py``.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table, vstack

from deepcee.core.config import with_defaults
from deepcee.core.errors import DeepCeeError
from deepcee.core.seeds import rng
from deepcee.images.fits import make_wcs
from deepcee.images.mock import universe
from deepcee.images.mock.draw import Canvas, add_sdss_noise, band_fluxes, noise_normals, saturate
from deepcee.images.mock.library_objects import (
    LibraryObjects,
    chooses,
    draw_library_objects,
    frame_quarter_turns,
    plan_library_objects,
)

FIELD_NSIDE = 512
GROUP_NSIDE = 64
SEEING_NSIDE = 256
#: Seeing is quantised to 0.05" (a quarter of its 0.2" per-field scatter; docs/mock-numbers.md §1).
SEEING_STEP_ARCSEC = 0.05
#: The longest stamp ``draw.Canvas`` draws (``Canvas.max_stamp_arcsec``): no object's light reaches further.
MAX_STAMP_ARCSEC = 200.0
ABELL_ONLY_RICHNESS = 40.0
ABELL_ONLY_Z = (0.05, 0.20)
GROUP_Z = (0.04, 0.45)
#: The column layout of every object list (``universe.Objects``' fields with ra/dec for east/north;
#: ``label``: field, star, foreground, group or cluster; ``owner``: the group or cluster id).
OBJECT_LABELS = ("field", "star", "foreground", "group", "cluster")


def _healpix(nside: int):
    from astropy_healpix import HEALPix

    return HEALPix(nside=nside, order="nested", frame="icrs")


def _offsets_to_sky(ra0, dec0, east, north):
    """Gnomonic (TAN) offsets in arcsec east/north of (ra0, dec0) -> (ra, dec) in deg."""
    ra0r, dec0r = np.radians(ra0), np.radians(dec0)
    xi = np.radians(np.asarray(east, float) / 3600.0)
    eta = np.radians(np.asarray(north, float) / 3600.0)
    denom = np.cos(dec0r) - eta * np.sin(dec0r)
    ra = ra0r + np.arctan2(xi, denom)
    dec = np.arctan2(np.sin(dec0r) + eta * np.cos(dec0r), np.hypot(xi, denom))
    return np.degrees(ra) % 360.0, np.degrees(dec)


def _separation_arcsec(ra0, dec0, ra, dec):
    """Great-circle separation (haversine) of (ra0, dec0) from arrays (ra, dec), degrees in."""
    r0, d0 = np.radians(ra0), np.radians(dec0)
    r, d = np.radians(np.asarray(ra, float)), np.radians(np.asarray(dec, float))
    h = np.sin((d - d0) / 2) ** 2 + np.cos(d0) * np.cos(d) * np.sin((r - r0) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))) * 3600.0


@dataclass
class SkyObjects:
    """Columns of objects on the sky (see ``OBJECT_LABELS``)."""

    cols: dict = field(default_factory=dict)

    @classmethod
    def from_objects(cls, objs: universe.Objects, ra0: float, dec0: float, label: str, owner: str = ""):
        """Objects laid out around (ra0, dec0); for a cluster or group the first is its central."""
        a = objs.arrays()
        ra, dec = _offsets_to_sky(ra0, dec0, a.pop("east"), a.pop("north"))
        n = len(ra)
        central = np.zeros(n, dtype=bool)
        if label in ("cluster", "group") and n:
            central[0] = True
        return cls(
            {
                "ra": ra,
                "dec": dec,
                **a,
                "label": np.full(n, label, dtype="U10"),
                "owner": np.full(n, owner, dtype="U32"),
                "central": central,
            }
        )

    @staticmethod
    def concat(parts):
        parts = [p for p in parts if len(p)]
        if not parts:
            keys = ("ra", "dec", *[f for f in universe.Objects.FIELDS if f not in ("east", "north")])
            empty = {k: np.zeros(0) for k in keys}
            return SkyObjects(
                {**empty, "label": np.zeros(0, "U10"), "owner": np.zeros(0, "U32"), "central": np.zeros(0, bool)}
            )
        return SkyObjects({k: np.concatenate([p.cols[k] for p in parts]) for k in parts[0].cols})

    def take(self, mask):
        return SkyObjects({k: v[mask] for k, v in self.cols.items()})

    def __len__(self):
        return len(self.cols.get("ra", ()))


def abell_only_positions(abell: Table, redmapper: Table, radius_arcmin: float = 3.0) -> Table:
    """Abell/ACO positions with no redMaPPer centre within ``radius_arcmin`` (rendered as clusters)."""
    if len(abell) == 0:
        return abell
    if len(redmapper) == 0:
        return abell
    aco = SkyCoord(np.asarray(abell["ra"], float) * u.deg, np.asarray(abell["dec"], float) * u.deg)
    rm = SkyCoord(np.asarray(redmapper["ra"], float) * u.deg, np.asarray(redmapper["dec"], float) * u.deg)
    _, sep, _ = aco.match_to_catalog_sky(rm)
    return abell[sep.to_value(u.arcmin) > radius_arcmin]


class _Cache(OrderedDict):
    """A small least-recently-used cache: neighbouring cutouts share cells, clusters and groups."""

    def __init__(self, size: int):
        super().__init__()
        self.size = int(size)

    def get_or_make(self, key, make):
        if key in self:
            self.move_to_end(key)
            return self[key]
        return self.put(key, make(key))

    def put(self, key, value):
        self[key] = value
        if len(self) > self.size:
            self.popitem(last=False)
        return value


class MockSky:
    """The one mock sky of a seed, a mock config (``images.mock``) and the bundled catalogues.

    ``redmapper``: table with id, ra, dec, z, richness (bcg_rmag optional);
    ``abell_only``: table with aco, ra, dec (positions without a redMaPPer match).
    """

    def __init__(
        self,
        seed: int,
        mock_cfg: dict | None = None,
        redmapper: Table | None = None,
        abell_only: Table | None = None,
        cache_cells: int = 512,
    ):
        self.seed = int(seed)
        self.mc = with_defaults("images", {"mock": mock_cfg or {}})["mock"]
        if self.mc.get("background", "synthetic") != "synthetic":
            raise DeepCeeError("images.mock.background: the one mock sky renders the synthetic background only")
        self.hp = _healpix(FIELD_NSIDE)
        self.hp_groups = _healpix(GROUP_NSIDE)
        self.hp_seeing = _healpix(SEEING_NSIDE)
        self._cells = _Cache(cache_cells)
        self._group_cells = _Cache(64)
        self._members = _Cache(256)
        self._set_clusters(self._catalogued(redmapper, abell_only))
        # the widest group any cell can hold: the lowest redshift and highest richness it draws
        self._max_group_reach = float(
            universe.member_reach_arcsec(GROUP_Z[0], self.mc["group_richness"][1]) + MAX_STAMP_ARCSEC
        )

    # ------------------------------------------------------------------ the catalogued clusters
    def _catalogued(self, redmapper, abell_only) -> Table:
        """One table of every catalogued cluster: id, ra, dec, z, richness, bcg_rmag, kind."""
        ids, ra, dec, z, lam, bcg, kind = [], [], [], [], [], [], []
        if redmapper is not None and len(redmapper):
            ids += [str(i) for i in redmapper["id"]]
            ra += list(np.asarray(redmapper["ra"], float))
            dec += list(np.asarray(redmapper["dec"], float))
            z += list(np.asarray(redmapper["z"], float))
            lam += list(np.asarray(redmapper["richness"], float))
            if "bcg_rmag" in redmapper.colnames:
                bcg += list(np.asarray(np.ma.filled(redmapper["bcg_rmag"], np.nan), float))
            else:
                bcg += [np.nan] * len(redmapper)
            kind += ["redmapper"] * len(redmapper)
        if abell_only is not None and len(abell_only):
            for row in abell_only:
                name = f"A{int(row['aco'])}"
                gen = rng(self.seed, "sky-abell", name)
                ids.append(name)
                ra.append(float(row["ra"]))
                dec.append(float(row["dec"]))
                z.append(float(gen.uniform(*ABELL_ONLY_Z)))
                lam.append(ABELL_ONLY_RICHNESS)
                bcg.append(np.nan)
                kind.append("abell")
        return Table(
            {
                "id": np.asarray(ids, dtype="U32"),
                "ra": np.asarray(ra, float),
                "dec": np.asarray(dec, float),
                "z": np.asarray(z, float),
                "richness": np.asarray(lam, float),
                "bcg_rmag": np.asarray(bcg, float),
                "kind": np.asarray(kind, dtype="U10"),
            }
        )

    def _set_clusters(self, t: Table) -> None:
        """Hold ``t`` as the sky's clusters, each with how far its light reaches."""
        good = np.isfinite(t["z"]) & (t["z"] > 0)
        if not good.all():
            raise DeepCeeError(
                f"mock sky: cluster {t['id'][~good][0]}: redshift {t['z'][~good][0]} unusable for the mock"
            )
        t["reach_arcsec"] = universe.member_reach_arcsec(t["z"], t["richness"]) + MAX_STAMP_ARCSEC
        self.clusters = t
        self._cluster_row = {str(i): k for k, i in enumerate(t["id"])}
        self._members.clear()

    def add_clusters(self, clusters: Table, kind: str = "catalogue") -> None:
        """Hold these clusters too (id, ra, dec, z, richness, bcg_rmag optional), with their values.

        A views plan names its clusters from the catalogue stage; where the sky was built from
        other catalogues (a WHL12 sample) or the sample's values differ, the plan's own clusters
        are the ones drawn at its positions. The search's injected clusters come in as
        ``kind="injected"`` (deepcee.search.inject): drawn by the same code, told apart only in truth.
        """
        if clusters is None or len(clusters) == 0:
            return
        new = self._catalogued(clusters, None)
        new["kind"] = kind
        ids = set(new["id"])
        old = self.clusters[[str(i) not in ids for i in self.clusters["id"]]]
        old.remove_column("reach_arcsec")
        self._set_clusters(vstack([old, new]))

    def holds(self, cluster_id: str) -> bool:
        """Whether the sky holds this catalogued cluster (by id)."""
        return str(cluster_id) in self._cluster_row

    def _cluster_members(self, key) -> SkyObjects:
        kind, ident = key
        mc = self.mc
        if kind == "cluster":
            row = self.clusters[self._cluster_row[ident]]
            objs = universe.catalogued_cluster_objects(self.seed, ident, row["z"], row["richness"], row["bcg_rmag"], mc)
            return SkyObjects.from_objects(objs, float(row["ra"]), float(row["dec"]), "cluster", ident)
        cell, k = ident
        g = self.groups_in_cell(cell)[k]
        objs = universe.cluster_objects(
            rng(self.seed, "sky-group", int(cell), int(g["k"])),
            float(g["z"]),
            float(g["richness"]),
            mc["mag_limit"],
            member_scale=1.0,
            concentration=mc["member_concentration"],
            blue_fraction=0.35,
        )
        return SkyObjects.from_objects(objs, float(g["ra"]), float(g["dec"]), "group", str(g["id"]))

    # ------------------------------------------------------------------ cells
    def seeing(self, cell: int) -> float:
        """The PSF FWHM of one ``SEEING_NSIDE`` cell (an injected view's seeing distribution),
        in steps of ``SEEING_STEP_ARCSEC`` so that a shard's views share a few dozen PSFs."""
        gen = rng(self.seed, "sky-seeing", int(cell))
        fwhm = np.clip(gen.normal(self.mc["psf_fwhm_arcsec"], self.mc["psf_fwhm_sigma_arcsec"]), 0.9, 2.2)
        return float(np.round(fwhm / SEEING_STEP_ARCSEC) * SEEING_STEP_ARCSEC)

    def sky_factor(self, cell: int) -> float:
        """The sky brightness of one ``SEEING_NSIDE`` cell (an SDSS field) relative to the median
        (``SKY_NMGY_ARCSEC2``): lognormal, ``sky_brightness_sigma_mag`` in magnitudes (MN §1: the
        r sky's quartiles 20.70 / 20.86 / 21.03 mag arcsec^-2 give sigma = 0.245 mag)."""
        sigma = float(self.mc["sky_brightness_sigma_mag"])
        if sigma <= 0:
            return 1.0
        gen = rng(self.seed, "sky-brightness", int(cell))
        return float(10.0 ** (-0.4 * np.clip(gen.normal(0.0, sigma), -3 * sigma, 3 * sigma)))

    def field_cells(self, ra, dec) -> np.ndarray:
        """The ``SEEING_NSIDE`` cell (an SDSS field: its seeing and sky brightness) of each (ra, dec) (deg)."""
        return self.hp_seeing.lonlat_to_healpix(np.atleast_1d(ra) * u.deg, np.atleast_1d(dec) * u.deg)

    def sky_factor_at(self, ra: float, dec: float) -> float:
        return self.sky_factor(int(self.field_cells(ra, dec)[0]))

    def seeing_at(self, ra, dec) -> np.ndarray:
        """The PSF FWHM at each (ra, dec) (deg): the seeing of the cell it lies in."""
        cells = self.field_cells(ra, dec)
        uniq, inverse = np.unique(cells, return_inverse=True)
        return np.asarray([self.seeing(c) for c in uniq], dtype=float)[inverse.reshape(-1)]

    @staticmethod
    def _squares(hp, cells) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Centres (ra, dec) of cells and the half side (arcsec) of a tangent square covering each
        (its farthest corner from the centre, plus 5 % for the curved edges between corners)."""
        cells = np.atleast_1d(np.asarray(cells, dtype=np.int64))
        lon, lat = hp.healpix_to_lonlat(cells)
        ra0, dec0 = lon.to_value(u.deg), lat.to_value(u.deg)
        blon, blat = hp.boundaries_lonlat(cells, step=1)
        half = _separation_arcsec(ra0[:, None], dec0[:, None], blon.to_value(u.deg), blat.to_value(u.deg))
        return ra0, dec0, half.max(axis=1) * 1.05

    def cell_objects(self, cell: int) -> SkyObjects:
        """The field galaxies, stars and foreground galaxies centred in one ``FIELD_NSIDE`` cell."""
        return self.cells_objects([cell])[0]

    def cells_objects(self, cells) -> list[SkyObjects]:
        """``cell_objects`` of many cells, the missing ones made together (one HEALPix call each)."""
        cells = [int(c) for c in cells]
        have = {c: self._cells.get_or_make(c, None) for c in cells if c in self._cells}
        missing = [c for c in dict.fromkeys(cells) if c not in have]
        if missing:
            ra0, dec0, half = self._squares(self.hp, missing)
            made = [self._make_cell(c, ra0[k], dec0[k], half[k]) for k, c in enumerate(missing)]
            where = self.hp.lonlat_to_healpix(
                np.concatenate([m.cols["ra"] for m in made]) * u.deg,
                np.concatenate([m.cols["dec"] for m in made]) * u.deg,
            )
            start = 0
            for c, m in zip(missing, made):  # keep the square's objects whose centre is in this cell
                have[c] = self._cells.put(c, m.take(where[start : start + len(m)] == c))
                start += len(m)
        return [have[c] for c in cells]

    def _make_cell(self, cell: int, ra0: float, dec0: float, half: float) -> SkyObjects:
        """Every object drawn over the square covering ``cell`` (the caller keeps those inside)."""
        mc = self.mc
        gen = rng(self.seed, "sky-cell", cell)
        stars = universe.star_objects(gen, half, mc["mag_limit"], mc["star_density_scale"], mc["bright_stars_per_deg2"])
        return SkyObjects.concat(
            [
                SkyObjects.from_objects(
                    universe.field_objects(gen, half, mc["mag_limit"], mc["galaxy_density_scale"]), ra0, dec0, "field"
                ),
                SkyObjects.from_objects(stars, ra0, dec0, "star"),
                SkyObjects.from_objects(
                    universe.foreground_objects(gen, half, mc["foreground_per_deg2"]), ra0, dec0, "foreground"
                ),
            ]
        )

    def groups_in_cell(self, cell: int) -> Table:
        """The uncatalogued groups centred in one ``GROUP_NSIDE`` cell: id, ra, dec, z, richness, reach."""
        return self._group_cells.get_or_make(int(cell), self._make_group_cell)

    def _make_group_cell(self, cell: int) -> Table:
        mc = self.mc
        ra0, dec0, half = (float(v[0]) for v in self._squares(self.hp_groups, [cell]))
        gen = rng(self.seed, "sky-groups", cell)
        n = int(gen.poisson(mc["groups_per_deg2"] * (2 * half / 3600.0) ** 2))
        east, north = gen.uniform(-half, half, n), gen.uniform(-half, half, n)
        z = universe.volume_redshifts(gen, n, GROUP_Z)
        lam = gen.uniform(*mc["group_richness"], n)
        ra, dec = _offsets_to_sky(ra0, dec0, east, north)
        k = np.arange(n)
        inside = self.hp_groups.lonlat_to_healpix(ra * u.deg, dec * u.deg) == cell if n else np.zeros(0, bool)
        t = Table(
            {
                "id": np.asarray([f"G{cell}-{j}" for j in k[inside]], dtype="U32"),
                "k": k[inside],
                "ra": ra[inside],
                "dec": dec[inside],
                "z": z[inside],
                "richness": lam[inside],
            }
        )
        t["reach_arcsec"] = universe.member_reach_arcsec(t["z"], t["richness"]) + MAX_STAMP_ARCSEC
        return t

    # ------------------------------------------------------------------ what a cutout may show
    def objects_near(self, ra: float, dec: float, radius_arcsec: float) -> SkyObjects:
        """Every object whose light may fall within ``radius_arcsec`` of (ra, dec).

        In a fixed order (cells by number, then clusters, then groups), so cutouts draw the
        objects they share in the same order.
        """
        parts = []
        cells = np.sort(
            self.hp.cone_search_lonlat(ra * u.deg, dec * u.deg, (radius_arcsec + MAX_STAMP_ARCSEC) * u.arcsec)
        )
        parts += self.cells_objects(cells)
        cl = self.clusters
        if len(cl):
            near = _separation_arcsec(ra, dec, cl["ra"], cl["dec"]) < radius_arcsec + np.asarray(cl["reach_arcsec"])
            parts += [self._members.get_or_make(("cluster", str(i)), self._cluster_members) for i in cl["id"][near]]
        gcells = np.sort(
            self.hp_groups.cone_search_lonlat(
                ra * u.deg, dec * u.deg, (radius_arcsec + self._max_group_reach) * u.arcsec
            )
        )
        for gc in gcells:
            g = self.groups_in_cell(gc)
            if len(g):
                near = _separation_arcsec(ra, dec, g["ra"], g["dec"]) < radius_arcsec + np.asarray(g["reach_arcsec"])
                parts += [
                    self._members.get_or_make(("group", (int(gc), int(j))), self._cluster_members)
                    for j in np.flatnonzero(near)
                ]
        return SkyObjects.concat(parts)

    def render(
        self,
        wcs,
        shape: tuple[int, int],
        pixel_scale_arcsec: float,
        noise_key=None,
        noise: bool = True,
        library: LibraryObjects | None = None,
    ) -> tuple[np.ndarray, dict]:
        """The g, r, i nMgy image (3 x ny x nx float32) of a cutout through ``wcs``.

        ``noise_key`` (anything hashable) seeds the noise; ``noise=False`` leaves it out.
        ``library``: one role's real galaxies and stars, drawn for the bright objects
        (``library_objects``; None: GalSim draws every object).
        ``info["objects"]``: the objects drawn (SkyObjects plus their pixel ``x``, ``y`` and
        ``library_id``, -1 for GalSim's); ``info["library"]``: how many came from the library.
        """
        ny, nx = shape
        if ny != nx:
            raise DeepCeeError(f"sky cutout: square cutouts only (got {nx} x {ny})")
        scale = float(pixel_scale_arcsec)
        cx, cy = (nx - 1) / 2.0, (ny - 1) / 2.0
        centre = wcs.pixel_to_world(cx, cy)
        ra_c, dec_c = float(centre.ra.deg), float(centre.dec.deg)
        objs = self.objects_near(ra_c, dec_c, np.hypot(nx, ny) / 2.0 * scale)
        canvas = Canvas(nx, scale, self.mc["psf_fwhm_arcsec"], self.mc["psf_beta"], self.mc["exact_mag"])
        counts = dict.fromkeys(OBJECT_LABELS, 0)
        drawn = SkyObjects.concat([])
        drawn.cols.update(x=np.zeros(0), y=np.zeros(0), library_id=np.zeros(0, np.int64))
        from_library = np.zeros(0, dtype=bool)
        if len(objs):
            c = objs.cols
            xs, ys = wcs.world_to_pixel_values(c["ra"], c["dec"])
            psf = self.seeing_at(c["ra"], c["dec"])
            # only objects whose stamp meets the cutout (the same test Canvas.draw makes)
            h = canvas.stamp_pixels(c["kind"], c["mag_r"], c["hlr"], psf)
            ix, iy = np.round(xs).astype(int), np.round(ys).astype(int)
            meets = (ix - h < nx) & (iy - h < ny) & (ix + h + 1 > 0) & (iy + h + 1 > 0)
            idx = np.flatnonzero(meets)
            # draw seeing by seeing (one PSF set per value), otherwise in the objects' fixed order
            idx = idx[np.argsort(psf[idx], kind="stable")]
            drawn = objs.take(idx)
            drawn.cols["x"], drawn.cols["y"] = xs[idx], ys[idx]
            drawn.cols["library_id"] = np.full(len(idx), -1, dtype=np.int64)
            turn, mirrored = self._frame(wcs, c, idx, xs, ys)
            betas = np.where(mirrored, np.pi - c["beta"][idx], c["beta"][idx]) + turn
            from_library = np.zeros(len(idx), dtype=bool)
            if library is not None:
                pick = np.flatnonzero(chooses(library, c["label"][idx], c["mag_r"][idx]))
                plan = plan_library_objects(
                    library, self.seed, *(c[k][idx[pick]] for k in ("ra", "dec", "kind", "mag_r", "gr", "ri"))
                )
                from_library[pick[plan.drawn]] = True
            fl = band_fluxes(c["mag_r"][idx], c["gr"][idx], c["ri"][idx])
            current_psf = None
            rows = zip(
                from_library.tolist(),
                psf[idx].tolist(),
                xs[idx].tolist(),
                ys[idx].tolist(),
                fl.tolist(),
                *(c[k][idx].tolist() for k in ("mag_r", "kind", "n", "hlr", "q")),
                betas.tolist(),
                h[idx].tolist(),
            )
            for real, fwhm, x, y, fluxes, mag_r, kind, n, hlr, q, beta, half in rows:
                if real:
                    continue
                if fwhm != current_psf:
                    current_psf = fwhm
                    canvas.set_psf(fwhm)
                canvas.draw(x, y, fluxes, mag_r, int(kind), n, hlr, q, beta, h=half)
            labels, n = np.unique(drawn.cols["label"], return_counts=True)
            counts.update({str(k): int(v) for k, v in zip(labels, n)})
        img = canvas.img
        saturate(img, canvas.os**2)
        if noise:
            gen = rng(self.seed, "sky-noise", *(noise_key if isinstance(noise_key, tuple) else (noise_key,)))
            corr = self.mc["noise_correlation"]
            normal = noise_normals(gen, img.shape, float(corr["fraction"]), float(corr["kernel_px"]))
            add_sdss_noise(img, normal, scale, canvas.os**2, sky_factor=self.sky_factor_at(ra_c, dec_c))
        if from_library.any():  # real entries carry their own noise: added after the sky's
            d = drawn.cols
            mags, ids = draw_library_objects(
                img, library, plan, d["x"][pick], d["y"][pick], frame_quarter_turns(turn[pick]), mirrored[pick]
            )
            d["mag_r"][pick[plan.drawn]], d["library_id"][pick] = mags[plan.drawn], ids
        info = {
            "n_exact": canvas.n_exact,
            "n_fast": canvas.n_fast,
            **counts,
            "library": int(from_library.sum()),
            "objects": drawn,
        }
        return img, info

    @staticmethod
    def _frame(wcs, c, idx, xs, ys) -> tuple[np.ndarray, np.ndarray]:
        """How ``wcs``'s axes lie against north-up, east-left at each object's own position: (the
        turn in radians, mirrored). Position angles and library stamps are drawn in the sky's frame
        and carried through it, so cutouts sharing pixels draw identical shapes."""
        ra_k, dec_k = c["ra"][idx], c["dec"][idx]
        step = 1.0 / 3600.0
        nx_, ny_ = wcs.world_to_pixel_values(ra_k, dec_k + step)
        ex_, ey_ = wcs.world_to_pixel_values(ra_k + step / np.cos(np.radians(dec_k)), dec_k)
        dnx, dny = nx_ - xs[idx], ny_ - ys[idx]
        dex, dey = ex_ - xs[idx], ey_ - ys[idx]
        turn = np.arctan2(dny, dnx) - np.pi / 2
        mirrored = dnx * dey - dny * dex < 0
        return turn, mirrored

    def cutout(
        self,
        ra: float,
        dec: float,
        pixels: int,
        pixel_scale_arcsec: float,
        noise_key=None,
        noise: bool = True,
        library: LibraryObjects | None = None,
    ):
        """A north-up TAN cutout centred on (ra, dec): (image, WCS, info)."""
        wcs = make_wcs(float(ra), float(dec), int(pixels), float(pixel_scale_arcsec))
        img, info = self.render(
            wcs,
            (int(pixels), int(pixels)),
            pixel_scale_arcsec,
            noise_key=noise_key if noise_key is not None else (round(ra, 7), round(dec, 7)),
            noise=noise,
            library=library,
        )
        return img, wcs, info

    def truth_in(self, ra_min, ra_max, dec_min, dec_max) -> Table:
        """Catalogued (and injected) clusters and uncatalogued groups centred in an RA/Dec box, with
        their kind, richness and z (purity truth)."""
        cl = self.clusters
        m = (cl["ra"] >= ra_min) & (cl["ra"] <= ra_max) & (cl["dec"] >= dec_min) & (cl["dec"] <= dec_max)
        rows = [
            (str(r["id"]), float(r["ra"]), float(r["dec"]), str(r["kind"]), float(r["richness"]), float(r["z"]))
            for r in cl[m]
        ]
        ra_c, dec_c = (ra_min + ra_max) / 2, (dec_min + dec_max) / 2
        radius = float(_separation_arcsec(ra_c, dec_c, ra_min, dec_min)[()])
        for cell in np.sort(self.hp_groups.cone_search_lonlat(ra_c * u.deg, dec_c * u.deg, radius * u.arcsec)):
            for r in self.groups_in_cell(cell):
                if ra_min <= r["ra"] <= ra_max and dec_min <= r["dec"] <= dec_max:
                    rows.append(
                        (str(r["id"]), float(r["ra"]), float(r["dec"]), "group", float(r["richness"]), float(r["z"]))
                    )
        names, dtype = ("id", "ra", "dec", "kind", "richness", "z"), ("U32", float, float, "U10", float, float)
        return Table(rows=rows, names=names, dtype=dtype) if rows else Table(names=names, dtype=dtype)


def read_sky_catalogues(redmapper_path, abell_paths, match_radius_arcmin: float = 3.0) -> tuple[Table, Table]:
    """The bundled redMaPPer catalogue and the Abell/ACO positions it does not match."""
    from deepcee.catalogue.select import read_abell_tsv, read_redmapper_bundled

    rm = read_redmapper_bundled(redmapper_path)
    aco = read_abell_tsv(abell_paths)
    return rm, abell_only_positions(aco, rm, float(match_radius_arcmin))


def sky_from_config(config: dict, redmapper_path=None, abell_paths=None) -> MockSky:
    """The mock sky of a workflow config, with the bundled catalogues it names."""
    cat = config["catalogue"]
    rm, only = read_sky_catalogues(
        redmapper_path or cat["bundled"]["redmapper"],
        abell_paths or cat["bundled"]["abell"],
        float(cat.get("match_radius_arcmin", 3.0)),
    )
    return MockSky(int(config["seed"]), config["images"].get("mock", {}), rm, only)
