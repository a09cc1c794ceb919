"""Rule training_figures: Figures 5 and 6 and Table A1 from losses.csv."""

from deepcee.core.files import run_script
from deepcee.detector.figures import fig05_total_loss, fig06_loss_components, table_a1


def main(snakemake):
    cfg = snakemake.params.figures or {}
    window = int(cfg.get("smooth_window", 25))
    losses = snakemake.input.losses
    fig05_total_loss(losses, snakemake.output.fig05_pdf, snakemake.output.fig05_png, window=window)
    fig06_loss_components(losses, snakemake.output.fig06_pdf, snakemake.output.fig06_png, window=window)
    table_a1(losses, snakemake.output.table_csv, snakemake.output.table_tex, window=window,
             rows=int(cfg.get("table_rows", 30)))


run_script(main, snakemake)  # noqa: F821
