"""Rule predict_*: every box with its score for the images of a labels table → ECSV.

Reusable for any image set: the labels table, the split (or all rows) and the
output path come from the rule (input.labels, params.split, output.predictions);
params.photometry (redshift.photometry) is the source extraction of BCG centring.
"""

from deepcee.core.files import run_script
from deepcee.detector.inference import predict_labels


def main(snakemake):
    predict_labels(
        snakemake.input.model,
        snakemake.input.labels,
        snakemake.output.predictions,
        split=snakemake.params.get("split", "test"),
        cfg=snakemake.params.predict,
        threads=snakemake.threads,
        photometry=snakemake.params.get("photometry"),
        log=lambda msg: print(msg, flush=True),
    )


run_script(main, snakemake)
