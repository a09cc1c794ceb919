"""What may differ between two runs of one config, in one place (docs/reliability.md "Bad input, kills and
reruns"): the reproducibility test compares two local runs' results/ byte for byte except these;
the Slurm test (tests/test_slurm.py) drops the same keys when it compares a Slurm run with a local one.

Volatile, and why:
- keys and columns named for wall-clock time or the machine (VOLATILE_KEY: ``seconds``,
  ``acquire_s``, ``images_per_second_this_run``, ``host``...), in JSON, CSV/ECSV columns,
  ``\\newcommand`` names in .tex and the dicts inside .pt checkpoints;
- ``mtime_ns`` of the image folders' seals (deepcee.core.integrity): when the file was written;
- the workflow copy's absolute path, wherever a file spells it;
- TensorBoard event files: their names (time, host, pid) and each event's ``wall_time``;
- PDF creation dates and document IDs; in HTML, dates and the rows and columns of tables named
  by a volatile key (the audit page's ``TrainMinutes`` row, its losses' ``seconds`` column).
Everything else must be equal byte for byte.
"""

from __future__ import annotations

import csv
import fnmatch
import io
import json
import re
from pathlib import Path

VOLATILE_KEY = re.compile(
    r"(^|_)(time|times|seconds|second|elapsed|duration|date|datetime|timestamp|"
    r"created|started|finished|host|hostname|node|wall|walltime|runtime_s|"
    r"slurm_job_id|pid|mtime_ns)($|_|s$)|_per_s(ec)?$|per_?second|(minutes|seconds)$|_s$",  # acquire_s: seconds
    re.I,
)
#: Snakemake's own marker inside directory() outputs (its mtime is the folder's date).
IGNORED = ["*/.snakemake_timestamp"]
_TFEVENTS = re.compile(r"events\.out\.tfevents\.\d+\.[^/]+\.\d+\.\d+$")
# PDF: creation/modification dates and the trailer's document ID (matplotlib, LaTeX, nbconvert).
_PDF_VOLATILE = re.compile(rb"/(CreationDate|ModDate) *\([^)]*\)|/ID *\[[^\]]*\]")
# HTML: ISO dates and times (the Snakemake report, nbconvert's audit page).
_HTML_VOLATILE = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?")


def _html_tables(text: str) -> str:
    """HTML with the volatile parts of its pandas tables removed: columns whose header is a
    volatile key (the losses' ``seconds``) and rows named by one (``TrainMinutes``)."""

    def table(match):
        block = match.group(0)
        head = re.search(r"<thead>(.*?)</thead>", block, re.S)
        names = re.findall(r"<th[^>]*>(.*?)</th>", head.group(1), re.S) if head else []
        drop = {i for i, name in enumerate(names) if VOLATILE_KEY.search(name.strip())}
        rows = []
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", block, re.S):
            cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
            named = [c.strip() for c in cells if re.fullmatch(r"[A-Za-z]\w*", c.strip())]
            if named and VOLATILE_KEY.search(named[0]):
                continue
            rows.append([c for i, c in enumerate(cells) if i not in drop])
        return repr(rows)

    return re.sub(r"<table.*?</table>", table, text, flags=re.S)


def drop_volatile(obj):
    """A JSON-like value with every volatile key removed, at any depth."""
    if isinstance(obj, dict):
        return {k: drop_volatile(v) for k, v in obj.items() if not VOLATILE_KEY.search(str(k))}
    if isinstance(obj, (list, tuple)):
        return [drop_volatile(v) for v in obj]
    return obj


def volatile_macro(line: str) -> bool:
    """A ``\\newcommand{\\TrainMinutes}...`` line of numbers.tex that holds a wall-clock time."""
    return bool((m := re.match(r"\\newcommand\{\\(\w+)\}", line)) and VOLATILE_KEY.search(m.group(1)))


def _csv_rows(text: str) -> list[list[str]]:
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return rows
    keep = [i for i, name in enumerate(rows[0]) if not VOLATILE_KEY.search(name)]
    return [[row[i] for i in keep if i < len(row)] for row in rows]


def _ecsv_rows(text: str) -> list:
    """Header lines as they are (less volatile meta keys), then the rows less volatile columns."""
    header = [line for line in text.splitlines() if line.startswith("#")]
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    header = [
        line
        for line in header
        if not re.match(r"#\s+(\w+):", line) or not VOLATILE_KEY.search(line.split(":")[0][1:].strip())
    ]
    rows = list(csv.reader(io.StringIO(body), delimiter=" ", quotechar='"'))
    if rows:
        keep = [i for i, name in enumerate(rows[0]) if not VOLATILE_KEY.search(name)]
        rows = [[row[i] for i in keep if i < len(row)] for row in rows]
    return [header, rows]


