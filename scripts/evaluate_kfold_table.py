"""Rule kfold_table: mean +- std per threshold over the k folds (beyond the paper)."""

from deepcee.core.files import run_script
from deepcee.evaluate.stage import kfold_table


def main(snakemake):
    kfold_table(
        list(snakemake.input.sweeps),
        snakemake.output.csv,
        snakemake.output.tex,
        summary=snakemake.output.summary,
        figure_paths=(snakemake.output.pdf, snakemake.output.png),
    )


run_script(main, snakemake)
