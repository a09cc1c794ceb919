"""Atomic writes and per-stage summaries.

A job that dies half way must never leave a file that looks finished, so every
output is written to a temporary sibling and renamed into place.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import platform
import sys
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def read_decompressed(path: str | os.PathLike) -> bytes:
    """A file's bytes, a ``.gz`` or ``.bz2`` one decompressed in memory (several times faster than
    astropy's own bz2 reader); a file cut short (a user's own, with no PROVENANCE record to check
    it against) is one line naming it, not the bare EOFError or ValueError of the decompressor."""
    import bz2
    import gzip
    import zlib

    from deepcee.core.errors import DeepCeeError

    path = Path(path)
    raw = path.read_bytes()
    try:
        if path.suffix == ".gz":
            return gzip.decompress(raw)
        if path.suffix == ".bz2":
            return bz2.decompress(raw)
    except (OSError, EOFError, ValueError, zlib.error) as err:
        raise DeepCeeError(f"{path}: truncated or damaged compressed file ({err})") from None
    return raw


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    The temporary name keeps the real suffix so libraries that infer a format
    from the extension (astropy, matplotlib, PIL) still do so.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".part{path.suffix}", dir=path.parent)
    os.close(fd)
    os.unlink(tmp)
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as err:
        if err.filename is None:  # a write() that failed (a full disk) names no file: name the output
            err.filename = str(path)
        raise
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_png(path: str | os.PathLike, rgb) -> None:
    """Write a uint8 (H, W, 3) array as an RGB PNG, atomically (no timestamps: same pixels, same bytes)."""
    from PIL import Image

    with atomic_path(path) as tmp:
        Image.fromarray(rgb, mode="RGB").save(tmp, format="PNG", optimize=False, compress_level=1)


def write_json(path: str | os.PathLike, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def config_hash(config: dict) -> str:
    """A short, stable hash of a (sub-)config, for summaries and checkpoints."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def software_versions() -> dict[str, str]:
    """Versions of the packages a reader needs to re-derive a stage."""
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for name in (
        "deepcee",
        "snakemake",
        "numpy",
        "astropy",
        "astroquery",
        "galsim",
        "torch",
        "torchvision",
        "scipy",
        "matplotlib",
        "pandas",
    ):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


@contextlib.contextmanager
def _output_to(log_path: Path) -> Iterator[None]:
    """Send file descriptors 1 and 2 to ``log_path`` (so print, tracebacks, subprocesses and C
    extensions all land there), with Python logging and warnings; restore them on exit."""
    import logging

    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    saved_streams = sys.stdout, sys.stderr
    with open(log_path, "w") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        # Python's own streams onto the redirected descriptors too, whatever they were before
        # (a caller that captured sys.stdout/err, as pytest does, would otherwise keep the text).
        sys.stdout = os.fdopen(os.dup(1), "w", buffering=1)
        sys.stderr = os.fdopen(os.dup(2), "w", buffering=1)
        logging.basicConfig(
            stream=sys.stderr, level=logging.INFO, force=True, format="%(asctime)s %(name)s %(levelname)s %(message)s"
        )
        logging.captureWarnings(True)
        try:
            yield
        finally:
            logging.shutdown()
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(OSError):  # a full disk fails the last flush: not a second error
                    stream.close()
            sys.stdout, sys.stderr = saved_streams
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


#: errno values of a write that found no room: the disk full, or the user's quota used up.
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def disk_full_message(err: OSError, snakemake=None) -> str:
    """The one line for a job that ran out of disk space: the file it was writing (atomic_path names
    it where the write did not) and what to do, instead of the writer's traceback chained to those of
    the log that could not be written either."""
    where = err.filename
    if where is None:  # a print into the log, or a library's own write
        files = [str(p) for key in ("log", "output") for p in getattr(snakemake, key, [])[:3]]
        where = f"a file of this job ({', '.join(files) or 'its log or outputs'})"
    return (
        f"{where}: the disk is full ({os.strerror(err.errno)} while writing it); free space on that disk "
        "and run the workflow again (the job's unfinished files are removed)"
    )


