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


@pytest.mark.parametrize(
    "profile", [None, "configs/paper.yaml", "configs/ci.yaml", "configs/survey.yaml", "configs/gpu-check.yaml"]
)
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
    with pytest.raises(
        DeepCeeError, match=r"config key 'catalogue.match_radius_arcmin': 'three' is not of type 'number'"
    ):
        check_config(default_config, schema)


def test_out_of_range_is_named(schema, default_config):
    default_config["catalogue"]["cuts"]["dec_min"] = 120
    with pytest.raises(
        DeepCeeError, match=r"config key 'catalogue.cuts.dec_min': 120 is greater than the maximum of 90"
    ):
        check_config(default_config, schema)


def test_bad_enum_is_named(schema, default_config):
    default_config["catalogue"]["source"] = "ned"
    message = config_errors(default_config, schema)[0]
    assert message.startswith("config key 'catalogue.source'") and "\n" not in message


def test_snakemake_stops_with_one_line(repo, tmp_path):
    """Through Snakemake itself: the run stops before any job, the error is one line, blamed on
    --config (which set the value), not on config.yaml (which holds the key too)."""
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--config", "seed=-3", "--directory", str(repo)],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("ERROR:")]
    assert errors == ["ERROR: --config: config key 'seed': -3 is less than the minimum of 0"]


SECTIONS = ("catalogue", "images", "train", "evaluate", "search", "redshift", "paper")


def test_snakemake_validate_fills_every_schema_default(repo, schema):
    """As the Snakefile does it: a config naming only the required keys ends up with the whole tree."""
    from snakemake.utils import validate

    from deepcee.core.config import schema_defaults

    cfg = {
        "seed": 1,
        "catalogue": {
            "source": "bundled",
            "match_radius_arcmin": 3.0,
            "cuts": {"z_min": 0.1, "z_max": 0.2, "min_members": 20, "dec_min": 0.0, "abell_only": True},
        },
    }
    validate(cfg, str(schema))
    for section in SECTIONS:
        validate(cfg[section], str(repo / "schemas" / f"{section}.schema.yaml"))
    for section in ("images", "train", "evaluate", "paper"):
        assert cfg[section] == schema_defaults(section), section
    assert cfg["train"]["optimiser"]["momentum"] == 0.9 and cfg["train"]["detector"]["roi_maxpool"] == 2
    assert cfg["images"]["mock"]["member_concentration"] == 5.0  # the one value, as config.yaml states it
    assert cfg["catalogue"]["vizier"]["retries"] == 4


def test_with_defaults_names_the_key_at_fault():
    from deepcee.core.config import with_defaults

    assert with_defaults("train", {"steps": 7})["steps"] == 7
    with pytest.raises(DeepCeeError, match=r"unknown config key 'train.optimiser.momentun'"):
        with_defaults("train", {"optimiser": {"momentun": 0.9}})
    with pytest.raises(DeepCeeError, match=r"config key 'images.stretch.output_size'"):
        with_defaults("images", {"stretch": {"output_size": 3}})


def test_no_defaults_dicts_in_the_library(repo):
    """Defaults live in schemas/ only: no *_DEFAULTS / DEFAULT_* tables in src/."""
    import re

    offenders = [
        f"{path.relative_to(repo)}:{n}"
        for path in (repo / "src").rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.match(r"^[A-Z_]*DEFAULT[A-Z_]*\s*(:[^=]*)?=", line)
        # metrics.DEFAULT_THRESHOLDS is the keyword default of metrics.sweep/evaluate, not a config copy
        and not line.startswith("DEFAULT_THRESHOLDS")
    ]
    assert offenders == [], offenders


def _first_error(config, schema):
    with pytest.raises(DeepCeeError) as err:
        check_config(config, schema, "config.yaml")
    assert "\n" not in str(err.value)
    return str(err.value)


def test_train_overrides_accept_only_train_keys(schema, default_config):
    default_config["evaluate"].setdefault("kfold", {})["train_overrides"] = {"stpes": 2}
    assert "unknown config key 'evaluate.kfold.train_overrides.stpes'" in _first_error(default_config, schema)


