"""Refuse a virtual environment that another checkout installed itself into (the Makefile's install step).

`make ... VENV=<another clone's venv>` would reinstall the requirements into that venv and re-point its
editable `deepcee` install at this checkout, silently breaking the other clone. The editable install's
target is the `url` of the `direct_url.json` (PEP 610) in its dist-info. Standard library only: it runs
with the system Python, before the venv is made or touched.

    python3 tools/check_venv.py VENV      # exit 0, or 1 with one ERROR line naming both checkouts
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

CHECKOUT = Path(__file__).resolve().parents[1]


def installed_checkout(venv: Path) -> Path | None:
    """The checkout an editable `deepcee` in ``venv`` points at; None where there is none."""
    for record in sorted(venv.glob("lib*/python*/site-packages/deepcee-*.dist-info/direct_url.json")):
        try:
            info = json.loads(record.read_text())
        except (OSError, ValueError):
            continue
        url = urlparse(str(info.get("url", "")))
        if info.get("dir_info", {}).get("editable") and url.scheme == "file":
            return Path(unquote(url.path)).resolve()
    return None


def venv_error(venv: str | Path, checkout: Path = CHECKOUT) -> str | None:
    """One line where ``venv`` holds the editable install of another checkout than ``checkout``."""
    other = installed_checkout(Path(venv))
    if other is None or other == checkout.resolve():
        return None
    return (
        f"VENV={venv} holds the editable deepcee install of another checkout ({other}), not of this one "
        f"({checkout.resolve()}): installing here would re-point it; use a venv of this checkout's own "
        "(the default VENV=.venv) or remove that one first"
    )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python3 tools/check_venv.py VENV")
    error = venv_error(sys.argv[1])
    if error:
        sys.exit(f"ERROR: {error}")
