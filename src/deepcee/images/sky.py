"""One mock sky: a deterministic universe that any TAN cutout renders the same way.

``images/mocksky.py`` renders one view around one cluster; its field, stars and confusers
are drawn per view, so two overlapping views disagree. Here every object lives on the sky:

  * the sky is cut into HEALPix cells (``CELL_NSIDE`` = 64, nested: ~0.92 deg cells, far
    larger than any cluster, whose members reach at most ~R_lambda ~ 1.4 Mpc ~ 16' at z = 0.08);
  * the objects of one cell come from ``numpy.random.SeedSequence`` keyed by (seed, cell)
    (``deepcee.core.seeds.rng``): field galaxies, stars, bright stars, big foreground
    galaxies and uncatalogued groups, drawn with mocksky's population functions over a
    square that covers the cell and kept where their centre falls inside the cell;
  * every redMaPPer cluster whose centre lies in the cell, at its catalogue z and lambda,
    drawn from the same key as mocksky's views (``rng(seed, "mock-cluster", id)``), so a
    cluster looks the same in a training view and in a search tile;
  * every Abell/ACO position with no redMaPPer cluster within the match radius, as a
    cluster of richness ``ABELL_ONLY_RICHNESS`` = 40 at z ~ U(0.05, 0.20) keyed by its ACO
    number (Abell richness class >= 0 means >= 30 galaxies within m3 + 2 in 1.5 h^-1 Mpc,
    Abell, Corwin & Olowin 1989; lambda ~ 40 is a typical redMaPPer richness of such
    clusters; the redshift range is where the catalogue's clusters lie);
  * the seeing is a property of the sky too: one PSF FWHM per cell (SDSS seeing changes
    field by field), drawn like mocksky's per-view seeing.

A cutout (any TAN WCS) gathers the cells within its half-diagonal plus ``MARGIN_ARCSEC``
(the longest stamp mocksky draws, 200", plus the widest cluster) and draws every object
through its own WCS with mocksky's ``Canvas`` (same PSF, exact/fast split, saturation).
Noise (the SDSS noise model of mocksky.render_view) is drawn from a key of the cutout, so
it differs between cutouts; everything else agrees pixel for pixel where they overlap.
Position angles are drawn for north-up, east-left axes and turned (or mirrored) into each
cutout's WCS, so a rotated cutout shows the same shapes.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table

from deepcee.core.config import with_defaults
from deepcee.core.errors import DeepCeeError
from deepcee.core.seeds import rng
from deepcee.images import mocksky
from deepcee.images.fits import make_wcs

CELL_NSIDE = 64
#: Objects whose centre lies this far outside a cutout can still put light in it: mocksky's
#: longest stamp (``Canvas.max_stamp_arcsec`` = 200") or a cluster member up to R_lambda
#: (~16' for lambda = 300 at z = 0.08) from its cell's edge, whichever a cell search needs.
MARGIN_ARCSEC = 200.0
CLUSTER_REACH_ARCSEC = 1100.0
ABELL_ONLY_RICHNESS = 40.0
ABELL_ONLY_Z = (0.05, 0.20)


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


@dataclass
class SkyObjects:
    """Columns of objects on the sky (mocksky.Objects' fields, with ra/dec for east/north)."""

    cols: dict = field(default_factory=dict)

    @classmethod
    def from_objects(cls, objs: mocksky.Objects, ra0: float, dec0: float, label: str, psf: float):
        a = objs.arrays()
        ra, dec = _offsets_to_sky(ra0, dec0, a.pop("east"), a.pop("north"))
        n = len(ra)
        return cls(
            {"ra": ra, "dec": dec, **a, "label": np.full(n, label, dtype="U16"), "psf": np.full(n, psf, dtype=float)}
        )

    @staticmethod
    def concat(parts):
        parts = [p for p in parts if p.cols and len(p.cols["ra"])]
        if not parts:
            keys = ("ra", "dec", *[f for f in mocksky.Objects.FIELDS if f not in ("east", "north")], "label", "psf")
            return SkyObjects({k: np.zeros(0, dtype="U10" if k == "label" else float) for k in keys})
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
        cache_cells: int = 64,
    ):
        self.seed = int(seed)
        self.mc = with_defaults("images", {"mock": mock_cfg or {}})["mock"]
        if self.mc.get("background", "synthetic") != "synthetic":
            raise DeepCeeError("images.mock.background: the one mock sky renders the synthetic background only")
        self.hp = _healpix(CELL_NSIDE)
        self._cells: OrderedDict[int, SkyObjects] = OrderedDict()
        self._cache_cells = int(cache_cells)
        self.clusters = self._index_clusters(redmapper, abell_only)

    # ------------------------------------------------------------------ the catalogued clusters
    def _index_clusters(self, redmapper, abell_only) -> Table:
        """One table of every catalogued cluster the sky holds, with its cell."""
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
        t = Table(
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
        t["cell"] = (
            self.hp.lonlat_to_healpix(t["ra"] * u.deg, t["dec"] * u.deg) if len(t) else np.zeros(0, dtype=np.int64)
        )
        return t

    # ------------------------------------------------------------------ one cell
    def seeing(self, cell: int) -> float:
        """The PSF FWHM of one cell (mocksky's per-view seeing distribution, per cell here)."""
        gen = rng(self.seed, "sky-seeing", int(cell))
        return float(np.clip(gen.normal(self.mc["psf_fwhm_arcsec"], self.mc["psf_fwhm_sigma_arcsec"]), 0.9, 2.2))

    def cell_objects(self, cell: int) -> SkyObjects:
        """Every object whose centre lies in ``cell`` (cached: neighbouring tiles share cells)."""
        cell = int(cell)
        if cell in self._cells:
            self._cells.move_to_end(cell)
            return self._cells[cell]
        objs = self._make_cell(cell)
        self._cells[cell] = objs
        if len(self._cells) > self._cache_cells:
            self._cells.popitem(last=False)
        return objs

    def _make_cell(self, cell: int) -> SkyObjects:
        mc = self.mc
        psf = self.seeing(cell)
        lon, lat = self.hp.healpix_to_lonlat(cell)
        ra0, dec0 = float(lon.to_value(u.deg)), float(lat.to_value(u.deg))
        # half side (arcsec) of a square in the tangent plane at the centre covering the whole cell
        blon, blat = self.hp.boundaries_lonlat(cell, step=4)
        corners = SkyCoord(blon[0], blat[0])
        half = float(corners.separation(SkyCoord(ra0 * u.deg, dec0 * u.deg)).max().to_value(u.arcsec)) * 1.05
        gen = rng(self.seed, "sky-cell", cell)
        parts = [
            SkyObjects.from_objects(
                mocksky.field_objects(gen, half, mc["mag_limit"], mc["galaxy_density_scale"]), ra0, dec0, "field", psf
            ),
            SkyObjects.from_objects(
                mocksky.star_objects(gen, half, mc["mag_limit"], mc["star_density_scale"], mc["bright_stars_per_deg2"]),
                ra0,
                dec0,
                "star",
                psf,
            ),
            SkyObjects.from_objects(
                mocksky.foreground_objects(gen, half, mc["foreground_per_deg2"]), ra0, dec0, "foreground", psf
            ),
        ]
        n_groups = gen.poisson(mc["groups_per_deg2"] * (2 * half / 3600.0) ** 2)
        for k in range(n_groups):
            g = rng(self.seed, "sky-group", cell, k)
            zg = g.uniform(0.04, 0.45)
            lam = g.uniform(*mc["group_richness"])
            ra_g, dec_g = _offsets_to_sky(ra0, dec0, g.uniform(-half, half), g.uniform(-half, half))
            grp = mocksky.cluster_objects(
                g,
                zg,
                lam,
                mc["mag_limit"],
                member_scale=1.0,
                concentration=mc["member_concentration"],
                blue_fraction=0.35,
            )
            parts.append(SkyObjects.from_objects(grp, float(ra_g), float(dec_g), f"group{k}", psf))
        sky = SkyObjects.concat(parts)
        # keep the square's objects whose centre is in this cell; a group goes with its centre
        inside = self.hp.lonlat_to_healpix(sky.cols["ra"] * u.deg, sky.cols["dec"] * u.deg) == cell
        labels = sky.cols["label"]
        for k in range(n_groups):
            members = labels == f"group{k}"
            if members.any():
                inside[members] = inside[np.flatnonzero(members)[0]]  # the group's BGG is its first object
        sky = sky.take(inside)
        parts = [sky]
        for row in self.clusters[self.clusters["cell"] == cell]:
            gen_c = rng(self.seed, "mock-cluster", str(row["id"]))
            objs = mocksky.cluster_objects(
                gen_c,
                float(row["z"]),
                float(row["richness"]),
                mc["mag_limit"],
                bcg_rmag=float(row["bcg_rmag"]),
                member_scale=mc["member_scale"],
                concentration=mc["member_concentration"],
                blue_fraction=mc["blue_member_fraction"],
            )
            parts.append(SkyObjects.from_objects(objs, float(row["ra"]), float(row["dec"]), "cluster", psf))
        return SkyObjects.concat(parts)

    def groups_in_cell(self, cell: int) -> Table:
        """The uncatalogued groups centred in a cell (truth for purity on the mock)."""
        objs = self.cell_objects(cell)
        labels = objs.cols["label"]
        rows = []
        for lab in np.unique(labels):
            if str(lab).startswith("group"):
                first = np.flatnonzero(labels == lab)[0]
                rows.append((f"G{cell}-{str(lab)[5:]}", objs.cols["ra"][first], objs.cols["dec"][first]))
        return (
            Table(rows=rows, names=("id", "ra", "dec"), dtype=("U32", float, float))
            if rows
            else Table(names=("id", "ra", "dec"), dtype=("U32", float, float))
        )

    # ------------------------------------------------------------------ cutouts
    def cells_near(self, ra: float, dec: float, radius_arcsec: float) -> np.ndarray:
        """Cells any part of which lies within ``radius_arcsec`` of (ra, dec)."""
        radius = (radius_arcsec + CLUSTER_REACH_ARCSEC) * u.arcsec
        return np.unique(self.hp.cone_search_lonlat(ra * u.deg, dec * u.deg, radius))

    def objects_near(self, ra: float, dec: float, radius_arcsec: float) -> SkyObjects:
        return SkyObjects.concat([self.cell_objects(c) for c in self.cells_near(ra, dec, radius_arcsec)])

    def render(
        self, wcs, shape: tuple[int, int], pixel_scale_arcsec: float, noise_key=None, noise: bool = True
    ) -> tuple[np.ndarray, dict]:
        """The g, r, i nMgy image (3 x ny x nx float32) of a cutout through ``wcs``.

        ``noise_key`` (anything hashable) seeds the noise; ``noise=False`` leaves it out.
        """
        ny, nx = shape
        if ny != nx:
            raise DeepCeeError(f"sky cutout: square cutouts only (got {nx} x {ny})")
        scale = float(pixel_scale_arcsec)
        cx, cy = (nx - 1) / 2.0, (ny - 1) / 2.0
        centre = wcs.pixel_to_world(cx, cy)
        ra_c, dec_c = float(centre.ra.deg), float(centre.dec.deg)
        half_diag = np.hypot(nx, ny) / 2.0 * scale
        objs = self.objects_near(ra_c, dec_c, half_diag + MARGIN_ARCSEC)
        canvas = mocksky.Canvas(nx, scale, self.mc["psf_fwhm_arcsec"], self.mc["psf_beta"], self.mc["exact_mag"])
        counts = {}
        if len(objs):
            c = objs.cols
            xs, ys = wcs.world_to_pixel_values(c["ra"], c["dec"])
            pad = MARGIN_ARCSEC / scale
            keep = (xs > -pad) & (xs < nx + pad) & (ys > -pad) & (ys < ny + pad)
            # saturated stars and big foreground galaxies spill light from further out (as in mocksky)
            keep |= (xs > -nx) & (xs < 2 * nx) & (ys > -ny) & (ys < 2 * ny) & (c["mag_r"] < 12)
            idx = np.flatnonzero(keep)
            # position angles are drawn for north-up, east-left axes: turn (and mirror) them into this
            # WCS at each object's own position, so cutouts sharing pixels draw identical shapes
            ra_k, dec_k = c["ra"][idx], c["dec"][idx]
            step = 1.0 / 3600.0
            nx_, ny_ = wcs.world_to_pixel_values(ra_k, dec_k + step)
            ex_, ey_ = wcs.world_to_pixel_values(ra_k + step / np.cos(np.radians(dec_k)), dec_k)
            dnx, dny = nx_ - xs[idx], ny_ - ys[idx]
            dex, dey = ex_ - xs[idx], ey_ - ys[idx]
            turn = np.arctan2(dny, dnx) - np.pi / 2
            mirrored = dnx * dey - dny * dex < 0
            betas = np.where(mirrored, np.pi - c["beta"][idx], c["beta"][idx]) + turn
            # a stable drawing order (cell order, then object order) whatever the cutout
            fl = mocksky._band_fluxes(c["mag_r"][idx], c["gr"][idx], c["ri"][idx])
            current_psf = None
            for j, i in enumerate(idx):
                if c["psf"][i] != current_psf:
                    current_psf = float(c["psf"][i])
                    canvas.set_psf(current_psf)
                canvas.draw(
                    xs[i], ys[i], fl[j], c["mag_r"][i], int(c["kind"][i]), c["n"][i], c["hlr"][i], c["q"][i], betas[j]
                )
                lab = str(c["label"][i])
                lab = "group" if lab.startswith("group") else lab
                counts[lab] = counts.get(lab, 0) + 1
        img = canvas.img
        mocksky.saturate(img, canvas.os**2)
        if noise:
            gen = rng(self.seed, "sky-noise", *(noise_key if isinstance(noise_key, tuple) else (noise_key,)))
            mocksky.add_sdss_noise(img, gen.standard_normal(img.shape, dtype=np.float32), scale, canvas.os**2)
        info = {"n_exact": canvas.n_exact, "n_fast": canvas.n_fast, **counts}
        return img, info

    def cutout(self, ra: float, dec: float, pixels: int, pixel_scale_arcsec: float, noise_key=None, noise: bool = True):
        """A north-up TAN cutout centred on (ra, dec): (image, WCS, info)."""
        wcs = make_wcs(float(ra), float(dec), int(pixels), float(pixel_scale_arcsec))
        img, info = self.render(
            wcs,
            (int(pixels), int(pixels)),
            pixel_scale_arcsec,
            noise_key=noise_key if noise_key is not None else (round(ra, 7), round(dec, 7)),
            noise=noise,
        )
        return img, wcs, info

    def truth_in(self, ra_min, ra_max, dec_min, dec_max) -> Table:
        """Catalogued clusters and uncatalogued groups centred in an RA/Dec box (purity truth)."""
        cl = self.clusters
        m = (cl["ra"] >= ra_min) & (cl["ra"] <= ra_max) & (cl["dec"] >= dec_min) & (cl["dec"] <= dec_max)
        rows = [(str(r["id"]), float(r["ra"]), float(r["dec"]), str(r["kind"])) for r in cl[m]]
        ra_c, dec_c = (ra_min + ra_max) / 2, (dec_min + dec_max) / 2
        radius = float(
            SkyCoord(ra_min * u.deg, dec_min * u.deg)
            .separation(SkyCoord(ra_c * u.deg, dec_c * u.deg))
            .to_value(u.arcsec)
        )
        for cell in self.cells_near(ra_c, dec_c, radius):
            g = self.groups_in_cell(cell)
            for r in g:
                if ra_min <= r["ra"] <= ra_max and dec_min <= r["dec"] <= dec_max:
                    rows.append((str(r["id"]), float(r["ra"]), float(r["dec"]), "group"))
        return (
            Table(rows=rows, names=("id", "ra", "dec", "kind"), dtype=("U32", float, float, "U10"))
            if rows
            else Table(names=("id", "ra", "dec", "kind"), dtype=("U32", float, float, "U10"))
        )


def sky_from_config(config: dict, redmapper_path=None, abell_paths=None) -> MockSky:
    """The mock sky of a workflow config, with the bundled catalogues it names."""
    from deepcee.catalogue.select import read_abell_tsv, read_redmapper_bundled

    cat = config["catalogue"]
    rm = read_redmapper_bundled(redmapper_path or cat["bundled"]["redmapper"])
    aco = read_abell_tsv(abell_paths or cat["bundled"]["abell"])
    only = abell_only_positions(aco, rm, float(cat.get("match_radius_arcmin", 3.0)))
    return MockSky(int(config["seed"]), config["images"].get("mock", {}), rm, only)
