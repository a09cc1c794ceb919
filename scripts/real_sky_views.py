"""Rule real_sky_views: the image stage's test views, to be re-rendered over a real SDSS blank field."""

from deepcee.core.files import run_script
from deepcee.images.views import held_out_views, read_views, write_views


def main(sm):
    views = held_out_views(read_views(sm.input.views), int(sm.params.shards), sm.params.views_per_cluster)
    views.meta["real_sky_blank_frames"] = sm.params.blank_frames
    write_views(views, sm.output.views)
    print(f"{len(views)} test views -> {sm.output.views}")


run_script(main, snakemake)
