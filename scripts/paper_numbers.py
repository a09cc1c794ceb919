"""Rule paper_numbers: every number the paper quotes -> results/numbers.tex (+ the comparison tables)."""

import sys

from deepcee.core.files import run_script
from deepcee.paper.numbers import collect_numbers, write_comparison, write_numbers


def main(snakemake):
    inputs = {key: str(value) for key, value in snakemake.input.items()}
    numbers = collect_numbers(inputs, snakemake.params.config)
    missing = write_numbers(numbers, snakemake.output.numbers, snakemake.output.numbers_json)
    write_comparison(
        numbers,
        snakemake.output.comparison,
        snakemake.output.comparison_csv,
        sweeps={"test": inputs.get("sweep_test"), "redmapper": inputs.get("sweep_redmapper")},
        sweeps_tex=snakemake.output.comparison_sweeps,
        sweeps_csv=snakemake.output.comparison_sweeps_csv,
        # the rule declares the redMaPPer comparison's files only where the stage runs (rules/common.smk)
        redmapper="redmapper_summary" in inputs,
    )
    print(f"{len(numbers)} numbers written to {snakemake.output.numbers}", file=sys.stderr)
    if missing:
        print(f"not provided by this run (n/a in the paper): {', '.join(missing)}", file=sys.stderr)


run_script(main, snakemake)
