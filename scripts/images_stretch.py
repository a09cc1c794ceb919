"""Rule images_stretch_shard: one shard of FITS views -> 8-bit RGB PNGs + manifest."""

from deepcee.core.files import run_script
from deepcee.images.stage import stretch_shard


def main(sm):
    stretch_shard(
        sm.input.views,
        int(sm.wildcards.shard),
        sm.params.fits_dir,
        sm.params.png_dir,
        sm.output.manifest,
        sm.params.images,
    )


run_script(main, snakemake)
