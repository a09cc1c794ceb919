"""Rule paper_pdf: latexmk on paper/ms.tex -> paper/ms.pdf (one-line error on failure)."""

from deepcee.core.files import run_script
from deepcee.paper.latex import build_pdf


def main(snakemake):
    # Only the rule's declared inputs: a figure or table left in results/ by an earlier run
    # with other settings never reaches the paper.
    artefacts = [str(p) for p in snakemake.input.upstream] + [
        snakemake.input.comparison,
        snakemake.input.comparison_sweeps,
    ]
    build_pdf(
        snakemake.input.tex,
        snakemake.output.pdf,
        search_dirs=snakemake.params.search_dirs,
        artefacts=artefacts,
        build_dir=snakemake.params.build_dir,
        document_class=snakemake.params.document_class,
        latexmk=snakemake.params.latexmk,
        timeout_s=snakemake.params.timeout_s,
    )


run_script(main, snakemake)