def test_train_override_values_are_checked(schema, default_config):
    default_config["evaluate"].setdefault("cluster_split", {})["train_overrides"] = {"steps": 0}
    assert "config key 'evaluate.cluster_split.train_overrides.steps'" in _first_error(default_config, schema)
    default_config["evaluate"]["cluster_split"]["train_overrides"] = {"steps": 10, "optimiser": {"lr": 1e-4}}
    assert config_errors(default_config, schema) == []


def test_z_range_must_be_ordered(schema, default_config):
    default_config["catalogue"]["cuts"].update(z_min=0.3, z_max=0.2)
    assert "'catalogue.cuts.z_min' (0.3) must be below 'catalogue.cuts.z_max' (0.2)" in _first_error(
        default_config, schema
    )


def test_stretch_limits_ordered_per_band(schema, default_config):
    default_config["images"].setdefault("stretch", {}).setdefault("limits", {})["r"] = [5.0, -1.0]
    assert "'images.stretch.limits.r': lower limit 5.0 must be below upper limit -1.0" in _first_error(
        default_config, schema
    )


def test_chosen_threshold_among_swept(schema, default_config):
    default_config["evaluate"]["thresholds"] = [0, 50, 100]
    default_config["evaluate"]["chosen_threshold"] = 80
    assert "'evaluate.chosen_threshold': 80 is not one of the swept" in _first_error(default_config, schema)
    default_config["evaluate"]["chosen_threshold"] = 50
    assert config_errors(default_config, schema) == []


def test_real_sky_field_must_be_unseen_by_training(schema, default_config):
    """A field is a training or a test field, never both: the real-sky test may not use a field the
    training views' real backgrounds come from (one folder or a list, either key)."""
    default_config["images"]["mock"]["real_background_fraction"] = 0.3
    training = default_config["images"]["mock"]["blank_frames"]
    assert isinstance(training, list) and len(training) > 1  # the default names several training fields
    default_config["evaluate"]["real_sky"]["blank_frames"] = training[-1]
    assert "'evaluate.real_sky.blank_frames'" in _first_error(default_config, schema)
    assert "never both" in _first_error(default_config, schema)
    default_config["evaluate"]["real_sky"]["blank_frames"] = ["resources/sdss-frames-run5390-camcol2-gri", training[0]]
    assert training[0] in _first_error(default_config, schema)
    default_config["evaluate"]["real_sky"]["blank_frames"] = "resources/sdss-frames-run5390-camcol2-gri"
    assert config_errors(default_config, schema) == []
    default_config["images"]["mock"]["blank_frames"] = "resources/sdss-frames-run2126-camcol1-gri"  # one folder
    assert config_errors(default_config, schema) == []
    default_config["evaluate"]["real_sky"]["chosen_threshold"] = 75
    assert "'evaluate.real_sky.chosen_threshold': 75 is not one of the swept" in _first_error(default_config, schema)


def test_real_sky_field_copied_under_another_name_is_still_a_training_field(schema, default_config, repo, tmp_path):
    """The overlap check compares the frames' bytes, not only the folders' paths: a byte-identical
    copy of a training field under another folder name is refused as a test field."""
    import shutil

    default_config["images"]["mock"]["real_background_fraction"] = 0.3
    training = default_config["images"]["mock"]["blank_frames"][0]
    copy_ = tmp_path / "sdss-frames-unseen-gri"
    shutil.copytree(repo / training, copy_)
    default_config["evaluate"]["real_sky"]["blank_frames"] = ["resources/sdss-frames-run5390-camcol2-gri", str(copy_)]
    message = _first_error(default_config, schema)
    assert (
        f"'evaluate.real_sky.blank_frames': {copy_} is also a copy of {training} of images.mock.blank_frames ("
        in message
    )
    assert "never both" in message
    # one frame of the same bytes is enough; different frames of equal size are not the same field
    for frame in sorted(copy_.glob("*.fits*"))[1:]:
        frame.unlink()
    assert "is also a copy of" in _first_error(default_config, schema)
    (frame,) = copy_.glob("*.fits*")
    data = bytearray(frame.read_bytes())
    data[-1] ^= 0xFF
    frame.write_bytes(bytes(data))
    assert config_errors(default_config, schema) == []


