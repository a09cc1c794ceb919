"""Config validation that ends in one line naming the key at fault."""

from __future__ import annotations

import copy
import math
from functools import lru_cache
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource

from deepcee.core.bundled import cached_sha256
from deepcee.core.errors import DeepCeeError

#: libyaml's safe loader where PyYAML was built with it (ten times faster: the schemas are read at
#: every Snakemake start), else the pure-Python one; both build only plain YAML types.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _schema(path: str | Path) -> dict:
    """A schema file's contents, parsed once per version of the file (the checks read each schema
    several times; jsonschema never changes them)."""
    path = Path(path)
    return _parsed_schema(str(path.resolve()), path.stat().st_mtime_ns)


@lru_cache(maxsize=64)
def _parsed_schema(path: str, mtime_ns: int) -> dict:
    return yaml.load(Path(path).read_text(), Loader=_YAML_LOADER)


def _registry(schema_dir: Path) -> Registry:
    resources = []
    for path in sorted(schema_dir.glob("*.schema.yaml")):
        contents = _schema(path)
        resources.append((path.name, Resource.from_contents(contents)))
    return Registry().with_resources(resources)


def config_errors(config: dict, schema_path: str | Path) -> list[str]:
    """Every schema violation in ``config`` as a one-line message naming its key."""
    return [message for _, message in _located_errors(config, schema_path)]


def _located_errors(config: dict, schema_path: str | Path) -> list[tuple[tuple, str]]:
    """(key path, one-line message) for every schema violation, then every cross-key rule broken."""
    schema_path = Path(schema_path)
    schema = _schema(schema_path)
    validator = Draft202012Validator(schema, registry=_registry(schema_path.parent))
    out = []
    for error in sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path]):
        error = best_match([error])
        path = tuple(error.absolute_path)
        if error.validator == "additionalProperties":
            extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            path += tuple(extra[:1])
        out.append((path, _one_line(error)))
    if not out:  # the cross-key rules assume each value has the right type
        out += cross_key_errors(config, schema_path.parent)
    return out