def rebuild_hint(message: str, snakemake=None) -> str:
    """The way out when a job finds one of its inputs damaged (a DamagedFileError naming a file the
    workflow made, under ``results_dir``): the command that rebuilds that file. Snakemake alone would not: the file is
    older than nothing it depends on, so a rerun fails on it again."""
    inputs = [str(p) for p in getattr(snakemake, "input", [])] if snakemake is not None else []
    results = Path(str((getattr(snakemake, "config", None) or {}).get("results_dir", "results")))
    for path in inputs:
        if Path(path).is_relative_to(results) and path in message:
            return (
                f" (if the file is damaged, rebuild it: snakemake --cores all --force {path}, with the same "
                "--configfile/--profile options as your run, then run your command again)"
            )
    return ""


def run_script(main, snakemake=None, *args, **kwargs) -> None:
    """Run a rule script's ``main(snakemake, ...)``: the one way a rule script logs.

    Everything the job says (stdout, stderr, Python logging and warnings, subprocesses) goes to
    the rule's first ``log:`` file, so parallel jobs never mix on the terminal and a failed
    job's log holds its traceback. A DeepCeeError (bad input) ends as one ``ERROR:`` line, in
    the log and on the job's own stderr, and the job exits 1 with no traceback; when it names
    one of the job's results inputs, the line ends with the command that rebuilds that file. A
    full disk (OSError ENOSPC or EDQUOT) ends the same way, naming the file (disk_full_message).
    """
    from deepcee.core.errors import DamagedFileError, DeepCeeError

    log_path = Path(str(snakemake.log[0])) if snakemake is not None and len(getattr(snakemake, "log", [])) else None
    call_args = (snakemake, *args) if snakemake is not None else args
    try:
        with _output_to(log_path) if log_path is not None else contextlib.nullcontext():
            try:
                try:
                    main(*call_args, **kwargs)
                except OSError as err:
                    if err.errno not in DISK_FULL:
                        raise
                    raise DeepCeeError(disk_full_message(err, snakemake)) from None
            except DeepCeeError as err:
                way_out = rebuild_hint(str(err), snakemake) if isinstance(err, DamagedFileError) else ""
                if way_out:
                    err = DeepCeeError(f"{err}{way_out}")
                with contextlib.suppress(OSError):  # a log on a full disk takes no line
                    print(f"ERROR: {err}", file=sys.stderr, flush=True)  # the log (or stderr without one)
                raise err from None
            except Exception:
                if log_path is not None:
                    traceback.print_exc()  # into the log; Python prints it on the job's stderr too
                raise
    except DeepCeeError as err:
        if log_path is not None:
            print(f"ERROR: {err}", file=sys.stderr, flush=True)  # the job's own stderr
        sys.exit(1)


def write_ecsv(table, path: str | os.PathLike) -> None:
    """Write an astropy Table as ECSV (units and metadata kept), atomically."""
    with atomic_path(path) as tmp:
        table.write(tmp, format="ascii.ecsv", overwrite=True)


def read_ecsv(path: str | os.PathLike, required: tuple[str, ...] | list[str] = (), what: str = "table"):
    """Read an ECSV table; a missing file or column is a one-line DeepCeeError naming it."""
    from astropy.table import Table

    from deepcee.core.errors import DamagedFileError, DeepCeeError

    path = Path(path)
    if not path.is_file():
        raise DeepCeeError(f"{path}: {what} file not found")
    try:
        table = Table.read(path, format="ascii.ecsv")
    except Exception as err:
        raise DamagedFileError(f"{path}: cannot read as ECSV ({type(err).__name__}: {str(err)[:80]})") from None
    missing = [name for name in required if name not in table.colnames]
    if missing:
        raise DamagedFileError(f"{path}: missing required column '{missing[0]}' (has: {', '.join(table.colnames)})")
    return table
