"""Rule redshift_calibrate: z(g−r, r−i) and λ(member count) fitted on the training clusters."""

import logging

from deepcee.core.files import run_script
from deepcee.redshift.stage import calibrate


def main(snakemake):
    logger = logging.getLogger("redshift")

    def log(line):
        print(line)
        logger.info(line)

    calibrate(
        snakemake.input.labels,
        snakemake.output.calibration,
        snakemake.params.redshift,
        int(snakemake.params.seed),
        log=log,
    )


run_script(main, snakemake)
