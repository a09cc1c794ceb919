# Stage 6 — the paper, the numbers, the provenance and the audit (docs/design.md §1).
#
#   results/numbers.tex              every number the text quotes (\newcommand macros)
#   results/tables/table_comparison* this run beside Chan & Stott (2019)
#   results/provenance.json          config, git commit, versions, device, input hashes, summaries
#   results/audit.html               the executed audit notebook (notebooks/audit.py.ipynb)
#   paper/ms.pdf                     latexmk on paper/ms.tex; it runs last, so a LaTeX failure
#                                    leaves every other output of the run in place
#
# The Snakemake report: `snakemake --report results/report.html` after the run.


report: "../report/workflow.rst"


# PAPER_SOURCES, PAPER_RESOURCES, PAPER_OUTPUTS and paper_sources are in rules/common.smk:
# every input of the paper is declared there, none is discovered on disk.


rule paper_numbers:
    """Every number the paper quotes → results/numbers.tex; this run beside the published paper."""
    input:
        **paper_sources(
            "sample",
            "redmapper_catalogue",
            "catalogue_summary",
            "labels",
            "images_summary",
            "losses",
            "train_summary",
            "sweep_test",
            "evaluate_summary",
            "ks",
            *REDMAPPER_NUMBERS,
            *BEYOND_PAPER_SUMMARIES,
        ),
    output:
        numbers=report(PAPER_OUTPUTS["numbers"], caption="../report/numbers.rst", category="Paper"),
        numbers_json=PAPER_OUTPUTS["numbers_json"],
        comparison=report(PAPER_OUTPUTS["comparison"], caption="../report/table_comparison.rst", category="Paper"),
        comparison_csv=PAPER_OUTPUTS["comparison_csv"],
        comparison_sweeps=report(
            PAPER_OUTPUTS["comparison_sweeps"], caption="../report/table_comparison_sweeps.rst", category="Paper"
        ),
        comparison_sweeps_csv=PAPER_OUTPUTS["comparison_sweeps_csv"],
    log:
        f"{LOGS}/paper/numbers.log",
    conda:
        "../envs/paper.yaml"
    params:
        lineage=LINEAGE["paper"],
        config=lambda wc: _config_without_paper(),
    script:
        "../scripts/paper_numbers.py"


rule paper_provenance:
    """Resolved config, git commit, package versions, training device, input hashes, stage summaries."""
    input:
        **paper_sources(*PAPER_SUMMARIES, "ks"),
        resources=PAPER_RESOURCES,
    output:
        provenance=report(PAPER_OUTPUTS["provenance"], caption="../report/provenance.rst", category="Paper"),
    log:
        f"{LOGS}/paper/provenance.log",
    conda:
        "../envs/paper.yaml"
    params:
        lineage=LINEAGE["paper"],
        config=lambda wc: config,
        config_files=lambda wc: config_files(),
        summaries=PAPER_SUMMARIES + ["ks"],
        repo=workflow.basedir,
    script:
        "../scripts/paper_provenance.py"


rule paper_audit_notebook:
    """Run the audit notebook: per stage the counts, images with true and predicted boxes, distributions."""
    input:
        **paper_sources(),
        numbers_json=PAPER_OUTPUTS["numbers_json"],
    output:
        summary=PAPER_OUTPUTS["audit_summary"],
    log:
        notebook=AUDIT_NOTEBOOK_EXECUTED,
    conda:
        "../envs/paper.yaml"
    params:
        lineage=LINEAGE["paper"],
        n_examples=lambda wc: config["paper"]["audit"]["n_examples"],
        seed=lambda wc: config["seed"],
    notebook:
        "../notebooks/audit.py.ipynb"


rule paper_audit_html:
    """The executed audit notebook as one self-contained HTML page."""
    input:
        summary=PAPER_OUTPUTS["audit_summary"],
    output:
        html=report(PAPER_OUTPUTS["audit_html"], caption="../report/audit.rst", category="Audit"),
    log:
        f"{LOGS}/paper/audit_html.log",
    conda:
        "../envs/paper.yaml"
    params:
        lineage=LINEAGE["paper"],
        notebook=AUDIT_NOTEBOOK_EXECUTED,
    script:
        "../scripts/paper_audit_html.py"


rule paper_pdf:
    """latexmk on paper/ms.tex (mnras.cls where installed, else article). Runs last of all."""
    input:
        tex="paper/ms.tex",
        numbers=PAPER_OUTPUTS["numbers"],
        comparison=PAPER_OUTPUTS["comparison"],
        comparison_sweeps=PAPER_OUTPUTS["comparison_sweeps"],
        provenance=PAPER_OUTPUTS["provenance"],
        audit=PAPER_OUTPUTS["audit_html"],
        upstream=_paper_upstream,
    output:
        pdf=report(PAPER_OUTPUTS["pdf"], caption="../report/ms.rst", category="Paper"),
    log:
        f"{LOGS}/paper/latex.log",
    conda:
        "../envs/paper.yaml"
    params:
        lineage=LINEAGE["paper"],
        document_class=lambda wc: config["paper"]["document_class"],
        latexmk=lambda wc: config["paper"]["latexmk"],
        timeout_s=lambda wc: config["paper"]["latex_timeout_s"],
        build_dir=f"{PAPER_BUILD}/build",
        search_dirs=[RESULTS, TABLES, FIGURES],
    script:
        "../scripts/paper_pdf.py"


FINAL_TARGETS += [
    PAPER_OUTPUTS["numbers"],
    PAPER_OUTPUTS["comparison"],
    PAPER_OUTPUTS["comparison_sweeps"],
    PAPER_OUTPUTS["provenance"],
    PAPER_OUTPUTS["audit_html"],
    PAPER_OUTPUTS["pdf"],
]
