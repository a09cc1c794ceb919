"""A fake of VizieR's network answer, for the offline tests of the VizieR path.

``requests.Session.request`` (the layer astroquery sends every request through) is
replaced by a function that answers with a VOTable laid out as VizieR serves the
asked-for table: VizieR's table name, column names, units and UCDs. Row values come
from the bundled real catalogues (redMaPPer centres and redshifts at real Abell
clusters), so the parsing, normalisation and cuts run on realistic numbers.
"""

from __future__ import annotations

import io

import numpy as np
import requests
from astropy.io.votable.tree import Field, Resource, VOTableFile
from astropy.io.votable.tree import Table as VOTable

from deepcee.catalogue import select as cat

WHL12_FIELDS = [  # name, datatype, unit, ucd, arraysize
    ("WHL", "char", None, "meta.id;meta.main", "16"),
    ("RAJ2000", "double", "deg", "pos.eq.ra;meta.main", None),
    ("DEJ2000", "double", "deg", "pos.eq.dec;meta.main", None),
    ("zph", "float", None, "src.redshift.phot", None),
    ("zsp", "float", None, "src.redshift", None),
    ("rmag", "float", "mag", "phot.mag;em.opt.R", None),
    ("RL*", "float", None, "phys.size;arith.ratio", None),
    ("r200", "float", "Mpc", "phys.size.radius", None),
    ("N200", "short", None, "meta.number", None),
    ("Other", "char", None, "meta.id.cross", "*"),
]
REDMAPPER_FIELDS = [
    ("ID", "int", None, "meta.id;meta.main", None),
    ("Name", "char", None, "meta.id", "20"),
    ("RAJ2000", "double", "deg", "pos.eq.ra;meta.main", None),
    ("DEJ2000", "double", "deg", "pos.eq.dec;meta.main", None),
    ("zlambda", "float", None, "src.redshift.phot", None),
    ("e_zlambda", "float", None, "stat.error", None),
    ("lambda", "float", None, "phys.size;arith.ratio", None),
    ("e_lambda", "float", None, "stat.error", None),
]


def votable_bytes(table_name: str, fields, rows) -> bytes:
    """A VizieR-style VOTable: one RESOURCE, one TABLE named like the catalogue."""
    vot = VOTableFile()
    resource = Resource(name="yCat_" + table_name.split("/")[1].replace("/", ""))
    vot.resources.append(resource)
    table = VOTable(vot, name=table_name, ID=table_name.replace("/", "_"))
    resource.tables.append(table)
    table.fields.extend(
        Field(vot, name=name, datatype=dtype, unit=unit, ucd=ucd, arraysize=size)
        for name, dtype, unit, ucd, size in fields
    )
    table.create_arrays(len(rows))
    for i, row in enumerate(rows):
        table.array[i] = row
    buffer = io.BytesIO()
    vot.to_xml(buffer)
    return buffer.getvalue()


def whl12_rows(resources, n=60):
    """WHL12-layout rows at real Abell x redMaPPer clusters (a few outside the cuts)."""
    redmapper = cat.read_redmapper_bundled(resources / "redmapper-sdss-dr8-v5.10/sdss_redmapper.csv.gz")
    abell = cat.read_abell_tsv(
        [resources / "abell-aco-vii110a/abell_north.tsv", resources / "abell-aco-vii110a/abell_south.tsv"]
    )
    matched = cat.cross_match_abell(redmapper, abell, 3.0)[:n]
    rows = []
    for k, r in enumerate(matched):
        other = r["abell"] if k % 5 else ""  # every fifth row has no Abell counterpart
        rows.append(
            (
                f"J{k:06d}.0+000000",
                r["ra"],
                r["dec"],
                r["z"],
                np.nan if k % 3 else r["z"],
                16.0 + 0.02 * k,
                r["richness"] * 0.9,
                1.1,
                int(r["n_members"]),
                other,
            )
        )
    return rows


def redmapper_rows(resources, n=40):
    redmapper = cat.read_redmapper_bundled(resources / "redmapper-sdss-dr8-v5.10/sdss_redmapper.csv.gz")[:n]
    return [(int(r["id"][2:]), r["name"], r["ra"], r["dec"], r["z"], 0.01, r["richness"], 2.0) for r in redmapper]


class FakeVizier:
    """Answers POSTs to VizieR with the VOTable of the catalogue named in the request."""

    def __init__(self, payloads: dict[str, bytes], fail_first: int = 0):
        self.payloads = payloads
        self.fail_first = fail_first
        self.calls = []

    def install(self, monkeypatch) -> FakeVizier:
        """Put this fake in place of ``requests.Session.request`` for one test."""
        monkeypatch.setattr(
            requests.Session, "request", lambda session, method, url, **kwargs: self(session, method, url, **kwargs)
        )
        return self

    def __call__(self, session, method, url, data=None, **kwargs):
        self.calls.append((method, url, data))
        if len(self.calls) <= self.fail_first:
            raise requests.exceptions.ConnectionError("fake: VizieR unreachable")
        body = (
            data if isinstance(data, str) else (data or {}).get("-source", "") if isinstance(data, dict) else str(data)
        )
        for name, payload in self.payloads.items():
            if name in str(body):
                response = requests.Response()
                response.status_code = 200
                response._content = payload
                response.url = url
                return response
        raise AssertionError(f"unexpected VizieR request: {body!r}")
