"""Rule redshift_summary: the redshift and richness metrics of each detection set → summary.json."""

import logging

from deepcee.core.files import run_script
from deepcee.redshift.stage import summarize


def main(snakemake):
    logger = logging.getLogger("redshift")

    def log(line):
        print(line)
        logger.info(line)

    sets = {name: snakemake.input[name] for name in snakemake.params.sets}
    summarize(
        sets,
        snakemake.input.calibration,
        snakemake.output.summary,
        snakemake.params.redshift,
        int(snakemake.params.seed),
        log=log,
    )


run_script(main, snakemake)
