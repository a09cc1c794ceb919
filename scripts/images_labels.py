"""Rule images_labels: split, flip the training images, write labels.ecsv + summary.json."""

from deepcee.core.files import run_script
from deepcee.images.stage import build_labels


def main(sm):
    build_labels(
        sm.input.views,
        list(sm.input.pngs),
        sm.output.labels,
        sm.output.summary,
        sm.params.images,
        sm.params.seed,
        fits_manifests=list(sm.input.fits),
        flip_dir=sm.output.get("flips"),
        threads=sm.threads,
        negatives_path=sm.output.get("negatives"),
    )


run_script(main, snakemake)
