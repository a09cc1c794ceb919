"""Seals of the image folders that rules declare as ``directory()`` outputs (docs/reliability.md
"Bad input, kills and reruns").

Snakemake dates a ``directory()`` output by its own ``.snakemake_timestamp``, not by the files
in it, so a FITS or PNG deleted or edited by hand would go unnoticed. The shard job writes a
seal (each file's size, sha256 and mtime) into its manifest; :func:`seal_marker` is a rule
``params:`` value that is unchanged while the folder matches its seal and changes when it does
not, so Snakemake's params trigger reruns the shard and everything downstream.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

#: The params value of a folder that was never found damaged (its first record).
FIRST_MARKER = "seal-0"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(directory: Path) -> list[Path]:
    """The folder's files, less Snakemake's own dotfiles (``.snakemake_timestamp``)."""
    return sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))


def seal_directory(directory: str | Path) -> dict:
    """Each file's size, sha256 and mtime (ns), by name: written by the job that filled the folder."""
    out = {}
    for path in _files(Path(directory)) if Path(directory).is_dir() else []:
        stat = path.stat()
        out[path.name] = {"size": stat.st_size, "sha256": _sha256(path), "mtime_ns": stat.st_mtime_ns}
    return out


def damaged_files(directory: str | Path, seal: dict) -> list[str]:
    """The names that no longer match the seal: missing, extra, or with other contents.

    A file whose size and mtime match is taken as intact (one ``stat``, as git's index does);
    one whose mtime moved (a copy without ``-p``) is hashed before it is called edited.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return sorted(seal)
    present = {p.name: p for p in _files(directory)}
    bad = sorted(set(present) - set(seal))
    for name, want in sorted(seal.items()):
        path = present.get(name)
        if path is None:
            bad.append(name)
            continue
        stat = path.stat()
        moved = stat.st_mtime_ns != want["mtime_ns"]
        if stat.st_size != want["size"] or (moved and _sha256(path) != want["sha256"]):
            bad.append(name)
    return sorted(bad)


def recorded_marker(recorded_params) -> str | None:
    """The seal marker among the params Snakemake recorded for an output (their ``repr``s)."""
    for value in recorded_params or ():
        if isinstance(value, str) and value.startswith("'seal-"):
            return value.strip("'")
    return None


def seal_marker(manifest_path: str | Path, directory: str | Path, recorded: str | None) -> str:
    """The params value for a shard whose manifest holds the folder's seal.

    ``recorded``: the value Snakemake recorded when the job last ran (:func:`recorded_marker`).
    Intact, or nothing to check yet (no manifest: the job runs anyway) → that same value, so no
    rerun, and after a repairing run the value recorded for it is the one returned from then on.
    Damaged → the next ``seal-N``: the params differ, the job reruns, and nothing is deleted.
    """
    current = recorded or FIRST_MARKER
    try:
        seal = json.loads(Path(manifest_path).read_text()).get("seal")
    except (OSError, ValueError, AttributeError):
        return current
    if not isinstance(seal, dict) or not os.path.isdir(directory) or not damaged_files(directory, seal):
        return current
    try:
        generation = int(current.removeprefix("seal-"))
    except ValueError:
        generation = 0
    return f"seal-{generation + 1}"