def cross_key_errors(config: dict, schema_dir: str | Path) -> list[tuple[tuple, str]]:
    """Rules the schema cannot say, checked before the first job: (key path, message)."""
    out = _results_dir_errors(config.get("results_dir"), Path(schema_dir).resolve().parent)
    cuts = (config.get("catalogue") or {}).get("cuts") or {}
    if "z_min" in cuts and "z_max" in cuts and not cuts["z_min"] < cuts["z_max"]:
        out.append(
            (
                ("catalogue", "cuts", "z_min"),
                f"config key 'catalogue.cuts.z_min' ({cuts['z_min']}) must be "
                f"below 'catalogue.cuts.z_max' ({cuts['z_max']})",
            )
        )
    limits = ((config.get("images") or {}).get("stretch") or {}).get("limits") or {}
    for band, pair in limits.items():
        if isinstance(pair, list) and len(pair) == 2 and not pair[0] < pair[1]:
            out.append(
                (
                    ("images", "stretch", "limits", band),
                    f"config key 'images.stretch.limits.{band}': lower limit {pair[0]} must be below "
                    f"upper limit {pair[1]}",
                )
            )
    evaluate = config.get("evaluate") or {}
    thresholds = evaluate.get("thresholds")
    if thresholds is not None:
        sections = ((), ("redmapper",), ("real_sky",))
        for path, section in ((("evaluate", *p), _get(evaluate, p) or {}) for p in sections):
            chosen = section.get("chosen_threshold")
            if (
                isinstance(chosen, (int, float))
                and not isinstance(chosen, bool)
                and not any(abs(chosen - t) < 1e-9 for t in thresholds)
            ):
                key = ".".join(path + ("chosen_threshold",))
                out.append(
                    (
                        path + ("chosen_threshold",),
                        f"config key '{key}': {chosen} is not one of the swept evaluate.thresholds {thresholds}",
                    )
                )
    # The real-sky test must use fields the training views never saw: a field has one role.
    mock = (config.get("images") or {}).get("mock") or {}
    real_sky = evaluate.get("real_sky") or {}
    trains_on_real = (mock.get("real_background_fraction") or 0) > 0 or mock.get("background") == "sdss_blank"
    if real_sky.get("enabled", True) and trains_on_real:
        training = _folders(mock.get("blank_frames"))
        for folder in _folders(real_sky.get("blank_frames")):
            same = _same_field(folder, training)
            if same:
                out.append(
                    (
                        ("evaluate", "real_sky", "blank_frames"),
                        f"config key 'evaluate.real_sky.blank_frames': {folder} is also {same}, which the training "
                        "views use (images.mock.real_background_fraction > 0); a field is either a training or a test "
                        "field, never both",
                    )
                )
                break
    out += _search_errors(config.get("search") or {})
    filled = _filled(config, Path(schema_dir))
    out += _train_errors(filled["train"])
    out += _sample_errors(filled)
    out += _real_field_errors(filled)
    # The re-split models' train overrides must be train keys (schemas/train.schema.yaml); checked
    # here, not by $ref, so that no schema default is filled into an override.
    train_schema = _schema(Path(schema_dir) / "train.schema.yaml")
    validator = Draft202012Validator(train_schema, registry=_registry(Path(schema_dir)))
    for section in ("kfold", "cluster_split"):
        overrides = (evaluate.get(section) or {}).get("train_overrides")
        if overrides is None:
            continue
        for error in sorted(validator.iter_errors(overrides), key=lambda e: [str(p) for p in e.absolute_path]):
            error = best_match([error])
            prefix = ("evaluate", section, "train_overrides")
            path = prefix + tuple(error.absolute_path)
            if error.validator == "additionalProperties":
                extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
                path += tuple(extra[:1])
                out.append((path, f"unknown config key '{'.'.join(map(str, path))}' (not a train key)"))
            else:
                out.append((path, f"config key '{'.'.join(map(str, path))}': {error.message}"))
    return out


#: The repository's own folders (inputs, code, documents, tools): never a results folder's, nor inside one.
_REPOSITORY_FOLDERS = (
    "resources",
    "src",
    "rules",
    "scripts",
    "schemas",
    "configs",
    "envs",
    "profiles",
    "tests",
    "tools",
    "docs",
    "paper",
    "report",
    "notebooks",
    ".git",
    ".snakemake",
)


def _results_dir_errors(value, repository: Path) -> list[tuple[tuple, str]]:
    """A results folder must be a folder of its own: not the filesystem root (which the layout's
    ``rstrip("/")`` turns into "", so every file lands at /01_catalogue, /logs...), not the
    repository or a folder holding it, and neither inside nor around its inputs and code (results
    mixed into resources/ would be read as bundled inputs, and a rerun's cleanup would reach them)."""
    if not isinstance(value, str) or not value:
        return []
    folder = Path(value).resolve()
    inside = [name for name in _REPOSITORY_FOLDERS if folder.is_relative_to(repository / name)]
    if folder.parent == folder:
        why = "is the filesystem root"
    elif folder == repository or folder in repository.parents:
        why = f"{'is' if folder == repository else 'holds'} the repository {repository}"
    elif inside:
        why = f"{'is' if folder == repository / inside[0] else 'lies in'} the repository's {inside[0]}/ folder"
    else:
        return []
    return [
        (
            ("results_dir",),
            f"config key 'results_dir' ({value!r}) {why}; a results folder must be a folder of its own "
            "(like results or results/<profile>)",
        )
    ]


