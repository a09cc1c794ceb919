"""Rule redshift_figures: z_est vs catalogue z and richness_est vs λ (recovered clusters of each set)."""

import json

from deepcee.core.contracts import read_table
from deepcee.core.files import run_script
from deepcee.redshift.figures import plot_redshift, plot_richness


def main(snakemake):
    o = snakemake.output
    tables = {name: read_table("redshift_detections", snakemake.input[name]) for name in snakemake.params.sets}
    with open(snakemake.input.summary) as handle:
        summary = json.load(handle)
    plot_redshift(tables, summary, o.redshift_pdf, o.redshift_png)
    plot_richness(tables, summary, o.richness_pdf, o.richness_png)


run_script(main, snakemake)
