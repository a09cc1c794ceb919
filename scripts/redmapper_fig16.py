"""Rule fig16_sky_map_redmapper: training, test and redMaPPer clusters with the comparison region."""

import json
from pathlib import Path

import numpy as np

from deepcee.catalogue.select import read_catalogue
from deepcee.core.contracts import read_table
from deepcee.core.files import run_script
from deepcee.evaluate.figures import fig16_sky_map_redmapper


def main(snakemake):
    labels = read_table("labels", snakemake.input.labels)
    split = np.asarray([str(s) for s in labels["split"]])
    flipped = np.asarray(labels["flipped"], dtype=bool) if "flipped" in labels.colnames else np.zeros(len(labels), bool)
    train = labels[(split == "train") & ~flipped]
    test = labels[(split == "test") & ~flipped]
    region = json.loads(Path(snakemake.input.region_summary).read_text())["region_selection"]["region"]
    fig16_sky_map_redmapper(
        train,
        test,
        read_catalogue(snakemake.input.redmapper),
        read_catalogue(snakemake.input.region),
        region,
        snakemake.output.pdf,
        snakemake.output.png,
    )


run_script(main, snakemake)