def _same_field(folder: str, training: list[str]) -> str | None:
    """How ``folder`` is one of the ``training`` field folders (the same folder, or a frame of the
    same bytes under another name: a copy must not pass as an unseen test field), else None."""

    def frames(f):
        path = Path(f)
        return sorted(p for p in path.glob("*.fits*") if p.is_file()) if path.is_dir() else []

    for other in training:
        if Path(other).resolve() == Path(folder).resolve():
            return "one of images.mock.blank_frames"
        for mine in frames(folder):
            for theirs in frames(other):  # the size first: a sha256 only for files of equal size
                if mine.stat().st_size == theirs.stat().st_size and cached_sha256(mine) == cached_sha256(theirs):
                    same = f"{mine.name} is byte for byte its {theirs.name}"
                    return f"a copy of {other} of images.mock.blank_frames ({same})"
    return None


def _filled(config: dict, schema_dir: Path) -> dict:
    """A copy of ``config`` with its sections' schema defaults filled in: the rules below read keys
    a config may leave to the schema, and the Snakefile's ``validate`` fills them only after them."""
    out = copy.deepcopy(config)
    for section in ("catalogue", "images", "train", "evaluate"):
        for _ in _filling_validator(schema_dir / f"{section}.schema.yaml").iter_errors(out.setdefault(section, {})):
            pass  # the schema passed: iterating only fills the defaults
    return out


def _train_errors(train: dict) -> list[tuple[tuple, str]]:
    """A warm-up or a checkpoint interval longer than the run: the learning rate would never reach
    ``lr``, or no checkpoint would be written before the last step (a killed run restarts from 0).
    The re-split models' ``train_overrides`` are not held to it: a few plumbing steps (configs/ci.yaml)
    may stop inside the main run's warm-up."""
    out = []
    steps = train["steps"]
    for path, value, why in (
        (
            ("train", "optimiser", "warmup_steps"),
            train["optimiser"]["warmup_steps"],
            "the learning rate would never reach train.optimiser.lr",
        ),
        (
            ("train", "checkpoint_every"),
            train["checkpoint_every"],
            "no checkpoint would be written before the last step, so a killed run restarts from step 0",
        ),
    ):
        if value > steps:
            out.append((path, f"config key '{'.'.join(path)}' ({value}) exceeds 'train.steps' ({steps}): {why}"))
    return out


def _sample_errors(cfg: dict) -> list[tuple[tuple, str]]:
    """Enough clusters for every shard and both sides of every split, where a ``max_clusters``
    caps the sample. A shard without a cluster writes no folder (Snakemake then blames filesystem
    latency); a split with one side empty trains, or tests, on nothing. Without a cap the number is
    known only after the cuts: the views job refuses it then (images/views.py, images/split.py)."""

    images, evaluate = cfg["images"], cfg["evaluate"]
    shards, by = images["shards"], images["split"]["by"]
    out = []
    redmapper = evaluate["redmapper"]
    compared, rm_shards = redmapper["max_clusters"], max(1, min(shards, 4))  # rules/common.smk's RM_SHARDS
    if redmapper["enabled"] and compared is not None and compared < rm_shards:
        out.append(
            (
                ("evaluate", "redmapper", "max_clusters"),
                f"config key 'evaluate.redmapper.max_clusters' ({compared}) is below the {rm_shards} shards the "
                "comparison set is imaged on (images.shards, at most 4), and each shard images whole clusters",
            )
        )
    n = cfg["catalogue"]["max_clusters"]
    if n is None:
        return out
    cap = ("catalogue", "max_clusters")
    units = n * images["views_per_cluster"] if by == "view" else n
    if n < shards:
        out.append(
            (
                cap,
                f"config key 'catalogue.max_clusters' ({n}) is below 'images.shards' ({shards}), and each shard "
                f"images whole clusters: {shards - n} of the {shards} shards would get none; lower images.shards "
                f"to {n} or keep more clusters",
            )
        )
    elif units < 2 or (n < 2 and evaluate["cluster_split"]["enabled"]):
        what = f"1 {by} to split by {by}" if units < 2 else "1 cluster to split by cluster (evaluate.cluster_split)"
        fraction = images["split"]["test_fraction"] if units < 2 else evaluate["cluster_split"]["test_fraction"]
        empty = "training" if round(float(fraction or 0)) >= 1 else "test"  # images/split.py rounds the share
        out.append(
            (
                cap,
                f"config key 'catalogue.max_clusters' ({n}) leaves {what}, so the {empty} set would be empty; "
                "keep 2 clusters at least",
            )
        )
    k = evaluate["kfold"]["k"]
    if k >= 2 and k > n:
        out.append(
            (
                ("evaluate", "kfold", "k"),
                f"config key 'evaluate.kfold.k' ({k}) exceeds 'catalogue.max_clusters' ({n}): each fold tests on "
                "clusters of its own",
            )
        )
    real_sky = evaluate["real_sky"]
    tested = n_test_units(units, float(images["split"]["test_fraction"])) if units >= 2 else 0
    tested = tested if by == "cluster" else min(tested, n)  # test clusters at most
    if real_sky["enabled"] and images["source"] == "mock" and 0 < tested < real_sky["shards"]:
        out.append(
            (
                ("evaluate", "real_sky", "shards"),
                f"config key 'evaluate.real_sky.shards' ({real_sky['shards']}) exceeds the {tested} test "
                f"cluster(s) that 'catalogue.max_clusters' ({n}) leaves, and each shard renders whole clusters: "
                f"lower it to {tested}",
            )
        )
    return out


