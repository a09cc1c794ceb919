"""Rule train_detector: train (or resume) the Faster R-CNN on the training PNGs.

Checkpoints and the live loss table live in params.checkpoints (not a declared
output, so a failed or killed job keeps them and a rerun resumes).
"""

from deepcee.core.files import run_script
from deepcee.detector.training import train


def main(snakemake):
    train(
        snakemake.params.train,
        snakemake.params.seed,
        snakemake.input.labels,
        model_path=snakemake.output.model,
        losses_path=snakemake.output.losses,
        checkpoint_dir=snakemake.params.checkpoints,
        tensorboard_dir=snakemake.params.tensorboard,
        summary_path=snakemake.output.summary,
        threads=snakemake.threads,
        log=lambda msg: print(msg, flush=True),
        negatives_path=getattr(snakemake.input, "negatives", None),
    )


run_script(main, snakemake)
