"""The bundled inputs (``resources/*/``) checked against the size and sha256 their folder's
PROVENANCE.md records, before a reader uses them.

Why: a damaged bundled file often still parses. An Abell file cut to 20 kB gives a sample of 72
clusters instead of 412 with exit 0; a cut frame a smaller field. So each reader of a bundled
catalogue or frame calls :func:`check_bundled` first: the size (one stat) always, the sha256 once
per file content in a process (cached by path, size and modification time). A file whose folder
has no PROVENANCE.md, or whose PROVENANCE.md does not record it (a user's own catalogue), is not
checked.
"""

from __future__ import annotations

import re
from pathlib import Path

from deepcee.core.errors import DamagedFileError
from deepcee.core.files import file_sha256

_SIZE = re.compile(r"(\d[\d,]*) bytes")
_SHA256 = re.compile(r"\b[0-9a-f]{64}\b")
_BAND_LINE = re.compile(r"^\s*-\s*([a-z])\s+\d[\d,]*\s+bytes")
_SHA256_CACHE: dict[tuple[str, int, int], str] = {}


def provenance_records(folder: str | Path) -> dict[str, tuple[int, str]]:
    """File name -> (size in bytes, sha256) as ``folder/PROVENANCE.md`` records them ({} without one).

    A record is a line with "N bytes" and a sha256. Its file is the one of the folder the line
    names (``name`` or ``data/.../name``); else, on a line "- g N bytes ...", the one file of band
    g (``*_g.*``, ``*-g-*``); else, in a folder of one data file ("Size: N bytes; sha256 ..."),
    that file.
    """
    folder = Path(folder)
    provenance = folder / "PROVENANCE.md"
    if not provenance.is_file():
        return {}
    files = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != provenance.name)
    out = {}
    for line in provenance.read_text().splitlines():
        size, sha = _SIZE.search(line), _SHA256.search(line)
        if not (size and sha):
            continue
        named = [f for f in files if re.search(rf"(?<![\w.-]){re.escape(f)}(?![\w.-])", line)]
        band = _BAND_LINE.match(line)
        if not named and band:
            named = [f for f in files if re.search(rf"[-_]{band.group(1)}[-_.]", f)]
        if not named and len(files) == 1:
            named = files
        if len(named) == 1:
            out[named[0]] = (int(size.group(1).replace(",", "")), sha.group(0))
    return out


def cached_sha256(path: str | Path) -> str:
    """The file's sha256, computed once per (path, size, modification time) in this process."""
    path = Path(path).resolve()
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _SHA256_CACHE:
        _SHA256_CACHE[key] = file_sha256(path)
    return _SHA256_CACHE[key]


def check_bundled(path: str | Path, content: bool = True) -> None:
    """Refuse a bundled file whose size (and, with ``content``, sha256) differs from its record.

    One line naming the file, what PROVENANCE.md records and what is there, and the way out. A
    missing file is left to its reader, which names it.
    """
    path = Path(path)
    record = provenance_records(path.parent).get(path.name)
    if record is None or not path.is_file():
        return
    size, sha = record
    actual_size = path.stat().st_size
    if actual_size != size:
        found = f"{actual_size:,} bytes, not the {size:,}"
    elif content and cached_sha256(path) != sha:
        found = f"sha256 {cached_sha256(path)}, not the {sha}"
    else:
        return
    raise DamagedFileError(
        f"{path}: bundled file damaged or replaced: it has {found} that {path.parent / 'PROVENANCE.md'} records; "
        f"restore it from git (git checkout -- {path})"
    )
