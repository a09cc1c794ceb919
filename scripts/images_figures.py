"""Rule images_figures: Fig. 3 (offsets), Fig. 4 (sky map), example views with truth boxes."""

from deepcee.core.files import run_script
from deepcee.images.figures import make_all


def main(sm):
    out = sm.output
    make_all(
        sm.input.labels,
        sm.input.parent,
        {
            "fig03_pdf": out.fig03_pdf,
            "fig03_png": out.fig03_png,
            "fig04_pdf": out.fig04_pdf,
            "fig04_png": out.fig04_png,
            "examples_pdf": out.examples_pdf,
            "examples_png": out.examples_png,
        },
        n_examples=sm.params.n_examples,
        seed=sm.params.seed,
    )


run_script(main, snakemake)
