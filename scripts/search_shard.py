"""Rule search_shard: detector inference over one shard's tiles (atomic outputs: resumable)."""

from deepcee.core.files import run_script
from deepcee.search.stage import search_shard


def main(snakemake):
    search_shard(
        snakemake.input.model,
        snakemake.input.tiles,
        int(snakemake.wildcards.shard),
        snakemake.params.config,
        snakemake.output.detections,
        snakemake.output.stats,
        threads=snakemake.threads,
        injected_path=snakemake.input.get("injected"),
    )


run_script(main, snakemake)
