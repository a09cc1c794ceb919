"""Rule search_download_shard: fill the SkyView / hips2fits cache for one shard's tiles (needs the network)."""

from deepcee.core.files import run_script, write_json
from deepcee.search.acquire import acquire
from deepcee.search.stage import read_tiles


def main(snakemake):
    config = snakemake.params.config
    scfg = config["search"]  # validated, schema defaults filled (Snakefile)
    tiles, shards, _ = read_tiles(snakemake.input.tiles)
    shard = int(snakemake.wildcards.shard)
    mine = [t for t, s in zip(tiles, shards) if s == shard]
    images = config["images"]
    done = [
        t.name
        for t, _, _ in acquire(
            scfg["source"], mine, int(images["pixels"]), float(images["pixel_scale_arcsec"]), cfg=scfg
        )
    ]
    write_json(snakemake.output.manifest, {"shard": shard, "source": scfg["source"], "tiles": done})
    print(f"search download shard {shard}: {len(done)} tiles cached from {scfg['source']}")


run_script(main, snakemake)