def test_results_dir_must_be_a_folder_of_its_own(schema, default_config, repo, monkeypatch):
    """Never the filesystem root (the layout strips its slash: every file would land at /01_catalogue),
    never the repository, a folder holding it, or one of its input and code folders or a folder in them."""
    monkeypatch.chdir(repo)
    refused = {
        "/": "is the filesystem root",
        "//": "is the filesystem root",
        "resources": "is the repository's resources/ folder",
        "resources/abell-aco-vii110a": "lies in the repository's resources/ folder",
        "src/deepcee": "lies in the repository's src/ folder",
        "rules": "is the repository's rules/ folder",
        "tests/out": "lies in the repository's tests/ folder",
        "paper": "is the repository's paper/ folder",
        ".": f"is the repository {repo}",
        "..": f"holds the repository {repo}",
    }
    for value, why in refused.items():
        default_config["results_dir"] = value
        assert f"config key 'results_dir' ({value!r}) {why}; a results folder must be" in _first_error(
            default_config, schema
        )
    for fine in ("results", "results/paper", str(repo.parent / "elsewhere")):
        default_config["results_dir"] = fine
        assert config_errors(default_config, schema) == []


def test_results_dir_on_the_command_line_blamed_on_config(schema, default_config, tmp_path):
    """`--config results_dir=/` names --config, not config.yaml (which holds results_dir too)."""
    from deepcee.core.config import check_workflow_config

    (tmp_path / "config.yaml").write_text(yaml.safe_dump(default_config))
    config = _merged(default_config, {"results_dir": "/"})
    with pytest.raises(DeepCeeError, match=r"^--config: config key 'results_dir' \('/'\) is the filesystem root;"):
        check_workflow_config(config, schema, [tmp_path / "config.yaml"], command_line={"results_dir": "/"})


def test_cuda_without_cuda_refused_before_any_job(schema, default_config, repo, tmp_path, monkeypatch):
    import torch

    from deepcee.core.config import check_workflow_config

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(default_config))
    gpu = tmp_path / "gpu.yaml"
    gpu.write_text("train:\n  device: cuda\n")
    config = _merged(default_config, {"train": {"device": "cuda"}})
    with pytest.raises(DeepCeeError, match=r"gpu.yaml: config key 'train.device' is 'cuda' but this machine has no"):
        check_workflow_config(config, schema, [tmp_path / "config.yaml", gpu], local_cuda_check=True)
    check_workflow_config(config, schema, [tmp_path / "config.yaml", gpu], local_cuda_check=False)  # cluster jobs


def test_error_blamed_on_the_file_holding_the_key(schema, default_config, tmp_path):
    """With --configfile, a bad key from config.yaml is config.yaml's, one from the other file is that file's."""
    from deepcee.core.config import check_workflow_config

    base = copy.deepcopy(default_config)
    base["catalogue"]["cuts"]["z_maxx"] = 0.3
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(base))
    other = tmp_path / "other.yaml"
    other.write_text("catalogue:\n  cuts:\n    z_max: 0.25\n")
    merged = _merged(base, {"catalogue": {"cuts": {"z_max": 0.25}}})
    files = [tmp_path / "config.yaml", other]
    with pytest.raises(
        DeepCeeError, match=rf"^{tmp_path / 'config.yaml'}: unknown config key 'catalogue.cuts.z_maxx'$"
    ):
        check_workflow_config(merged, schema, files)
    other.write_text("catalogue:\n  cuts:\n    z_min: 0.9\n")
    merged = _merged(default_config, {"catalogue": {"cuts": {"z_min": 0.9}}})
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(default_config))
    with pytest.raises(DeepCeeError, match=rf"^{other}: config key 'catalogue.cuts.z_min' \(0.9\) must be below"):
        check_workflow_config(merged, schema, files)


