"""deepcee.core.lineage: a stage's hash changes with every config section upstream of it, and only those."""

import copy

from deepcee.core.config import SCHEMA_DIR, read_config_file
from deepcee.core.lineage import STAGE_SECTIONS, stage_hashes


def _changed(config, section, key, value):
    out = copy.deepcopy(config)
    out.setdefault(section, {})[key] = value
    return out


def test_a_change_reaches_its_stage_and_every_stage_downstream_only(repo):
    config = read_config_file(repo / "config.yaml")
    before = stage_hashes(config)
    assert set(before) == set(STAGE_SECTIONS)
    for section, key, value in [
        ("catalogue", "max_clusters", 3),
        ("images", "views_per_cluster", 9),
        ("train", "steps", 1),
        ("evaluate", "bootstrap", 7),
        ("search", "score_threshold", 0.9),
        ("redshift", "enabled", False),
        ("paper", "document_class", "article"),
    ]:
        after = stage_hashes(_changed(config, section, key, value))
        changed = {stage for stage in before if before[stage] != after[stage]}
        assert changed == {s for s, sections in STAGE_SECTIONS.items() if section in sections}, section
    seed = stage_hashes({**config, "seed": 1})
    assert all(seed[s] != before[s] for s in before)  # the seed shapes every stage


def test_stable_across_key_order_and_covers_every_config_section(repo):
    import yaml

    config = read_config_file(repo / "config.yaml")
    reordered = {k: config[k] for k in reversed(list(config))}
    assert stage_hashes(reordered) == stage_hashes(config)
    sections = set(yaml.safe_load((SCHEMA_DIR / "config.schema.yaml").read_text())["properties"])
    # the paper stands on every key but results_dir, which says where the results go, not what they are
    assert set(STAGE_SECTIONS["paper"]) == sections - {"results_dir"}


def test_config_changes_are_readable():
    from deepcee.core.lineage import config_changes

    before = {"seed": 1, "train": {"steps": 2, "optimiser": {"lr": 0.1}}, "images": {"shards": 2}}
    after = {"seed": 1, "train": {"steps": 3, "optimiser": {"lr": 0.1, "momentum": 0.9}}, "images": {"shards": 2}}
    assert config_changes(before, after) == [
        "train.optimiser.momentum: '<absent>' -> 0.9",
        "train.steps: 2 -> 3",
    ]
    many = config_changes({"a": dict.fromkeys("abcdefghij", 0)}, {"a": dict.fromkeys("abcdefghij", 1)}, limit=3)
    assert many == ["a.a: 0 -> 1", "a.b: 0 -> 1", "a.c: 0 -> 1", "and 7 more"]
    assert config_changes(before, before) == []
