"""results/provenance.json: what produced this run, in one file a reader can audit.

It holds the resolved config (after every --configfile merge and schema defaults),
the project's git commit ("unknown" outside a git checkout), package versions, the
device the detector was trained on (from ``03_train/summary.json``), the sha256 of
every bundled input file (``resources/``) and each stage's summary.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import platform
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from deepcee.core.contracts import read_summary
from deepcee.core.files import config_hash, file_sha256, software_versions, write_json
from deepcee.core.lineage import stage_hashes

#: Packages whose versions a reader needs besides those in every stage summary.
EXTRA_PACKAGES = ("jsonschema", "pyyaml", "pillow", "sep", "tqdm", "nbconvert", "jupyter_core", "tensorboard")


def git_commit(repo: str | Path = ".") -> str:
    """``git rev-parse HEAD`` in ``repo``; "unknown" when it is not a git checkout or git is absent."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and commit else "unknown"


def git_dirty(repo: str | Path = ".") -> bool | None:
    """Whether tracked files differ from HEAD (None when unknown)."""
    try:
        out = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return bool(out.stdout.strip()) if out.returncode == 0 else None


def package_versions() -> dict[str, str]:
    from importlib import metadata

    versions = software_versions()
    for name in EXTRA_PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


def input_hashes(paths: Iterable[str | Path], root: str | Path = ".") -> dict[str, dict[str, Any]]:
    """``{relative path: {sha256, bytes}}`` for every file in ``paths`` (directories are walked)."""
    root = Path(root)
    files: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            files.append(path)
    out = {}
    for path in sorted(set(files)):
        try:
            key = str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            key = str(path)
        out[key] = {"sha256": file_sha256(path), "bytes": path.stat().st_size}
    return out


def training_device(train_summary: dict) -> str:
    """The device named by the training summary ("unknown" if it names none)."""
    value = train_summary.get("device")
    return str(value) if value is not None else "unknown"


def read_stage_summary(name: str, path: str | Path | None) -> dict:
    """Stage summary ``name`` (``train``, ``ks``...) checked against its contract; {} when not produced."""
    if path is None or not Path(path).exists():
        return {}
    return read_summary(name if name == "ks" else f"{name}_summary", path)


def build_provenance(
    config: dict,
    summaries: dict[str, str | Path | None],
    inputs: Iterable[str | Path] = (),
    repo: str | Path = ".",
    config_files: Iterable[str] = (),
) -> dict[str, Any]:
    """The provenance record (a plain dict, JSON-serialisable)."""
    stage_summaries = {name: read_stage_summary(name, path) for name, path in summaries.items()}
    train = stage_summaries.get("train", {})
    return {
        "created_utc": _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
        "git_commit": git_commit(repo),
        "git_dirty": git_dirty(repo),
        "config_files": list(config_files),
        "config_hash": config_hash(config),
        # per stage, the hash of the config sections upstream of it: the `lineage` param of its rules
        "stage_config_hashes": stage_hashes(config),
        "config": config,
        "training_device": training_device(train),
        "platform": {
            "system": platform.system(),
            "release": platform.release(),
            "machine": platform.machine(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        },
        "software": package_versions(),
        "inputs": input_hashes(inputs, root=repo),
        "stages": stage_summaries,
    }


def write_provenance(path: str | Path, *args: Any, **kwargs: Any) -> dict[str, Any]:
    record = build_provenance(*args, **kwargs)
    write_json(path, record)
    return record
