"""Rule paper_audit_html: the executed audit notebook -> results/audit.html (self-contained)."""

from deepcee.paper.audit import notebook_to_html
from deepcee.core.files import run_script


def main(snakemake):
    notebook_to_html(snakemake.params.notebook, snakemake.output.html)


run_script(main, snakemake)  # noqa: F821
