"""Rule real_sky_views: the image stage's test views, each to be re-rendered over one real test field."""

from deepcee.core.files import run_script
from deepcee.images.views import held_out_views, read_views, real_offset_factor, with_member_kinds, write_views


def main(sm):
    rv = sm.params.real_view
    factor = real_offset_factor(
        int(rv["real_view_pixels"]), int(rv["pixels"]), float(rv["pixel_scale_arcsec"]), float(rv["max_offset_arcsec"])
    )
    views = held_out_views(
        read_views(sm.input.views), int(sm.params.shards), sm.params.views_per_cluster, list(sm.params.fields), factor
    )
    views = with_member_kinds(views, sm.params.member_kinds)
    write_views(views, sm.output.views)
    kinds = ", ".join(sm.params.member_kinds)
    print(f"{len(views)} test views ({kinds}) over {len(sm.params.fields)} real fields -> {sm.output.views}")


run_script(main, snakemake)
