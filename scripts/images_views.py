"""Rule images_views: catalogue -> views plan (offsets, centres, shards)."""
from deepcee.images.stage import make_views, run_logged


def main(sm):
    make_views(sm.input.catalogue, sm.output.views, sm.params.images, sm.params.seed)


run_logged(main, snakemake.log[0], snakemake)  # noqa: F821
