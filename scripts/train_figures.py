"""Rule training_figures: Figures 5 and 6 and Table A1 from losses.csv."""

from deepcee.core.files import run_script
from deepcee.detector.figures import fig05_total_loss, fig06_loss_components, table_a1


def main(snakemake):
    cfg = snakemake.params.figures  # train.figures, schema defaults filled by the Snakefile's validate
    window = int(cfg["smooth_window"])
    losses = snakemake.input.losses
    fig05_total_loss(losses, snakemake.output.fig05_pdf, snakemake.output.fig05_png, window=window)
    fig06_loss_components(losses, snakemake.output.fig06_pdf, snakemake.output.fig06_png, window=window)
    table_a1(losses, snakemake.output.table_csv, snakemake.output.table_tex, window=window, rows=int(cfg["table_rows"]))


run_script(main, snakemake)
