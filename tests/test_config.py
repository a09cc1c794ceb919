"""The config schema: the defaults validate; a bad key, type or range stops with one line."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import yaml

from deepcee.core.config import check_config, config_errors
from deepcee.core.errors import DeepCeeError


@pytest.fixture(scope="module")
def schema(repo):
    return repo / "schemas" / "config.schema.yaml"


@pytest.fixture
def default_config(repo):
    return yaml.safe_load((repo / "config.yaml").read_text())


def _merged(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@pytest.mark.parametrize("profile", [None, "configs/paper.yaml", "configs/ci.yaml"])
def test_shipped_configs_validate(repo, schema, default_config, profile):
    config = default_config
    if profile:
        config = _merged(default_config, yaml.safe_load((repo / profile).read_text()))
    assert config_errors(config, schema) == []


def test_unknown_key_is_named(schema, default_config):
    default_config["catalogue"]["cuts"]["z_maxx"] = 0.3
    with pytest.raises(DeepCeeError, match=r"^config.yaml: unknown config key 'catalogue.cuts.z_maxx'$"):
        check_config(default_config, schema, "config.yaml")


def test_wrong_type_is_named(schema, default_config):
    default_config["catalogue"]["match_radius_arcmin"] = "three"
    with pytest.raises(DeepCeeError, match=r"config key 'catalogue.match_radius_arcmin': 'three' is not of type 'number'"):
        check_config(default_config, schema)


def test_out_of_range_is_named(schema, default_config):
    default_config["catalogue"]["cuts"]["dec_min"] = 120
    with pytest.raises(DeepCeeError, match=r"config key 'catalogue.cuts.dec_min': 120 is greater than the maximum of 90"):
        check_config(default_config, schema)


def test_bad_enum_is_named(schema, default_config):
    default_config["catalogue"]["source"] = "ned"
    message = config_errors(default_config, schema)[0]
    assert message.startswith("config key 'catalogue.source'") and "\n" not in message


def test_snakemake_stops_with_one_line(repo, tmp_path):
    """Through Snakemake itself: the run stops before any job, the error is one line."""
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--config", "seed=-3", "--directory", str(repo)],
        cwd=repo, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("ERROR:")]
    assert errors == ["ERROR: config.yaml: config key 'seed': -3 is less than the minimum of 0"]
