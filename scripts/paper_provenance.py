"""Rule paper_provenance: results/provenance.json."""

import sys

from deepcee.core.files import run_script
from deepcee.paper.provenance import write_provenance


def main(snakemake):
    summaries = {name.removesuffix("_summary"): snakemake.input.get(name) for name in snakemake.params.summaries}
    record = write_provenance(
        snakemake.output.provenance,
        snakemake.params.config,
        summaries,
        inputs=list(snakemake.input.resources),
        repo=snakemake.params.repo,
        config_files=snakemake.params.config_files,
    )
    print(
        f"git commit {record['git_commit']}, training device {record['training_device']}, "
        f"{len(record['inputs'])} input files hashed",
        file=sys.stderr,
    )


run_script(main, snakemake)
