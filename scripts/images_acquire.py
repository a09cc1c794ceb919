"""Rules images_render_shard / images_download_shard: one shard of views -> FITS + manifest."""

from deepcee.core.files import run_script
from deepcee.images.stage import acquire_shard


def main(sm):
    acquire_shard(
        sm.input.views,
        int(sm.wildcards.shard),
        sm.params.fits_dir,
        sm.output.manifest,
        sm.params.images,
        sm.params.seed,
        source=sm.params.source,
        truth_path=getattr(sm.output, "truth", None),
    )


run_script(main, snakemake)
