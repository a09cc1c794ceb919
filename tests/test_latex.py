"""deepcee.paper.latex: class choice, artefact names, one-line errors, and a real build of paper/ms.tex."""

import glob
import shutil

import pytest

from deepcee.core.errors import DeepCeeError
from deepcee.paper import latex
from deepcee.paper.numbers import collect_numbers, write_comparison, write_numbers
from paper_fakes import make_results

needs_latex = pytest.mark.skipif(shutil.which("latexmk") is None, reason="latexmk not installed")


def test_artefact_map_prefers_pdf_and_keys_by_contract_prefix():
    mapping = latex.artefact_map(
        [
            "r/figures/fig05_total_loss.png",
            "r/figures/fig05_total_loss.pdf",
            "r/figures/fig12_pr.png",
            "r/tables/table2_sweep_test.tex",
            "r/tables/table2_sweep_test.csv",
            "r/tables/tableA1_losses.tex",
            "r/tables/table_kfold.tex",
            "r/01_catalogue/sample.ecsv",
        ]
    )
    assert mapping == {
        "fig05": "fig05_total_loss",
        "fig12": "fig12_pr.png",
        "table2": "table2_sweep_test",
        "tableA1": "tableA1_losses",
        "table_kfold": "table_kfold",
    }


def test_first_error_file_line_mode():
    log = "(./ms.tex\n(/usr/share/texmf/article.cls)\n./ms.tex:42: Undefined control sequence.\nl.42 \\foo\n"
    assert latex.first_error(log) == ("! Undefined control sequence.", "./ms.tex:42")


def test_first_error_classic_mode_tracks_the_open_file():
    log = "(./ms.tex (/usr/share/a.sty\n)) (./numbers.tex\n! Missing $ inserted.\n<inserted text>\nl.7 x_1\n"
    message, where = latex.first_error(log)
    assert message == "! Missing $ inserted." and where == "./numbers.tex:7"


def test_missing_latexmk_names_the_debian_packages(tmp_path):
    tex = tmp_path / "ms.tex"
    tex.write_text("\\documentclass{article}\\begin{document}x\\end{document}\n")
    with pytest.raises(DeepCeeError) as err:
        latex.build_pdf(tex, tmp_path / "ms.pdf", latexmk="no-such-latexmk-here")
    message = str(err.value)
    assert "\n" not in message
    for package in (
        "latexmk",
        "texlive-latex-base",
        "texlive-latex-recommended",
        "texlive-latex-extra",
        "texlive-publishers",
    ):
        assert package in message
    assert not (tmp_path / "ms.pdf").exists()


def test_unknown_document_class_is_a_config_error():
    with pytest.raises(DeepCeeError, match="paper.document_class"):
        latex.choose_class("revtex")


@needs_latex
def test_latex_error_is_one_line_with_file_and_line(tmp_path):
    tex = tmp_path / "bad.tex"
    tex.write_text("\\documentclass{article}\n\\begin{document}\nfine\n\\nosuchmacro\n\\end{document}\n")
    with pytest.raises(DeepCeeError) as err:
        latex.build_pdf(tex, tmp_path / "bad.pdf", build_dir=tmp_path / "build", document_class="article")
    message = str(err.value)
    assert "\n" not in message
    assert "! Undefined control sequence." in message and f"{tex}:4" in message
    assert not (tmp_path / "bad.pdf").exists()


def _build_paper(repo, tmp_path, artefacts, document_class: str):
    """paper/ms.tex built over the fake results under ``tmp_path/results`` (build files in ``build/``)."""
    results = tmp_path / "results"
    return latex.build_pdf(
        repo / "paper/ms.tex",
        tmp_path / "ms.pdf",
        search_dirs=[results, results / "tables", results / "figures"],
        artefacts=artefacts,
        build_dir=tmp_path / "build",
        document_class=document_class,
    )


@needs_latex
@pytest.mark.parametrize("document_class", ["auto", "article"])
def test_paper_builds_from_fake_results(repo, tmp_path, document_class):
    paths = make_results(tmp_path)
    results = tmp_path / "results"
    numbers = collect_numbers(paths, {"seed": 1, "images": {"source": "mock"}})
    write_numbers(numbers, results / "numbers.tex")
    write_comparison(
        numbers,
        results / "tables/table_comparison.tex",
        sweeps={"test": paths["sweep_test"], "redmapper": paths["sweep_redmapper"]},
        sweeps_tex=results / "tables/table_comparison_sweeps.tex",
    )
    artefacts = glob.glob(str(results / "figures/*")) + glob.glob(str(results / "tables/*"))
    pdf = _build_paper(repo, tmp_path, artefacts, document_class)
    assert pdf.stat().st_size > 10_000
    log = (tmp_path / "build/ms.log").read_text(errors="replace")
    assert "Reference `" not in log or "undefined" not in log.split("Reference `", 1)[1][:200]
    expected = "mnras" if document_class == "auto" and latex.have_class("mnras") else "article"
    assert f"{{{expected}}}" in (tmp_path / "build/docclass.tex").read_text()


@needs_latex
def test_paper_without_the_redmapper_stage_says_nothing_of_it(repo, tmp_path):
    """evaluate.redmapper.enabled: false: the rules declare no redMaPPer file and make no Table 3,
    Fig. 16 or 17, and the built paper names no redMaPPer comparison (abstract, text, tables, figures)."""
    import subprocess

    paths = make_results(tmp_path)
    results = tmp_path / "results"
    inputs = {k: v for k, v in paths.items() if k not in ("sweep_redmapper", "redmapper_summary", "redmapper_labels")}
    numbers = collect_numbers(inputs, {"seed": 1, "images": {"source": "mock"}})
    write_numbers(numbers, results / "numbers.tex")
    write_comparison(
        numbers,
        results / "tables/table_comparison.tex",
        sweeps={"test": paths["sweep_test"]},
        sweeps_tex=results / "tables/table_comparison_sweeps.tex",
        redmapper=False,
    )
    stage = ("fig16", "fig17", "table3")
    artefacts = [
        p
        for p in glob.glob(str(results / "figures/*")) + glob.glob(str(results / "tables/*"))
        if not p.rsplit("/", 1)[1].startswith(stage)
    ]
    assert not set(latex.artefact_map(artefacts)) & set(stage)
    pdf = _build_paper(repo, tmp_path, artefacts, "article")
    text = subprocess.run(["pdftotext", "-raw", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    text = " ".join(text.split())
    assert "Chan & Stott" in text and "Table 2" in text
    claims = ("redMaPPer clusters it has never seen", "Comparison to redMaPPer", "redMaPPer set", "Tables 2 and 3")
    for claim in (*claims, "(paper Fig. 16)", "(paper Fig. 17)", "(paper Table 3)"):
        assert claim not in text, claim
