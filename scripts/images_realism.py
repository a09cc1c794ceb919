"""Rule images_realism: mock crops against real SDSS crops, a classifier two-sample test (statistics +
logistic regression) -> realism JSON and Figure 26.

The real fields are the prepared ones of rule images_real_fields (``input.manifests``: the train
and test manifests), read as they are; without manifests, ``params.folders`` are aligned and
binned here (slower: three bz2 frames a field)."""

from deepcee.core.files import run_script
from deepcee.images.realism import realism_summary


def main(sm):
    config = {"seed": sm.params.seed, "catalogue": sm.params.catalogue, "images": sm.params.images}
    manifests = list(getattr(sm.input, "manifests", []) or [])
    realism_summary(
        config,
        sm.output.json,
        out_png=sm.output.png,
        out_pdf=sm.output.pdf,
        folders=None if manifests else list(sm.params.folders),
        manifests=manifests,
        crop=int(sm.params.crop),
        threads=sm.threads,
        galaxy_library=(sm.input.library_table, sm.input.library_stamps)
        if hasattr(sm.input, "library_table")
        else None,
    )


run_script(main, snakemake)
