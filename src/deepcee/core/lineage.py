"""The config upstream of each stage, as one hash per stage (docs/reliability.md "Bad input, kills and reruns").

Snakemake reruns a job whose own ``params`` changed, but not one whose *inputs* were made under
another config when those inputs still exist, or are missing while the job's outputs stand
(it does not rebuild a missing intermediate whose consumers are present; Snakemake's own GitHub tracker, issue 1978).
After a config change and a failed upstream job, the old results would then stand as up to date.

Every rule that reads a results file therefore carries ``lineage``, the hash of every config
section its stage's inputs were shaped by (the stage's own and all upstream of it): when any of
them changes, every downstream job's params change, so ``snakemake`` (and ``-n``) reruns them
and, through them, rebuilds whatever they need, missing or not. ``provenance.json`` records the
hashes (one per stage) beside the results they describe.
"""

from __future__ import annotations

from deepcee.core.files import config_hash

#: The config sections upstream of each stage's inputs, in DAG order (docs/design.md §1).
#: The redMaPPer comparison and the real-sky test are evaluate rules (their views: "views");
#: the search reads the mock sky's catalogues and render settings and the trained model.
STAGE_SECTIONS: dict[str, tuple[str, ...]] = {
    "catalogue": ("seed", "catalogue"),
    "images": ("seed", "catalogue", "images"),
    "train": ("seed", "catalogue", "images", "train"),
    # the redMaPPer comparison's and the real-sky test's own views: rendered before any model
    "views": ("seed", "catalogue", "images", "evaluate"),
    "evaluate": ("seed", "catalogue", "images", "train", "evaluate"),
    "search": ("seed", "catalogue", "images", "train", "search"),
    "redshift": ("seed", "catalogue", "images", "train", "evaluate", "search", "redshift"),
    "paper": ("seed", "catalogue", "images", "train", "evaluate", "search", "redshift", "paper"),
}


# results_dir is in no stage's hash: it says where results go, not what they are (another folder
# holds its own results, and Snakemake its own metadata for them).


def stage_hashes(config: dict) -> dict[str, str]:
    """One short hash per stage of the config sections upstream of it (absent sections count as {})."""
    return {
        stage: config_hash({section: config.get(section) for section in sections})
        for stage, sections in STAGE_SECTIONS.items()
    }


def _flat(data, prefix: str = "") -> dict[str, object]:
    if not isinstance(data, dict) or not data:
        return {prefix: data} if prefix else {}
    out: dict[str, object] = {}
    for key, value in data.items():
        out.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def config_changes(before: dict, after: dict, limit: int = 8) -> list[str]:
    """The keys whose values differ, as ``key: old -> new`` (dotted keys, sorted; at most ``limit``
    and a count of the rest): the readable side of a rerun whose reason Snakemake prints as whole
    parameter dictionaries."""
    old, new = _flat(before), _flat(after)
    changed = sorted(k for k in old.keys() | new.keys() if old.get(k, "<absent>") != new.get(k, "<absent>"))
    lines = [f"{k}: {old.get(k, '<absent>')!r} -> {new.get(k, '<absent>')!r}" for k in changed[:limit]]
    if len(changed) > limit:
        lines.append(f"and {len(changed) - limit} more")
    return lines


def changes_since_last_run(provenance_path, config: dict) -> list[str]:
    """``config_changes`` against the config recorded in the last finished run's provenance.json
    (none when there is no readable record)."""
    import json
    from pathlib import Path

    try:
        recorded = json.loads(Path(provenance_path).read_text())["config"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return config_changes(recorded, config) if isinstance(recorded, dict) else []
