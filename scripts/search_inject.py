"""Rule search_inject: the synthetic clusters planted in the search's mock sky (injection and recovery)."""

from deepcee.core.files import run_script
from deepcee.search.stage import write_injections


def main(snakemake):
    write_injections(snakemake.params.config, snakemake.input.tiles, snakemake.output.injected)


run_script(main, snakemake)
