"""The config upstream of each stage, as one hash per stage (README "Bad input, kills and reruns").

Snakemake reruns a job whose own ``params`` changed, but not one whose *inputs* were made under
another config when those inputs still exist, or are missing while the job's outputs stand
(it does not rebuild a missing intermediate whose consumers are present; snakemake issue 1978).
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
