"""The mock package's imports go downhill: universe -> draw -> real_fields -> galaxy_library -> real_members
-> library_objects -> sky -> render.

Read from the source with ``ast`` (module-level and function-level imports alike), so a lazy
import that goes back up the list fails here as surely as one at the top of a file.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "deepcee.images.mock"
#: The package's modules in import order: each may import only those before it.
ORDER = ("universe", "draw", "real_fields", "galaxy_library", "real_members", "library_objects", "sky", "render")
#: What each module may import from deepcee outside the package (a module or its submodules).
OUTSIDE = {
    "universe": ("deepcee.core",),
    "draw": ("deepcee.core", "deepcee.images.fits"),
    "real_fields": ("deepcee.core", "deepcee.images.fits"),
    "galaxy_library": ("deepcee.core",),
    "real_members": ("deepcee.core",),
    "library_objects": ("deepcee.core",),
    "sky": ("deepcee.core", "deepcee.images.fits", "deepcee.catalogue.select"),
    "render": ("deepcee.core", "deepcee.images.fits"),
}


def _path(module: str) -> Path | None:
    base = SRC.joinpath(*module.split("."))
    for p in (base.with_suffix(".py"), base / "__init__.py"):
        if p.is_file():
            return p
    return None


def _imports(module: str) -> set[str]:
    """Every deepcee module ``module`` imports, anywhere in its source (``from a import b`` counts
    as ``a.b`` where ``b`` is a module, else as ``a``)."""
    path = _path(module)
    is_pkg = path.name == "__init__.py"
    parent = module if is_pkg else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = parent.rsplit(".", node.level - 1)[0] if node.level > 1 else parent
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module
            for a in node.names:
                sub = f"{base}.{a.name}"
                found.add(sub if _path(sub) is not None else base)
    return {m for m in found if m == "deepcee" or m.startswith("deepcee.")}


def _inside(module: str) -> str | None:
    """The package module ``module`` is (or lies in), or None when outside the package."""
    if module == PACKAGE:
        return "__init__"
    if module.startswith(PACKAGE + "."):
        return module[len(PACKAGE) + 1 :].split(".")[0]
    return None


def test_the_package_holds_the_listed_modules_only():
    here = SRC.joinpath(*PACKAGE.split("."))
    assert sorted(p.stem for p in here.glob("*.py")) == sorted(("__init__", *ORDER))


def test_the_package_init_imports_nothing_of_the_package():
    assert not [m for m in _imports(PACKAGE) if _inside(m) is not None and m != PACKAGE]


@pytest.mark.parametrize("name", ORDER)
def test_imports_go_downhill(name):
    """Within the package only earlier modules; outside it only the listed lower layers."""
    rank = ORDER.index(name)
    for imported in sorted(_imports(f"{PACKAGE}.{name}")):
        inside = _inside(imported)
        if inside is None:
            assert imported.startswith(tuple(f"{p}." for p in OUTSIDE[name])) or imported in OUTSIDE[name], (
                f"{name} imports {imported} (outside {PACKAGE}; allowed: {OUTSIDE[name]})"
            )
        else:
            assert inside in ORDER[:rank], f"{name} imports {imported}: not earlier in {ORDER}"


def test_no_cycle_through_modules_outside_the_package():
    """The outside modules the package imports never lead back into it (acyclic import graph)."""
    seen, todo = set(), [m for name in ORDER for m in _imports(f"{PACKAGE}.{name}") if _inside(m) is None]
    while todo:
        module = todo.pop()
        if module in seen or _path(module) is None:
            continue
        seen.add(module)
        for imported in _imports(module):
            assert _inside(imported) is None, f"{module} imports {imported}: a cycle through {PACKAGE}"
            todo.append(imported)
    assert "deepcee.images.fits" in seen
