# Stage 6 — the paper, the numbers, the provenance and the audit (issue 6; DESIGN §1).
#
#   results/numbers.tex              every number the text quotes (\newcommand macros)
#   results/tables/table_comparison* this run beside Chan & Stott (2019)
#   results/provenance.json          config, git commit, versions, device, input hashes, summaries
#   results/audit.html               the executed audit notebook (notebooks/audit.py.ipynb)
#   paper/ms.pdf                     latexmk on paper/ms.tex; it runs last, so a LaTeX failure
#                                    leaves every other output of the run in place
#
# The Snakemake report: `snakemake --report results/report.html` after the run.

import glob as _glob
import os

report: "../report/workflow.rst"

PAPER_STAGE = f"{RESULTS}/06_paper"

# Contract files of the upstream stages that the paper stage reads (notes/CONTRACTS.md).
PAPER_SOURCES = {
    "sample": f"{RESULTS}/01_catalogue/sample.ecsv",
    "redmapper_catalogue": f"{RESULTS}/01_catalogue/redmapper.ecsv",
    "catalogue_summary": f"{RESULTS}/01_catalogue/summary.json",
    "labels": f"{RESULTS}/02_images/labels.ecsv",
    "images_summary": f"{RESULTS}/02_images/summary.json",
    "losses": f"{RESULTS}/03_train/losses.csv",
    "train_summary": f"{RESULTS}/03_train/summary.json",
    "sweep_test": f"{TABLES}/table2_sweep_test.csv",
    "sweep_redmapper": f"{TABLES}/table3_sweep_redmapper.csv",
    "evaluate_summary": f"{RESULTS}/04_evaluate/summary.json",
    "ks": f"{RESULTS}/04_evaluate/ks_test.json",
    "redmapper_summary": f"{RESULTS}/05_redmapper/summary.json",
    "redmapper_labels": f"{RESULTS}/05_redmapper/labels.ecsv",
    "predictions_test": f"{RESULTS}/04_evaluate/predictions_test.ecsv",
    "predictions_redmapper": f"{RESULTS}/05_redmapper/predictions.ecsv",
    "distances_test": f"{RESULTS}/04_evaluate/distances_test.ecsv",
}
PAPER_SUMMARIES = ["catalogue_summary", "images_summary", "train_summary", "evaluate_summary", "redmapper_summary"]

PAPER_OUTPUTS = {
    "numbers": f"{RESULTS}/numbers.tex",
    "numbers_json": f"{PAPER_STAGE}/numbers.json",
    "comparison": f"{TABLES}/table_comparison.tex",
    "comparison_csv": f"{TABLES}/table_comparison.csv",
    "comparison_sweeps": f"{TABLES}/table_comparison_sweeps.tex",
    "comparison_sweeps_csv": f"{TABLES}/table_comparison_sweeps.csv",
    "provenance": f"{RESULTS}/provenance.json",
    "audit_summary": f"{PAPER_STAGE}/audit_summary.json",
    "audit_html": f"{RESULTS}/audit.html",
    "pdf": "paper/ms.pdf",
}
AUDIT_NOTEBOOK_EXECUTED = "logs/paper/audit.py.ipynb"


def _paper_produced(path):
    """Whether ``path`` exists or some rule writes it (a stage not built yet is skipped)."""
    return os.path.exists(path) or any(rule.is_producer(path) for rule in workflow.rules)


def _paper_sources(*names):
    def inputs(wildcards):
        wanted = names or tuple(PAPER_SOURCES)
        return {k: PAPER_SOURCES[k] for k in wanted if _paper_produced(PAPER_SOURCES[k])}
    return inputs


def _paper_upstream(wildcards):
    """Every final artefact of the other stages: the paper is built after all of them."""
    own = set(PAPER_OUTPUTS.values())
    return sorted({t for t in FINAL_TARGETS if t not in own})


def _paper_resources():
    return sorted(p for p in _glob.glob("resources/**", recursive=True) if os.path.isfile(p))


def _config_without_paper():
    return {k: v for k, v in config.items() if k != "paper"}


rule paper_numbers:
    """Every number the paper quotes → results/numbers.tex; this run beside the published paper."""
    input:
        unpack(_paper_sources("sample", "redmapper_catalogue", "catalogue_summary", "labels", "images_summary",
                              "losses", "train_summary", "sweep_test", "sweep_redmapper", "evaluate_summary",
                              "ks", "redmapper_summary", "redmapper_labels")),
    output:
        numbers=report(PAPER_OUTPUTS["numbers"], caption="../report/numbers.rst", category="Paper"),
        numbers_json=PAPER_OUTPUTS["numbers_json"],
        comparison=report(PAPER_OUTPUTS["comparison"], caption="../report/table_comparison.rst", category="Paper"),
        comparison_csv=PAPER_OUTPUTS["comparison_csv"],
        comparison_sweeps=report(PAPER_OUTPUTS["comparison_sweeps"], caption="../report/table_comparison_sweeps.rst",
                                 category="Paper"),
        comparison_sweeps_csv=PAPER_OUTPUTS["comparison_sweeps_csv"],
    params:
        config=lambda wc: _config_without_paper(),
    log:
        "logs/paper/numbers.log",
    conda:
        "../envs/paper.yaml"
    script:
        "../scripts/paper_numbers.py"


rule paper_provenance:
    """Resolved config, git commit, package versions, training device, input hashes, stage summaries."""
    input:
        unpack(_paper_sources(*PAPER_SUMMARIES, "ks")),
        resources=_paper_resources(),
    output:
        provenance=report(PAPER_OUTPUTS["provenance"], caption="../report/provenance.rst", category="Paper"),
    params:
        config=lambda wc: config,
        config_files=lambda wc: [str(f) for f in (workflow.overwrite_configfiles or [])] or ["config.yaml"],
        summaries=PAPER_SUMMARIES + ["ks"],
        repo=workflow.basedir,
    log:
        "logs/paper/provenance.log",
    conda:
        "../envs/paper.yaml"
    script:
        "../scripts/paper_provenance.py"


rule paper_audit_notebook:
    """Run the audit notebook: per stage the counts, images with true and predicted boxes, distributions."""
    input:
        unpack(_paper_sources()),
        numbers_json=PAPER_OUTPUTS["numbers_json"],
    output:
        summary=PAPER_OUTPUTS["audit_summary"],
    params:
        n_examples=lambda wc: config["paper"]["audit"]["n_examples"],
        seed=lambda wc: config["seed"],
    log:
        notebook=AUDIT_NOTEBOOK_EXECUTED,
    conda:
        "../envs/paper.yaml"
    notebook:
        "../notebooks/audit.py.ipynb"


rule paper_audit_html:
    """The executed audit notebook as one self-contained HTML page."""
    input:
        summary=PAPER_OUTPUTS["audit_summary"],
    output:
        html=report(PAPER_OUTPUTS["audit_html"], caption="../report/audit.rst", category="Audit"),
    params:
        notebook=AUDIT_NOTEBOOK_EXECUTED,
    log:
        "logs/paper/audit_html.log",
    conda:
        "../envs/paper.yaml"
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
    params:
        document_class=lambda wc: config["paper"]["document_class"],
        latexmk=lambda wc: config["paper"]["latexmk"],
        timeout_s=lambda wc: config["paper"]["latex_timeout_s"],
        build_dir="paper/build",
        search_dirs=[RESULTS, TABLES, FIGURES],
    log:
        "logs/paper/latex.log",
    conda:
        "../envs/paper.yaml"
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