def _torch_flat(path: Path) -> dict:
    import torch

    def flat(obj, prefix=""):
        if isinstance(obj, dict):
            for k, v in obj.items():
                if not VOLATILE_KEY.search(str(k)):
                    yield from flat(v, f"{prefix}{k}.")
        elif isinstance(obj, (list, tuple)):
            for i, v in enumerate(obj):
                yield from flat(v, f"{prefix}{i}.")
        else:
            yield prefix, obj

    return dict(flat(torch.load(path, map_location="cpu", weights_only=False)))


def _same_torch(a: Path, b: Path) -> bool:
    import torch

    fa, fb = _torch_flat(a), _torch_flat(b)
    if fa.keys() != fb.keys():
        return False
    for k, v in fa.items():
        w = fb[k]
        if isinstance(v, torch.Tensor):
            if not (isinstance(w, torch.Tensor) and v.dtype == w.dtype and torch.equal(v, w)):
                return False
        elif v != w:
            return False
    return True


def _events(path: Path) -> list[bytes]:
    """A TensorBoard event file's events, serialized without their wall_time."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    out = []
    for event in EventFileLoader(str(path)).Load():
        event.wall_time = 0
        out.append(event.SerializeToString(deterministic=True))
    return out


def _key(rel: str) -> str:
    """The name a file is compared under: TensorBoard's time/host/pid part dropped."""
    return _TFEVENTS.sub("events.out.tfevents.*", rel)


def _text(path: Path, root: Path) -> str:
    text = path.read_text()
    for form in {str(root.resolve()), str(root)}:
        text = text.replace(form, "<WORKDIR>")
    return text


def same_file(a: Path, b: Path, root_a: Path, root_b: Path) -> bool:
    """Equal byte for byte, or equal once the volatile fields (module docstring) are removed."""
    raw_a, raw_b = a.read_bytes(), b.read_bytes()
    if raw_a == raw_b:
        return True
    name = a.name.lower()
    suffix = a.suffix.lower()
    if _TFEVENTS.search(a.as_posix()):
        return _events(a) == _events(b)
    if suffix in (".pt", ".pth"):
        return _same_torch(a, b)
    if suffix == ".pdf":
        return _PDF_VOLATILE.sub(b"", raw_a) == _PDF_VOLATILE.sub(b"", raw_b)
    try:
        ta, tb = _text(a, root_a), _text(b, root_b)
    except UnicodeDecodeError:
        return False
    if ta == tb:
        return True
    if suffix == ".json":
        return drop_volatile(json.loads(ta)) == drop_volatile(json.loads(tb))
    if suffix == ".csv":
        return _csv_rows(ta) == _csv_rows(tb)
    if suffix == ".ecsv":
        return _ecsv_rows(ta) == _ecsv_rows(tb)
    if suffix == ".tex":
        return [x for x in ta.splitlines() if not volatile_macro(x)] == [
            x for x in tb.splitlines() if not volatile_macro(x)
        ]
    if suffix in (".html", ".htm") or name.endswith(".ipynb"):
        return _HTML_VOLATILE.sub("", _html_tables(ta)) == _HTML_VOLATILE.sub("", _html_tables(tb))
    return False


def differences(run_a: Path, run_b: Path, ignore=()) -> tuple[list[str], int]:
    """(what differs, files compared) between two workflow copies' results/."""
    ra, rb = run_a / "results", run_b / "results"
    skip = list(IGNORED) + list(ignore)

    def listing(root):
        return {
            _key(p.relative_to(root).as_posix()): p
            for p in root.rglob("*")
            if p.is_file() and not any(fnmatch.fnmatch(p.relative_to(root).as_posix(), s) for s in skip)
        }

    fa, fb = listing(ra), listing(rb)
    out = [f"{rel}: only in {'the first' if rel in fa else 'the second'} run" for rel in sorted(fa.keys() ^ fb.keys())]
    for rel in sorted(fa.keys() & fb.keys()):
        try:
            same = same_file(fa[rel], fb[rel], run_a, run_b)
        except Exception as err:  # a file that cannot be parsed is a difference, with the reason
            same, rel = False, f"{rel} ({err!r})"
        if not same:
            out.append(f"{rel}: differs")
    return out, len(fa.keys() & fb.keys())
