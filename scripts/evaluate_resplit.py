"""Rules kfold_labels / cluster_split_labels: labels.ecsv re-split by cluster (beyond the paper)."""

from deepcee.core.contracts import read_table, write_table
from deepcee.core.files import run_script
from deepcee.evaluate import folds


def main(snakemake):
    labels = read_table("labels", snakemake.input.labels)
    p = snakemake.params
    if p.kind == "kfold":
        out = folds.kfold_labels(labels, int(p.k), int(p.fold), int(p.seed), what=snakemake.input.labels)
    else:
        out = folds.cluster_split_labels(labels, int(p.seed), p.test_fraction, what=snakemake.input.labels)
    write_table("labels", out, snakemake.output.labels)


run_script(main, snakemake)