@pytest.mark.parametrize(
    "change, message",
    [
        (
            {"region": {"dec_min": 5.0, "dec_max": 4.0}},
            "'search.region.dec_min' (5.0) must be below 'search.region.dec_max' (4.0)",
        ),
        ({"region": {"ra_min": 10.0, "ra_max": 10.0}}, "'search.region.ra_min' equals 'search.region.ra_max' (10.0)"),
        (
            {"score_min": 0.3, "score_threshold": 0.2},
            "'search.score_threshold' (0.2) is below 'search.score_min' (0.3)",
        ),
    ],
)
def test_search_cross_key_rules(schema, default_config, change, message):
    """Caught at parse time (so `snakemake -n` fails), not inside the tiling job."""
    for key, value in change.items():
        default_config["search"][key] = {**default_config["search"][key], **value} if isinstance(value, dict) else value
    assert message in _first_error(default_config, schema)
    default_config["search"]["moc"] = "footprint.fits"  # a MOC overrides the box: its bounds are not used
    if "region" in change:
        assert config_errors(default_config, schema) == []


@pytest.mark.parametrize(
    "train, message",
    [
        (
            {"steps": 8},  # a short run under config.yaml's 10-step warm-up and 25-step checkpoints
            "'train.optimiser.warmup_steps' (10) exceeds 'train.steps' (8): the learning rate would never reach",
        ),
        ({"optimiser": {"warmup_steps": 481}}, "'train.optimiser.warmup_steps' (481) exceeds 'train.steps' (480)"),
        (
            {"checkpoint_every": 500},
            "'train.checkpoint_every' (500) exceeds 'train.steps' (480): no checkpoint would be written before the "
            "last step",
        ),
    ],
)
def test_warmup_and_checkpoint_within_the_run(schema, default_config, train, message):
    """Accepted silently before: a warm-up the run never finishes, a checkpoint it never writes."""
    assert message in _first_error(_merged(default_config, {"train": train}), schema)
    equal = {"steps": 480, "checkpoint_every": 480, "optimiser": {"warmup_steps": 480}}
    assert config_errors(_merged(default_config, {"train": equal}), schema) == []


@pytest.mark.parametrize(
    "change, message",
    [
        (  # was a MissingOutputException blaming filesystem latency: shard 1's render wrote no folder
            {"catalogue": {"max_clusters": 1}, "images": {"shards": 2}},
            "'catalogue.max_clusters' (1) is below 'images.shards' (2), and each shard images whole clusters: "
            "1 of the 2 shards would get none",
        ),
        (  # was a run with zero test clusters
            {"catalogue": {"max_clusters": 1}, "images": {"shards": 1}},
            "'catalogue.max_clusters' (1) leaves 1 view to split by view, so the test set would be empty",
        ),
        (
            {"catalogue": {"max_clusters": 1}, "images": {"shards": 1, "split": {"by": "cluster"}}},
            "leaves 1 cluster to split by cluster, so the test set would be empty",
        ),
        (
            {
                "catalogue": {"max_clusters": 1},
                "images": {"shards": 1, "views_per_cluster": 2},
                "evaluate": {"cluster_split": {"enabled": True}},
            },
            "leaves 1 cluster to split by cluster (evaluate.cluster_split), so the test set would be empty",
        ),
        (
            {"catalogue": {"max_clusters": 3}, "images": {"shards": 1}, "evaluate": {"kfold": {"k": 4}}},
            "'evaluate.kfold.k' (4) exceeds 'catalogue.max_clusters' (3)",
        ),
        (  # 10 views, 1 to test: one test cluster for three real-sky shards
            {"catalogue": {"max_clusters": 10}, "evaluate": {"real_sky": {"shards": 3}}},
            "'evaluate.real_sky.shards' (3) exceeds the 1 test cluster(s) that 'catalogue.max_clusters' (10) leaves",
        ),
        (
            {"evaluate": {"redmapper": {"max_clusters": 3}}},
            "'evaluate.redmapper.max_clusters' (3) is below the 4 shards the comparison set is imaged on",
        ),
    ],
)
def test_enough_clusters_for_every_shard_and_split(schema, default_config, change, message):
    assert message in _first_error(_merged(default_config, change), schema)


