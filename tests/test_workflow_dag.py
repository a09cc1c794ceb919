"""`snakemake -n` resolves the whole DAG to its final targets, for each shipped config."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

# Every rule a default run must schedule (the redMaPPer comparison included; the re-splits are
# off by default).
DEFAULT_RULES = {
    "images_real_fields",
    "images_realism",
    "real_sky_blank",
    "fig25_real_sky_fields",
    "select_catalogue",
    "fig02_sample_properties",
    "images_views",
    "images_render_shard",
    "images_stretch_shard",
    "images_labels",
    "images_figures",
    "images_galaxy_library",
    "train_detector",
    "predict_test",
    "training_figures",
    "fig01_architecture",
    "evaluate_test",
    "evaluate_case_studies",
    "fig07_examples",
    "fig12_precision_recall_test",
    "fig13_distances",
    "fig14_offsets_recovered",
    "fig15_properties_ks",
    "redmapper_region",
    "redmapper_views",
    "redmapper_render_shard",
    "redmapper_stretch_shard",
    "redmapper_labels_raw",
    "redmapper_labels",
    "redmapper_predict",
    "redmapper_evaluate",
    "fig16_sky_map_redmapper",
    "fig17_precision_recall_redmapper",
    "redshift_calibrate",
    "redshift_test",
    "redshift_redmapper",
    "redshift_summary",
    "redshift_figures",
    "paper_numbers",
    "paper_provenance",
    "paper_audit_notebook",
    "paper_audit_html",
    "paper_pdf",
    "all",
    "search_tiles",
    "search_inject",
    "search_shard",
    "search_catalogue",
    "real_sky_views",
    "real_sky_render_shard",
    "real_sky_stretch_shard",
    "real_sky_labels",
    "real_sky_predict",
    "real_sky_evaluate",
    "fig24_precision_recall_real_sky",
}
RESPLIT_RULES = {
    "kfold_labels",
    "cluster_split_labels",
    "resplit_train",
    "resplit_predict",
    "resplit_sweep",
    "kfold_table",
    "cluster_split_table",
}


def _scheduled_rules(repo, *extra: str) -> dict[str, int]:
    """Rule -> job count of a dry run that ignores what is already in results/ (--forceall)."""
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--forceall", "--cores", "2", "--quiet", "rules", *extra],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    stats = out[out.index("Job stats:") :]
    return {
        m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, flags=re.M) if m.group(1) != "total"
    }


def test_default_dag_resolves(repo):
    jobs = _scheduled_rules(repo)
    assert set(jobs) == DEFAULT_RULES
    assert jobs["train_detector"] == 1 and jobs["paper_pdf"] == 1
    config = yaml.safe_load((repo / "config.yaml").read_text())
    assert jobs["search_shard"] == config["search"]["shards"]
    assert jobs["real_sky_render_shard"] == config["evaluate"]["real_sky"]["shards"]
    assert jobs["images_render_shard"] == config["images"]["shards"]


def test_ci_dag_is_the_default_dag_shrunk(repo):
    jobs = _scheduled_rules(repo, "--configfile", "configs/ci.yaml")
    # k-fold and the cluster split: the paper profile's test runs them; the real-galaxy library is
    # measured at 1.584" and its stamps summed to ci's 6.336" pixels (core.sdss.library_pixel_scale)
    assert set(jobs) == DEFAULT_RULES
    assert jobs["images_render_shard"] == 2


def test_paper_profile_dag_resolves(repo):
    # as submitted to a cluster: run here, its train.device: cuda stops a machine without CUDA
    jobs = _scheduled_rules(repo, "--configfile", "configs/paper.yaml", "--executor", "slurm", "--jobs", "100")
    assert {"download_vizier", "images_download_shard", "redmapper_download_shard", "search_download_shard"} <= set(
        jobs
    )
    assert jobs["search_shard"] == 64
    assert "images_render_shard" not in jobs
    assert set(jobs) >= RESPLIT_RULES  # executed by tests/test_paper_profile.py
    assert jobs["kfold_labels"] == 5 and jobs["resplit_train"] == 6  # k = 5 folds + the cluster split


def test_paper_profile_writes_only_into_its_own_results_folder(repo):
    """results_dir: results/paper: every output and log of the paper profile lies in it, so it
    never overwrites the default's results/, logs/ or paper/ms.pdf."""
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--forceall", "--configfile", "configs/paper.yaml"]
        + ["--executor", "slurm", "--jobs", "100"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    paths = [
        p.strip()
        for line in result.stdout.splitlines()
        if line.strip().startswith(("output:", "log:"))
        for p in line.split(":", 1)[1].split(",")
    ]
    assert len(paths) > 500
    outside = sorted({p for p in paths if not p.startswith("results/paper/")})
    assert not outside, outside[:10]


@pytest.mark.parametrize("configfile", [None, "configs/paper.yaml", "configs/ci.yaml"])
def test_snakemake_lint_reports_nothing(repo, configfile):
    """Snakemake's own linter: no functions among rules, a conda env per rule, env vars declared."""
    extra = ["--configfile", configfile] if configfile else []
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--lint", *extra], cwd=repo, capture_output=True, text=True, timeout=600
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0 and "Lints for" not in out, out[-3000:]


def test_paper_resources_list_every_bundled_file(repo):
    """rules/common.smk lists resources/ (hashed into the provenance record) instead of globbing it."""
    declared = re.findall(r'^\s+"(resources/[^"]+)",$', (repo / "rules" / "common.smk").read_text(), flags=re.M)
    on_disk = sorted(str(p.relative_to(repo)) for p in (repo / "resources").rglob("*") if p.is_file())
    assert declared == on_disk


def test_images_are_tracked_outputs(repo, tmp_path):
    """Every FITS and PNG (flips included) lies in a declared directory() output of the rule that
    writes it, so Snakemake replaces them wholesale (no files left from an old config); a PNG
    deleted behind Snakemake's back reruns its shard (the seal) or, when nothing reruns it, stops
    its consumer with one line naming it (configs/ci.yaml, images stage only, in a copy of the
    workflow)."""
    from deepcee.bench.workflow import copy_workflow, workflow_env

    work = copy_workflow(repo, tmp_path / "workflow")
    images = work / "results/02_images"
    base = [
        sys.executable,
        "-m",
        "snakemake",
        "results/02_images/labels.ecsv",
        "--cores",
        "2",
        "--configfile",
        "configs/ci.yaml",
    ]

    def run(*extra, ok=True):
        result = subprocess.run(
            base + list(extra), cwd=work, env=workflow_env(), capture_output=True, text=True, timeout=900
        )
        assert (result.returncode == 0) == ok, (result.stdout + result.stderr)[-3000:]
        return result.stdout + result.stderr

    run()
    assert sorted(p.name for p in (images / "png").iterdir()) == ["0", "1"]
    assert sorted(p.name for p in (images / "fits").iterdir()) == ["0", "1"]
    assert list((images / "png_flip").glob("*_flip.png"))  # the flips are the labels rule's own output
    assert not list((images / "png").rglob("*_flip.png"))
    assert "Nothing to be done" in run("-n")
    # a rerun of the stretch shard replaces its whole folder (stale PNGs cannot survive it)
    plan = run("-n", "--forcerun", "images_stretch_shard")
    assert "images_stretch_shard" in plan and "images_labels" in plan

    png = sorted((images / "png/0").glob("*.png"))[0]
    png.unlink()
    # the folder's seal would rerun the stretch shard (tests/test_reproducible.py); without the
    # params trigger the labels rule meets the missing PNG itself
    out = run("--forcerun", "images_labels", "--rerun-triggers", "mtime", ok=False)
    errors = [line for line in out.splitlines() if line.startswith("ERROR:")]
    assert errors and errors[0].startswith(f"ERROR: results/02_images/png/0/{png.name}: PNG of view")
    assert not (images / "labels.ecsv").exists()


def _resolve_ifartefact(tex: str, present: set[str]) -> str:
    r"""What paper/ms.tex says for a run with the artefacts ``present``: each \ifartefact{key}{yes}{no}
    replaced by its branch (as LaTeX does, comments dropped first), so the text can be read without TeX."""
    tex = re.sub(r"(?<!\\)%.*", "", tex)

    def group(k: int) -> tuple[str, int]:
        while tex[k].isspace():
            k += 1
        assert tex[k] == "{", tex[k : k + 40]
        depth, start = 0, k
        while True:
            if tex[k] == "\\":
                k += 2
                continue
            depth += {"{": 1, "}": -1}.get(tex[k], 0)
            k += 1
            if depth == 0:
                return tex[start + 1 : k - 1], k

    out, i = [], 0
    for match in re.finditer(r"\\ifartefact(?=\s*\{)", tex):
        if match.start() < i:
            continue  # inside a branch already resolved
        out.append(tex[i : match.start()])
        key, k = group(match.end())
        yes, k = group(k)
        no, i = group(k)
        out.append(_resolve_ifartefact(yes if key in present else no, present))
    return "".join(out) + tex[i:]


def test_redmapper_off_drops_its_jobs_and_the_paper_says_nothing_of_it(repo, tmp_path):
    """evaluate.redmapper.enabled: false schedules no job of the comparison (nor its redshifts), and
    paper/ms.tex, read with the artefacts the dry run would make, quotes none of it: no abstract
    sentence, no section, no figure or table of it, no macro of its numbers."""
    from deepcee.bench.workflow import copy_workflow
    from deepcee.paper.latex import artefact_map
    from snakemake_run import run_snakemake

    work = copy_workflow(repo, tmp_path / "workflow")
    (work / "rm_off.yaml").write_text("evaluate:\n  redmapper:\n    enabled: false\n")
    result = run_snakemake(work, "-n", "--forceall", "--cores", "2", "--configfile", "rm_off.yaml", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = set(re.findall(r"^rule (\w+):$", result.stdout, flags=re.M))
    assert "paper_pdf" in jobs and "predict_test" in jobs
    assert jobs <= DEFAULT_RULES and DEFAULT_RULES - jobs == {r for r in DEFAULT_RULES if "redmapper" in r}
    outputs = [
        p.strip()
        for line in result.stdout.splitlines()
        if line.strip().startswith("output:")
        for p in line.split(":", 1)[1].split(",")
    ]
    present = set(artefact_map(outputs))
    assert {"fig12", "table2", "fig24"} <= present and not {"fig16", "fig17", "table3"} & present

    tex = (repo / "paper/ms.tex").read_text()
    claims = r"\\(RM[A-Z]|NRedmapper|RedmapperAreaDeg|RzRedmapper)|rm-map|pr-rm|sweep-rm|\{(fig16|fig17|table3)\}"
    assert len(re.findall(claims, _resolve_ifartefact(tex, present | {"fig16", "fig17", "table3"}))) > 20
    text = _resolve_ifartefact(tex, present)
    said = [m.group(0) for m in re.finditer(claims, text)]
    assert not said, said
    abstract = text[text.index(r"\begin{abstract}") : text.index(r"\end{abstract}")]
    conclusions = text[text.index(r"\section{Conclusions}") : text.index(r"\begin{figure")]
    assert "redmapper" not in abstract.lower() and "redmapper" not in conclusions.lower()


def test_the_real_sky_levers_feed_their_inputs_to_their_jobs(repo, tmp_path):
    """images.mock.sky_objects: real: the image stage's shards, the redMaPPer views' shards and the
    realism check take the galaxy library as an input; images.mock.negative_fraction: training
    takes the hard negatives."""
    lever = tmp_path / "levers.yaml"
    lever.write_text("images:\n  mock:\n    sky_objects: real\n    negative_fraction: 0.25\n")
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--forceall", "--cores", "2", "--configfile", str(lever)],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    inputs = {}
    for block in re.split(r"^rule ", result.stdout, flags=re.M)[1:]:
        name = block.split(":", 1)[0]
        line = next((x for x in block.splitlines() if x.strip().startswith("input:")), "")
        inputs.setdefault(name, []).append(line)
    for rule in ("images_render_shard", "redmapper_render_shard", "images_realism"):
        assert inputs[rule] and all("galaxy_library/library.ecsv" in x for x in inputs[rule]), rule
    assert "02_images/negatives.ecsv" in inputs["train_detector"][0]
