"""Rule real_sky_blank: the trained model over the real test fields, nothing injected."""

from deepcee.core.files import run_script
from deepcee.evaluate.blank_sky import run_blank_sky


def main(sm):
    run_blank_sky(
        sm.input.model,
        sm.input.fields,
        sm.input.real_sky,
        sm.params.tiles_dir,
        sm.output.detections,
        sm.output.summary,
        sm.params.config,
        sm.input.mcxc,
        threads=sm.threads,
        log=lambda msg: print(msg, flush=True),
    )


run_script(main, snakemake)