def test_enough_clusters_blamed_on_the_file_and_shards_left_to_the_schema(schema, default_config, tmp_path):
    """The rule reads the schema's default where a file leaves a key out (images.shards: 8), and
    the line names the file that set max_clusters."""
    from deepcee.core.config import check_workflow_config

    base = copy.deepcopy(default_config)
    del base["images"]["shards"]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(base))
    small = tmp_path / "small.yaml"
    small.write_text("catalogue:\n  max_clusters: 5\n")
    merged = _merged(base, {"catalogue": {"max_clusters": 5}})
    with pytest.raises(
        DeepCeeError, match=rf"^{small}: config key 'catalogue.max_clusters' \(5\) is below 'images.shards' \(8\)"
    ):
        check_workflow_config(merged, schema, [tmp_path / "config.yaml", small])


def test_views_job_refuses_too_few_clusters_when_no_cap_says_so():
    """Without max_clusters the sample's size is known after the cuts: the views job refuses a shard
    without a cluster, and a split with one side empty, in one line."""
    from deepcee.images.split import assign_split
    from deepcee.images.views import held_out_views, plan_views
    from images_helpers import small_catalogue

    with pytest.raises(DeepCeeError, match=r"^sample.ecsv: 2 clusters for 3 image shards \(images.shards\)"):
        plan_views(small_catalogue(2), 1, 100.0, seed=1, shards=3, where="sample.ecsv")
    with pytest.raises(DeepCeeError, match=r"^split by cluster: only 1 cluster to split"):
        assign_split(["A_v0", "A_v1"], ["A", "A"], "cluster", 0.1, seed=1)
    assert set(assign_split(["A_v0", "B_v0"], ["A", "B"], "view", 0.1, seed=1).values()) == {"train", "test"}
    plan = plan_views(small_catalogue(4), 1, 100.0, seed=1, split={"by": "cluster", "test_fraction": 0.25})
    with pytest.raises(DeepCeeError, match=r"^views plan: 1 test clusters for 2 real-sky shards"):
        held_out_views(plan, shards=2)


@pytest.mark.parametrize("scale", [6.0, 1.5, 0.2])
def test_pixel_scale_a_whole_multiple_of_sdss(schema, default_config, scale):
    """The real fields are binned by whole 0.396" pixels (images/mock/real_fields.py): caught here,
    not by the real-fields job after the catalogue ran. configs/ci.yaml's 6.336 = 16 x 0.396 passes."""
    config = _merged(default_config, {"images": {"pixel_scale_arcsec": scale}})
    error = _first_error(config, schema)
    assert f"config key 'images.pixel_scale_arcsec' ({scale}) is not a whole multiple of SDSS's 0.396\" pixel" in error
    if scale == 6.0:
        assert "(nearest: 5.94 or 6.336)" in error
    config["images"]["source"] = "skyview"  # no real field binned: SkyView resamples to any scale
    assert config_errors(config, schema) == []


def test_real_view_inside_a_real_field(schema, default_config):
    """A real-field view is a square inside an SDSS frame (2048 x 1489 px at 0.396"): at 6.336" the
    frame is 128 x 93 px, at the default 1.584" 512 x 372 px."""
    config = _merged(default_config, {"images": {"pixel_scale_arcsec": 6.336, "mock": {"real_view_pixels": 120}}})
    assert (
        "config key 'images.mock.real_view_pixels' (120) is larger than a real field: an SDSS frame "
        '(2048 x 1489 px at 0.396") is 128 x 93 px at images.pixel_scale_arcsec 6.336"'
    ) in _first_error(config, schema)
    config = _merged(default_config, {"images": {"mock": {"real_view_pixels": 400}}})
    assert 'is 512 x 372 px at images.pixel_scale_arcsec 1.584"' in _first_error(config, schema)
    # used by nothing: no real-sky test and no real training backgrounds
    config["images"]["mock"]["real_background_fraction"] = 0
    config["evaluate"]["real_sky"]["enabled"] = False
    assert config_errors(config, schema) == []


