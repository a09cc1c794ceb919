"""envs/*.yaml (for --sdm conda) pin exactly what requirements.lock pins."""

from __future__ import annotations

import yaml


def _lock(repo) -> dict[str, str]:
    pins = {}
    for line in (repo / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def test_every_env_pin_matches_the_lock(repo):
    lock = _lock(repo)
    envs = sorted((repo / "envs").glob("*.yaml"))
    assert {p.stem for p in envs} >= {"catalogue", "images", "train", "evaluate", "paper"}
    for env in envs:
        spec = yaml.safe_load(env.read_text())
        pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))
        assert "python=3.11" in spec["dependencies"]
        for requirement in pip:
            name, version = requirement.split("==")
            key = name.lower().replace("_", "-")
            assert lock.get(key) == version, f"{env.name}: {name}=={version} but requirements.lock has {lock.get(key)}"


def test_lock_pins_the_project_torch(repo):
    lock = _lock(repo)
    assert lock["torch"] == "2.14.1" and lock["torchvision"] == "0.29.1"
    assert lock["snakemake"].startswith("9.")
    for needed in (
        "astropy",
        "astroquery",
        "galsim",
        "pandas",
        "matplotlib",
        "scipy",
        "jupyter",
        "nbconvert",
        "ipykernel",
        "tqdm",
        "tensorboard",
        "pytest",
        "snakemake-executor-plugin-slurm",
    ):
        assert needed in lock, needed


def test_pyproject_builds_without_deprecation_warnings(repo, monkeypatch):
    """`make install` builds the project with setuptools: no deprecated table (the licence was one)."""
    import warnings

    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    monkeypatch.chdir(repo)  # license-files are globbed from the project folder
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        apply_configuration(Distribution(), repo / "pyproject.toml")
    assert not [str(w.message) for w in caught if "deprecat" in str(w.message).lower()]
