"""Rule redmapper_labels: the image stage's labels for the comparison views, all marked 'test', no flips."""

from deepcee.core.files import read_ecsv, run_script, write_ecsv
from deepcee.evaluate.redmapper_region import as_test_set


def main(snakemake):
    out = as_test_set(read_ecsv(snakemake.input.labels))
    write_ecsv(out, snakemake.output.labels)
    print(f"{len(out)} comparison images -> {snakemake.output.labels}")


run_script(main, snakemake)
