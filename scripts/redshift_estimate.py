"""Rules redshift_test, redshift_redmapper: z_est and richness_est for every detection above the chosen threshold."""

import logging

from deepcee.core.files import run_script
from deepcee.redshift.stage import estimate


def main(snakemake):
    logger = logging.getLogger("redshift")

    def log(line):
        print(line)
        logger.info(line)

    i = snakemake.input
    estimate(
        i.predictions,
        i.labels,
        i.summary,
        i.calibration,
        snakemake.output.detections,
        snakemake.params.redshift,
        log=log,
    )


run_script(main, snakemake)
