"""Rule paper_audit_html: the executed audit notebook -> results/audit.html (self-contained)."""

from deepcee.core.files import run_script
from deepcee.paper.audit import notebook_to_html


def main(snakemake):
    notebook_to_html(snakemake.params.notebook, snakemake.output.html)


run_script(main, snakemake)
