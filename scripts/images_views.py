"""Rule images_views: catalogue -> views plan (offsets, centres, shards)."""

from deepcee.core.files import run_script
from deepcee.images.stage import make_views


def main(sm):
    make_views(sm.input.catalogue, sm.output.views, sm.params.images, sm.params.seed)


run_script(main, snakemake)
