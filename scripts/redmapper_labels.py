"""Rule redmapper_labels: the image stage's labels for the comparison views, all marked 'test', no flips."""

from deepcee.core.contracts import read_table, write_table
from deepcee.core.files import run_script
from deepcee.evaluate.redmapper_region import as_test_set


def main(snakemake):
    out = as_test_set(read_table("labels", snakemake.input.labels))
    write_table("labels", out, snakemake.output.labels)
    print(f"{len(out)} comparison images -> {snakemake.output.labels}")


run_script(main, snakemake)
