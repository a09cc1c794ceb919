"""Rules kfold_sweep / cluster_split_sweep: one re-split model's threshold sweep."""

from deepcee.core.files import run_script
from deepcee.evaluate.stage import sweep_only


def main(snakemake):
    sweep_only(
        snakemake.input.predictions,
        snakemake.input.labels,
        snakemake.output.csv,
        snakemake.output.tex,
        snakemake.params.evaluate,
        summary=snakemake.output.get("summary"),
    )


run_script(main, snakemake)
