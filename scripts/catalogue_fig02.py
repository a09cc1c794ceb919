"""Rule fig02_sample_properties: the paper's Figure 2 from the sample."""

import json
from pathlib import Path

from deepcee.catalogue.figures import fig02_sample_properties
from deepcee.catalogue.select import read_catalogue
from deepcee.core.files import run_script


def main(snakemake):
    sample = read_catalogue(snakemake.input.sample)
    members = json.loads(Path(snakemake.input.summary).read_text())["sources"]["members_column"]
    label = "λ" if members == "lambda" else "$R_{L*}$"
    fig02_sample_properties(sample, label, snakemake.output.pdf, snakemake.output.png)


run_script(main, snakemake)
