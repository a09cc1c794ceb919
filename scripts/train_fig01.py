"""Rule fig01_architecture: Figure 1 drawn from the trained model's own modules."""

from deepcee.core.files import run_script
from deepcee.detector.figures import fig01_architecture
from deepcee.detector.inference import load_model
from deepcee.detector.model import describe


def main(snakemake):
    model, _meta = load_model(snakemake.input.model)
    fig01_architecture(describe(model), snakemake.output.pdf, snakemake.output.png)


run_script(main, snakemake)
