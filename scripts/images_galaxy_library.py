"""Rule images_galaxy_library: the library of real galaxies and stars cut from
the training and the test SDSS fields, its table, its stamps and its figure."""

from deepcee.core.files import run_script
from deepcee.images.figures import galaxy_library_figure
from deepcee.images.mock.galaxy_library import build_library, library_summary, write_library


def main(sm):
    library = build_library(
        sm.params.train_fields, sm.params.test_fields, float(sm.params.pixel_scale_arcsec), threads=sm.threads
    )
    write_library(library, sm.output.table, sm.output.stamps)
    galaxy_library_figure(library, sm.output.pdf, sm.output.png)
    for line in library_summary(library):
        print(line)


run_script(main, snakemake)
