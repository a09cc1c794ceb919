"""Rules images_render_shard / images_download_shard: one shard of views -> FITS + manifest."""

from deepcee.core.files import run_script
from deepcee.images.mock.real_fields import field_files
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
        sky_catalogues=_sky_catalogues(sm),
        real_fields=field_files(sm.input.real_fields) if hasattr(sm.input, "real_fields") else None,
        galaxy_library=(sm.input.library_table, sm.input.library_stamps)
        if hasattr(sm.input, "library_table")
        else None,
    )


def _sky_catalogues(sm):
    """The one mock sky's catalogues, where the rule names them (the real-sky views need none)."""
    if not hasattr(sm.input, "sky_redmapper"):
        return None
    abell = sm.input.sky_abell
    return {
        "redmapper": sm.input.sky_redmapper,
        "abell": [abell] if isinstance(abell, str) else list(abell),
        "match_radius_arcmin": sm.params.sky_match_radius_arcmin,
    }


run_script(main, snakemake)