def _real_field_errors(cfg: dict) -> list[tuple[tuple, str]]:
    """The real SDSS fields (mock source: the realism figure always, training views and the real-sky
    test when asked) are binned by a whole number of 0.396" pixels, and a view over one is a square
    inside the field, never padded: caught here, not by the real-fields or render job."""
    images = cfg["images"]
    if images["source"] != "mock":
        return []
    from deepcee.core.sdss import SDSS_FRAME_PIXELS, SDSS_PIXEL_SCALE_ARCSEC, binning_factor

    scale = images["pixel_scale_arcsec"]
    factor = binning_factor(scale)
    if factor is None:
        below = max(1, math.floor(scale / SDSS_PIXEL_SCALE_ARCSEC))
        near = " or ".join(f"{round(k * SDSS_PIXEL_SCALE_ARCSEC, 4):g}" for k in (below, below + 1))
        return [
            (
                ("images", "pixel_scale_arcsec"),
                f"config key 'images.pixel_scale_arcsec' ({scale}) is not a whole multiple of SDSS's "
                f'{SDSS_PIXEL_SCALE_ARCSEC}" pixel, by which the real fields are binned (nearest: {near})',
            )
        ]
    mock = images["mock"]
    trains_on_real = mock["real_background_fraction"] > 0 or mock["background"] == "sdss_blank"
    side = mock["real_view_pixels"]
    nx, ny = (n // factor for n in SDSS_FRAME_PIXELS)
    if (trains_on_real or cfg["evaluate"]["real_sky"]["enabled"]) and side > min(nx, ny):
        return [
            (
                ("images", "mock", "real_view_pixels"),
                f"config key 'images.mock.real_view_pixels' ({side}) is larger than a real field: an SDSS frame "
                f'({SDSS_FRAME_PIXELS[0]} x {SDSS_FRAME_PIXELS[1]} px at {SDSS_PIXEL_SCALE_ARCSEC}") is {nx} x {ny} '
                f'px at images.pixel_scale_arcsec {scale}", and a view is a square inside it, never padded',
            )
        ]
    return []


def _search_errors(search: dict) -> list[tuple[tuple, str]]:
    """The search section's cross-key rules: a box that is not empty, a threshold above the cut."""
    out = []
    region = search.get("region") or {}
    numeric = all(isinstance(region.get(k), (int, float)) for k in ("dec_min", "dec_max"))
    if not search.get("moc") and numeric and not region["dec_min"] < region["dec_max"]:
        out.append(
            (
                ("search", "region", "dec_min"),
                f"config key 'search.region.dec_min' ({region['dec_min']}) must be below "
                f"'search.region.dec_max' ({region['dec_max']})",
            )
        )
    if not search.get("moc") and region.get("ra_min") is not None and region.get("ra_min") == region.get("ra_max"):
        out.append(
            (
                ("search", "region", "ra_min"),
                f"config key 'search.region.ra_min' equals 'search.region.ra_max' ({region['ra_min']}): an empty "
                "box (RA wraps through 0 when ra_min > ra_max; 0 to 360 is the full ring)",
            )
        )
    inject = search.get("inject") or {}
    if (inject.get("n") or 0) > 0 and search.get("source", "mock") != "mock":
        out.append(
            (
                ("search", "inject", "n"),
                f"config key 'search.inject.n' ({inject['n']}): clusters are injected into the mock sky only; "
                f"set it to 0 with search.source: {search.get('source')}",
            )
        )
    for key in ("z_range", "richness_range"):
        pair = inject.get(key)
        if isinstance(pair, list) and len(pair) == 2 and not pair[0] < pair[1]:
            out.append(
                (("search", "inject", key), f"config key 'search.inject.{key}': {pair[0]} must be below {pair[1]}")
            )
    score_min, threshold = search.get("score_min"), search.get("score_threshold")
    if isinstance(score_min, (int, float)) and isinstance(threshold, (int, float)) and threshold < score_min:
        out.append(
            (
                ("search", "score_threshold"),
                f"config key 'search.score_threshold' ({threshold}) is below 'search.score_min' ({score_min}), "
                "the score under which the shards keep no box",
            )
        )
    return out


def cuda_requested(config: dict) -> list[tuple[tuple, str]]:
    """The device keys set to CUDA (train.device, train.predict.device, search.device when the
    search runs), with their values; no torch import, so the Snakefile asks this first."""
    train = config.get("train") or {}
    search = config.get("search") or {}
    wanted = [
        (("train", "device"), train.get("device")),
        (("train", "predict", "device"), (train.get("predict") or {}).get("device")),
    ]
    if search.get("enabled"):
        wanted.append((("search", "device"), search.get("device")))
    return [(path, d) for path, d in wanted if isinstance(d, str) and d.startswith("cuda")]


def cuda_errors(config: dict) -> list[tuple[tuple, str]]:
    """CUDA requested (:func:`cuda_requested`) on a machine without it.

    Only meaningful where the jobs run on this machine (Snakemake's local executor).
    """
    wanted = cuda_requested(config)
    if not wanted:
        return []
    import torch

    if torch.cuda.is_available():
        return []
    return [
        (
            path,
            f"config key '{'.'.join(path)}' is {d!r} but this machine has no usable CUDA and the jobs run "
            f"here; use 'auto' or 'cpu'",
        )
        for path, d in wanted
    ]


def _folders(value) -> list[str]:
    """A config value naming one folder or a list of folders, as a list."""
    if value is None:
        return []
    return [str(value)] if isinstance(value, (str, Path)) else [str(v) for v in value]


def _holds(data, path: tuple) -> bool:
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return False
        data = data[part]
    return True


def interpreter_path_error(executable: str) -> str | None:
    """Why Snakemake's script jobs cannot run under this Python (a path with whitespace), or None.

    Snakemake runs each ``script:`` job as ``<python> <script>`` with the interpreter unquoted
    (the script's own path is quoted: a checkout with a space works under a Python elsewhere)."""
    if not any(ch.isspace() for ch in executable):
        return None
    return (
        f"the Python running Snakemake ({executable}) lies on a path with a space, and Snakemake starts "
        "every script job with that path unquoted, so each job would fail: move the checkout (with its "
        ".venv) to a path without spaces, or run Snakemake from a virtual environment made at such a path"
    )


def read_config_file(path: str | Path) -> dict:
    """A YAML config file as a dict; empty, unreadable or not a mapping → one line naming it (and the line)."""
    path = Path(path)
    try:
        data = yaml.load(path.read_text(), Loader=_YAML_LOADER)
    except OSError as err:
        raise DeepCeeError(f"{path}: cannot read the config file ({err.strerror})") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise DeepCeeError(f"{where}: not valid YAML ({problem})") from None
    if data is None:
        raise DeepCeeError(f"{path}: the config file is empty")
    if not isinstance(data, dict):
        raise DeepCeeError(f"{path}:1: a config file must be a mapping of keys, not a {type(data).__name__}")
    return data


def merge_configs(base: dict | None, over: dict | None) -> dict:
    """``over`` merged into ``base`` key by key, nested mappings merged too: what Snakemake does
    with each further ``--configfile``."""
    out = dict(base or {})
    for key, value in (over or {}).items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = merge_configs(out[key], value) if both else value
    return out


def read_config_files(paths: list[str | Path]) -> dict:
    """Config files merged in order, as ``snakemake --configfile A B`` merges them (for the
    benchmarks, which run outside the workflow)."""
    config: dict = {}
    for path in paths:
        config = merge_configs(config, read_config_file(path))
    return config


def check_workflow_config(
    config: dict,
    schema_path: str | Path,
    config_files: list[str | Path],
    local_cuda_check: bool = False,
    command_line: dict | None = None,
) -> None:
    """The merged config checked before the first job, each error blamed on the file holding the key.

    ``config_files`` in the order Snakemake merged them (later ones override); each is read
    again on its own to find which one holds the key at fault. ``command_line``: the ``--config``
    values, which override every file (an error in one of them is blamed on ``--config``).
    """
    contents = [(str(f), read_config_file(f)) for f in config_files]
    errors = _located_errors(config, schema_path)
    if not errors and local_cuda_check:
        errors = cuda_errors(config)
    if not errors:
        return
    path, message = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    if command_line and _holds(command_line, path) and _get(command_line, path) == _get(config, path):
        raise DeepCeeError(f"--config: {message}{more}")
    raise DeepCeeError(f"{_owner(contents, config, path)}: {message}{more}")


def check_local_cuda(config: dict, config_files: list[str | Path], command_line: dict | None = None) -> None:
    """CUDA asked for where the jobs run on this machine but unusable here: one line naming the
    config file (or ``--config``) and the key, before the first job."""
    errors = cuda_errors(config)
    if not errors:
        return
    path, message = errors[0]
    if command_line and _holds(command_line, path) and _get(command_line, path) == _get(config, path):
        where = "--config"
    else:
        where = _owner([(str(f), read_config_file(f)) for f in config_files], config, path)
    raise DeepCeeError(f"{where}: {message}")


def _owner(contents: list[tuple[str, dict]], config: dict, path: tuple) -> str:
    """The file that set the value at ``path``: the last one holding that very value, else the
    last one holding the key (or its deepest parent), else the first file."""
    value = _get(config, path)
    for name, data in reversed(contents):
        if _holds(data, path) and _get(data, path) == value:
            return name
    for n in range(len(path), 0, -1):
        for name, data in reversed(contents):
            if _holds(data, path[:n]):
                return name
    return contents[0][0] if contents else "config"


def _get(data, path: tuple):
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def _one_line(error) -> str:
    key = ".".join(str(part) for part in error.absolute_path) or "<top level>"
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        where = f"{key}." if error.absolute_path else ""
        return f"unknown config key '{where}{extra[0]}'" if extra else f"config key '{key}': {error.message}"
    if error.validator == "required":
        return f"config key '{key}': {error.message}"
    return f"config key '{key}': {error.message}"


def check_config(config: dict, schema_path: str | Path, config_name: str = "config") -> None:
    """Raise a one-line DeepCeeError for the first violation (all are listed in order)."""
    messages = config_errors(config, schema_path)
    if messages:
        more = f" (and {len(messages) - 1} more)" if len(messages) > 1 else ""
        raise DeepCeeError(f"{config_name}: {messages[0]}{more}")


#: The schemas/ folder of this checkout (the library is used from the repository, src/ layout).
SCHEMA_DIR = Path(__file__).resolve().parents[3] / "schemas"


def _filling_validator(schema_path: Path):
    """A validator that, like ``snakemake.utils.validate(..., set_default=True)``, sets each
    property's ``default`` where the key is absent, then descends into it (nested defaults fill
    because every object in the schemas has ``default: {}``)."""
    from jsonschema import validators

    schema = _schema(schema_path)
    base = Draft202012Validator
    validate_properties = base.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    filling = validators.extend(base, {"properties": set_defaults})
    return filling(schema, registry=_registry(schema_path.parent))


def with_defaults(section: str, cfg: dict | None = None) -> dict:
    """``cfg`` (one section of the config: ``train``, ``images``...) with every default that
    schemas/<section>.schema.yaml declares filled in, checked against that schema.

    The one place library callers outside Snakemake (tests, benchmarks, ``load_model``) get
    defaults from; inside the workflow, Snakemake's ``validate`` has already filled them and this
    only checks. A violation is one DeepCeeError line naming ``section.key``.
    """
    schema_path = SCHEMA_DIR / f"{section}.schema.yaml"
    if not schema_path.is_file():
        raise DeepCeeError(f"no schema for config section '{section}' ({schema_path})")
    out = copy.deepcopy(cfg) if cfg is not None else {}
    errors = sorted(_filling_validator(schema_path).iter_errors(out), key=lambda e: list(e.absolute_path))
    if errors:
        error = best_match([errors[0]])
        error.path.appendleft(section)  # name keys from the top of the config: train.optimiser.lr
        raise DeepCeeError(_one_line(error))
    return out


def schema_defaults(section: str) -> dict:
    """Every default of schemas/<section>.schema.yaml, the whole tree (a fresh copy)."""
    return with_defaults(section, {})


def main(argv: list[str] | None = None) -> int:
    """``python -m deepcee.core.config [FILE...]``: the config the workflow would run, checked as
    the Snakefile checks it before the first job: ``config.yaml`` (of this folder, as Snakemake
    reads it) with each FILE merged over it in order, as ``--configfile FILE...`` merges them;
    then the schema (unknown keys, types, ranges) and the cross-key rules, each error blamed on
    the file that holds the key. A file that is empty, not YAML or not a mapping is named with
    its line (Snakemake's own message for a broken ``--configfile`` names neither)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m deepcee.core.config", description=main.__doc__)
    parser.add_argument("files", nargs="*", type=Path, help="config files merged over config.yaml, in order")
    parser.add_argument("--alone", action="store_true", help="check the FILEs without config.yaml under them")
    args = parser.parse_args(argv)
    base = [] if args.alone or not Path("config.yaml").is_file() else [Path("config.yaml")]
    files = base + [f for f in args.files if f not in base]
    if not files:
        parser.error("no config file: give FILE... or run where config.yaml is")
    try:
        config = read_config_files(files)
        check_workflow_config(config, SCHEMA_DIR / "config.schema.yaml", files)
    except DeepCeeError as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    print(f"{' + '.join(map(str, files))}: valid ({len(config)} top-level keys)")
    return 0


def n_test_units(n_units: int, test_fraction: float) -> int:
    """How many of ``n_units`` views or clusters go to test: round(test_fraction x N), at least 1
    and at most N - 1 (the config check counts the test clusters with it before the first job)."""
    return min(max(int(round(test_fraction * n_units)), 1), n_units - 1)


if __name__ == "__main__":
    raise SystemExit(main())
