"""Rule evaluate_sdss_redshifts: SDSS spectra around each test cluster (paper profile), cached, as a truth table."""

from deepcee.core.contracts import read_table
from deepcee.core.files import run_script
from deepcee.evaluate.sdss_redshifts import truth_from_sdss


def main(snakemake):
    truth_from_sdss(read_table("labels", snakemake.input.labels), snakemake.output.truth, snakemake.params.sdss)


run_script(main, snakemake)
