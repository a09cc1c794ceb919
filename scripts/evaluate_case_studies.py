"""Rule evaluate_case_studies: Figures 8-11 and the false-positive breakdown from the mock truth."""

from deepcee.core.files import run_script
from deepcee.evaluate.casestudies import case_studies


def main(snakemake):
    out = dict(snakemake.output)
    out["case_pdfs"] = [snakemake.output[f"fig{n:02d}_pdf"] for n in range(8, 12)]
    out["case_pngs"] = [snakemake.output[f"fig{n:02d}_png"] for n in range(8, 12)]
    case_studies(
        snakemake.input.predictions,
        snakemake.input.labels,
        snakemake.input.sample,
        list(snakemake.input.truth),
        snakemake.input.distances,
        snakemake.input.recovered,
        snakemake.input.summary,
        out,
        fp_cfg=snakemake.params.false_positives,
    )


run_script(main, snakemake)