def test_unreadable_config_file_named_with_its_line(tmp_path):
    from deepcee.core.config import read_config_file

    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(DeepCeeError, match=rf"^{empty}: the config file is empty$"):
        read_config_file(empty)
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: 1\ntrain:\n  steps: [1\n  batch_size: 2\n")
    with pytest.raises(DeepCeeError, match=rf"^{bad}:\d+: not valid YAML") as err:
        read_config_file(bad)
    assert "\n" not in str(err.value)


def test_snakemake_stops_on_cross_key_rule_naming_the_file(repo, tmp_path):
    """Before any job: z_min above z_max in a --configfile is blamed on that file."""
    override = tmp_path / "swapped.yaml"
    override.write_text("catalogue:\n  cuts:\n    z_min: 0.3\n    z_max: 0.2\n")
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--configfile", str(override), "--directory", str(repo)],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("ERROR:")]
    assert errors == [
        f"ERROR: {override}: config key 'catalogue.cuts.z_min' (0.3) must be below 'catalogue.cuts.z_max' (0.2)"
    ]


def test_config_command_applies_the_workflow_checks(repo, tmp_path):
    """`python -m deepcee.core.config FILE` checks config.yaml + FILE as the Snakefile does: an
    unknown key and a cross-key rule are refused, blamed on FILE; the shipped profiles pass."""

    def check(*args):
        return subprocess.run(
            [sys.executable, "-m", "deepcee.core.config", *args], cwd=repo, capture_output=True, text=True, timeout=120
        )

    typo = tmp_path / "typo.yaml"
    typo.write_text("train:\n  stpes: 3\n")
    result = check(str(typo))
    assert result.returncode == 1 and result.stderr == f"ERROR: {typo}: unknown config key 'train.stpes'\n"
    box = tmp_path / "box.yaml"
    box.write_text("search:\n  region: {ra_min: 1, ra_max: 2, dec_min: 5, dec_max: 4}\n")
    result = check(str(box))
    assert (
        result.returncode == 1
        and f"ERROR: {box}: config key 'search.region.dec_min' (5) must be below" in result.stderr
    )
    for profile in ("configs/paper.yaml", "configs/ci.yaml"):
        result = check(profile)
        assert result.returncode == 0 and result.stdout.startswith(f"config.yaml + {profile}: valid"), result.stderr


def test_documented_commands_put_no_target_after_configfile(repo):
    """`--configfile` takes every following word up to the next option as a config file: a
    target written after it is read as YAML and Snakemake fails with a traceback. Every
    `snakemake` command in the README, docs, configs, profiles and report captions is checked."""
    import re
    import shlex

    files = [repo / "README.md", *repo.glob("docs/*.md"), *repo.glob("configs/*.yaml"), *repo.glob("profiles/*/*")]
    files += [*repo.glob("report/*.rst"), *repo.glob("rules/*.smk"), repo / "Snakefile"]
    bad = []
    for path in files:
        for line in path.read_text().splitlines():
            for command in re.findall(r"snakemake [^`#|;)\n]*--configfile[^`#|;)\n]*", line):
                words = shlex.split(command.replace("…", "x.yaml").replace("<", "").replace(">", ""))
                after = words[words.index("--configfile") + 1 :]
                files_given = after[: next((i for i, w in enumerate(after) if w.startswith("-")), len(after))]
                bad += [f"{path.name}: {command}" for w in files_given if not w.endswith((".yaml", ".yml", ".json"))]
    assert not bad, bad
