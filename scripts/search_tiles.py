"""Rule search_tiles: the tiles of the region (or MOC), one per cell of the Dec-strip grid, with their shards."""

from deepcee.core.files import run_script
from deepcee.search.stage import write_tiles


def main(snakemake):
    info = write_tiles(snakemake.params.config, snakemake.output.tiles, snakemake.output.info)
    print(
        f'search tiles: {info["n_tiles"]} tiles ({info["own_arcsec"]:.0f}" cells, {info["area_deg2"]:.3f} deg2, '
        f"{info['tiles_per_deg2']:.0f} per deg2) in {info['shards']} shards {info['tiles_per_shard']}; "
        f"projected {info['projected_hours']:.2f} h at search.projection_tiles_per_second"
    )


run_script(main, snakemake)
