"""Bad input refused before the first job, and hand-damaged image folders rerun (docs/reliability.md "Bad
input, kills and reruns"): broken config files, CUDA asked for on a machine without it, the
image folders' seals. Snakemake runs as a subprocess in a copy of the workflow."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from deepcee.core.errors import DeepCeeError
from snakemake_run import run_snakemake

_snakemake = run_snakemake


@pytest.fixture
def work(repo, tmp_path) -> Path:
    from deepcee.bench.workflow import copy_workflow

    return copy_workflow(repo, tmp_path / "workflow")


# ------------------------------------------------------------------------- broken config files

BROKEN = {
    "empty": ("", "Config file must be given as JSON or YAML with keys at top level.", ": the config file is empty"),
    "syntax": (
        "train:\n  steps: [1,\n  batch_size: 2\n",
        "Config file is not valid JSON or YAML.",
        r":\d+: not valid YAML \(",
    ),
    "list": (
        "- train\n- images\n",
        "Config file must be given as JSON or YAML with keys at top level.",
        ":1: a config file must be a mapping of keys, not a list",
    ),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_configfile_stops_snakemake_and_our_check_names_the_line(work, kind):
    """Snakemake reads --configfile before the Snakefile runs: its own message, exit 1, no job.
    `python -m deepcee.core.config FILE` (which docs/reliability.md points to) names the file and line."""
    import re

    text, snakemake_says, we_say = BROKEN[kind]
    bad = work / f"{kind}.yaml"
    bad.write_text(text)
    result = _snakemake(work, "-n", "--configfile", bad.name)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert snakemake_says in out and "Building DAG" not in out
    assert "Traceback" not in out

    ours = subprocess.run(
        [sys.executable, "-m", "deepcee.core.config", bad.name], cwd=work, capture_output=True, text=True
    )
    assert ours.returncode == 1
    assert re.fullmatch(rf"ERROR: {kind}\.yaml{we_say}.*\n", ours.stderr), ours.stderr


def test_front_page_and_reliability_page_point_a_broken_configfile_to_our_check(repo):
    """Snakemake's own message for a broken --configfile names no file or line, and no code of ours
    runs before it: the README and docs/reliability.md say which command does name them."""
    for page in ("README.md", "docs/reliability.md"):
        assert "python -m deepcee.core.config FILE" in (repo / page).read_text(), page


def test_broken_workflow_config_named_with_its_line(work):
    """config.yaml itself Snakemake reads at the Snakefile's `configfile:`: we read it first."""
    (work / "config.yaml").write_text("seed: 1\ncatalogue:\n  source: [bundled\n")
    result = _snakemake(work, "-n")
    errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("ERROR:")]
    assert result.returncode != 0
    assert len(errors) == 1 and errors[0].startswith("ERROR: config.yaml:4: not valid YAML ("), errors


# ------------------------------------------------------------------------- the report before a run


def test_report_before_any_run_says_to_run_the_workflow_first(work):
    """`snakemake --report` in a fresh checkout: one line saying to run the workflow first (was
    Snakemake's "File … marked for report but does not exist"), and no report written."""
    result = _snakemake(work, "--report", "results/report.html")
    out = result.stdout + result.stderr
    errors = [line for line in out.splitlines() if line.startswith("ERROR:")]
    assert result.returncode != 0 and "marked for report but does not exist" not in out, out[-2000:]
    assert len(errors) == 1 and errors[0].startswith("ERROR: snakemake --report: results/"), out[-2000:]
    assert errors[0].endswith("run the workflow first (the same command without --report), then make the report")
    assert not (work / "results" / "report.html").exists()


def test_report_check_reads_the_command_line_as_snakemake_does(tmp_path):
    """Only a report of the default target made now is checked: not a run (-n), not
    --report-after-run (made after the run), not a report of named targets; once every file a
    rule marks for the report exists, nothing is said."""
    from types import SimpleNamespace

    from snakemake.io import report

    from deepcee.core.report import report_asked, report_before_run

    assert report_asked(["--report", "results/report.html", "--configfile", "configs/ci.yaml"])
    assert report_asked(["--cores", "2", "--report"]) and report_asked(["--reporter", "html"])
    assert not report_asked(["-n", "--cores", "2"])
    assert not report_asked(["--report", "r.html", "--report-after-run", "--cores", "2"])
    assert not report_asked(["results/03_train/model.pt", "--report", "r.html"])
    figure, table = tmp_path / "fig.pdf", tmp_path / "table.csv"
    rules = [SimpleNamespace(output=[report(str(figure), category="Figures"), str(table)])]
    targets = [str(table), str(figure)]
    assert f"{figure} does not exist yet" in report_before_run(["--report"], rules, targets)
    assert report_before_run(["-n"], rules, targets) is None
    figure.write_text("%PDF")  # the table is no report file: the report does not need it
    assert report_before_run(["--report"], rules, targets) is None


# ------------------------------------------------------------ results folder and bundled inputs


def test_results_dir_at_the_root_stops_the_dry_run(work):
    """`--config results_dir=/` would write /01_catalogue and /logs (the layout strips the slash):
    one line naming --config and the key while the Snakefile is parsed, before any job."""
    result = _snakemake(work, "-n", "--config", "results_dir=/")
    out = result.stdout + result.stderr
    errors = [line for line in out.splitlines() if line.startswith("ERROR:")]
    assert result.returncode != 0 and "Building DAG" not in out
    assert len(errors) == 1 and errors[0].startswith(
        "ERROR: --config: config key 'results_dir' ('/') is the filesystem root; a results folder must be"
    ), out[-2000:]


@pytest.mark.parametrize(
    "override, message",
    [
        (  # was a MissingOutputException blaming filesystem latency, after the catalogue job
            "catalogue: {max_clusters: 1}\nimages: {shards: 2}\n",
            "config key 'catalogue.max_clusters' (1) is below 'images.shards' (2)",
        ),
        (  # passed the dry run; the real-fields job then refused it
            "images: {pixel_scale_arcsec: 6.0}\n",
            "config key 'images.pixel_scale_arcsec' (6.0) is not a whole multiple of SDSS's 0.396\" pixel",
        ),
    ],
)
def test_too_few_clusters_or_an_unbinnable_scale_stops_the_dry_run(work, override, message):
    (work / "small.yaml").write_text(override)
    result = _snakemake(work, "-n", "--configfile", "small.yaml")
    out = result.stdout + result.stderr
    errors = [line for line in out.splitlines() if line.startswith("ERROR:")]
    assert result.returncode != 0 and "Building DAG" not in out
    assert len(errors) == 1 and errors[0].startswith(f"ERROR: {work / 'small.yaml'}: {message}"), out[-2000:]


@pytest.mark.parametrize("case", ["missing", "two bands", "two runs"])
def test_real_field_folder_short_of_a_band_or_of_two_runs_stops_the_dry_run(work, case):
    """evaluate.real_sky.blank_frames naming a missing folder, one with only g and r, or g and r of
    run 1035 with i of run 1992 (was `ValueError: cannot convert float NaN to integer` in the job):
    one line naming the folder and the band or the runs while the DAG is built, before any job."""
    run1035 = work / "resources/sdss-frames-run1035-camcol6-field17-gri"
    run1992 = work / "resources/sdss-frames-run1992-camcol1-field87-gri"
    folder = work / "my-field"
    if case != "missing":
        folder.mkdir()
        for frame in list(run1035.glob("frame-[gr]-*")) + (
            list(run1992.glob("frame-i-*")) if case == "two runs" else []
        ):
            (folder / frame.name).write_bytes(frame.read_bytes())
    (work / "fields.yaml").write_text("evaluate:\n  real_sky:\n    blank_frames: [my-field]\n")
    result = _snakemake(work, "-n", "--configfile", "fields.yaml")
    out = result.stdout + result.stderr
    errors = [line for line in out.splitlines() if line.startswith("ERROR:")]
    said = {
        "missing": "ERROR: my-field: SDSS field folder not found",
        "two bands": "ERROR: my-field: no SDSS frame for band i",
        "two runs": "ERROR: real field my-field: its g, r and i frames are not of one SDSS field "
        "(g: run 1035 camcol 6, r: run 1035 camcol 6, i: run 1992 camcol 1)",
    }[case]
    assert result.returncode != 0 and "Traceback" not in out and "Job stats" not in out, out[-2000:]
    assert len(errors) == 1 and errors[0].startswith(said), out[-2000:]


def test_make_install_refuses_a_venv_of_another_checkout(repo, tmp_path):
    """`make ... VENV=<another clone's venv>` would reinstall into it and re-point its editable deepcee
    install: the install recipe first runs tools/check_venv.py, which refuses it naming both checkouts
    (a fake venv here: nothing is installed). This checkout's own venv, or a new folder, passes."""
    import json
    import shutil

    if shutil.which("make") is None:
        pytest.skip("make not installed")
    other = tmp_path / "other-clone"
    venv = other / ".venv"
    record = venv / "lib/python3.11/site-packages/deepcee-0.1.0.dist-info/direct_url.json"
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"dir_info": {"editable": True}, "url": other.as_uri()}))
    # Under `make test` the outer make's MAKEFLAGS/MAKELEVEL would add "Entering directory" lines: drop them.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    plan = subprocess.run(
        ["make", "--no-print-directory", "-n", "install", f"VENV={venv}", "PYTHON=python3"],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
    )
    assert plan.stdout.splitlines()[:2] == [f"python3 tools/check_venv.py {venv}", f"python3 -m venv {venv}"]

    def check(folder):
        return subprocess.run(
            [sys.executable, "tools/check_venv.py", str(folder)], cwd=repo, capture_output=True, text=True
        )

    refused = check(venv)
    assert refused.returncode == 1 and refused.stderr.splitlines() == [
        f"ERROR: VENV={venv} holds the editable deepcee install of another checkout ({other.resolve()}), not of "
        f"this one ({repo.resolve()}): installing here would re-point it; use a venv of this checkout's own "
        "(the default VENV=.venv) or remove that one first"
    ]
    record.write_text(json.dumps({"dir_info": {"editable": True}, "url": repo.as_uri()}))
    assert check(venv).returncode == 0 and check(tmp_path / "new-venv").returncode == 0


def test_cut_bundled_catalogue_stops_the_dry_run(work):
    """A bundled Abell file cut to 20 kB (which would parse into a sample of 72 clusters, not 412):
    one line naming the file, its size and the recorded one while the DAG is built, before any job."""
    abell = "resources/abell-aco-vii110a/abell_north.tsv"
    (work / abell).write_bytes((work / abell).read_bytes()[:20_000])
    result = _snakemake(work, "-n", "results/01_catalogue/sample.ecsv")
    out = result.stdout + result.stderr
    errors = [line for line in out.splitlines() if line.startswith("ERROR:")]
    assert result.returncode != 0 and "Job stats" not in out
    assert errors == [
        f"ERROR: {abell}: bundled file damaged or replaced: it has 20,000 bytes, not the 72,085 that "
        f"resources/abell-aco-vii110a/PROVENANCE.md records; restore it from git (git checkout -- {abell})"
    ], out[-2000:]


# ------------------------------------------------------------------------- CUDA without CUDA


def _no_cuda():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the check passes here")


def test_cuda_without_cuda_stops_the_local_dry_run(work):
    """`train.device: cuda` where the jobs would run here, with no CUDA: one line naming the file
    and key while the DAG is built (also for `-n`), before any job."""
    _no_cuda()
    gpu = work / "gpu.yaml"
    gpu.write_text("train:\n  device: cuda\n")
    result = _snakemake(work, "results/03_train/model.pt", "-n", "--configfile", gpu.name)
    out = result.stdout + result.stderr
    errors = [line for line in out.splitlines() if line.startswith("ERROR:")]
    assert result.returncode != 0
    assert errors == [
        f"ERROR: {gpu}: config key 'train.device' is 'cuda' but this machine has no usable CUDA and the jobs "
        "run here; use 'auto' or 'cpu'"
    ]
    assert "Job stats" not in out  # stopped while the DAG was built

    # the same key set on the command line is blamed on --config; the predict device too
    result = _snakemake(
        work, "results/04_evaluate/predictions_test.ecsv", "-n", "--config", "train={predict: {device: cuda}}"
    )
    errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("ERROR:")]
    assert errors and errors[0].startswith("ERROR: --config: config key 'train.predict.device' is 'cuda'"), errors


def test_cuda_on_a_cluster_executor_is_not_checked_here(work):
    """With a cluster executor the jobs run on GPU nodes: the login node's lack of CUDA is fine."""
    _no_cuda()
    gpu = work / "gpu.yaml"
    gpu.write_text("train:\n  device: cuda\n")
    result = _snakemake(
        work, "results/03_train/model.pt", "-n", "--executor", "slurm", "--jobs", "1", "--configfile", gpu.name
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    assert "ERROR:" not in out and "train_detector" in out


def test_no_torch_import_while_parsing_without_cuda():
    """cuda_requested answers without torch, so the Snakefile imports torch only for "cuda"."""
    code = (
        "import sys; from deepcee.core.config import cuda_requested; "
        "print(cuda_requested({'train': {'device': 'auto', 'predict': {'device': 'cpu'}}, "
        "'search': {'enabled': True, 'device': 'auto'}}), 'torch' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == "[] False"


# ------------------------------------------------------------------------- image folder seals


def test_seal_marker_intact_damaged_repaired(tmp_path):
    """Intact → the recorded value (no rerun); damaged → another one (rerun); after the repairing
    run recorded that other value, intact → it again (no second rerun)."""
    import json

    from deepcee.core.integrity import FIRST_MARKER, damaged_files, seal_directory, seal_marker

    folder = tmp_path / "png"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        (folder / name).write_bytes(name.encode() * 10)
    (folder / ".snakemake_timestamp").touch()  # Snakemake's, never sealed
    manifest = tmp_path / "png_0.json"
    manifest.write_text(json.dumps({"seal": seal_directory(folder)}))
    seal = json.loads(manifest.read_text())["seal"]
    assert sorted(seal) == ["a.png", "b.png"]

    assert seal_marker(manifest, folder, None) == FIRST_MARKER  # first run recorded this
    assert seal_marker(manifest, folder, "seal-3") == "seal-3"
    assert seal_marker(tmp_path / "absent.json", folder, "seal-3") == "seal-3"  # nothing to check yet

    (folder / "a.png").unlink()
    assert damaged_files(folder, seal) == ["a.png"]
    assert seal_marker(manifest, folder, "seal-3") == "seal-4"
    (folder / "a.png").write_bytes(b"a.png" * 10)  # the repairing run writes it again
    manifest.write_text(json.dumps({"seal": seal_directory(folder)}))
    assert seal_marker(manifest, folder, "seal-4") == "seal-4"

    # same size, other bytes (an edit) and an extra file are both damage
    before = json.loads(manifest.read_text())["seal"]
    (folder / "b.png").write_bytes(b"B.png" * 10)
    (folder / "c.png").write_bytes(b"c")
    assert damaged_files(folder, before) == ["b.png", "c.png"]
    # a copy that moved only the mtime is intact (the sha256 decides)
    (folder / "c.png").unlink()
    (folder / "b.png").write_bytes(b"b.png" * 10)
    os.utime(folder / "b.png", ns=(1, 1))
    assert damaged_files(folder, before) == []


def test_check_local_cuda_blames_the_file(tmp_path, monkeypatch):
    import torch

    from deepcee.core.config import check_local_cuda

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    base = tmp_path / "config.yaml"
    base.write_text("search:\n  enabled: true\n  device: cpu\n")
    gpu = tmp_path / "gpu.yaml"
    gpu.write_text("search:\n  device: cuda:0\n")
    config = {
        "train": {"device": "auto", "predict": {"device": "auto"}},
        "search": {"enabled": True, "device": "cuda:0"},
    }
    with pytest.raises(DeepCeeError, match=rf"^{gpu}: config key 'search.device' is 'cuda:0' but"):
        check_local_cuda(config, [base, gpu])
    config["search"]["enabled"] = False  # no search, no search device
    check_local_cuda(config, [base, gpu])


# ------------------------------------------------------------- results always match the config


def test_changed_config_and_failed_upstream_job_never_leave_old_results_standing(work):
    """A cut that empties the selection makes select_catalogue fail, which removes sample.ecsv;
    Figure 2 (made from the old sample) still exists. Snakemake alone would call it up to date
    (it does not rebuild a missing intermediate whose consumers exist); every rule's `lineage`
    param (deepcee.core.lineage) changes with the upstream config, so it is rebuilt instead."""
    target = "results/figures/fig02_sample_properties.png"
    assert _snakemake(work, "--cores", "1", target).returncode == 0
    (work / "empty.yaml").write_text("catalogue:\n  cuts:\n    min_members: 100000\n")
    failed = _snakemake(work, "--cores", "1", target, "--configfile", "empty.yaml")
    assert failed.returncode != 0 and not (work / "results/01_catalogue/sample.ecsv").exists()
    assert (work / target).exists()  # the old figure, made from the old sample
    for config in (["--configfile", "empty.yaml"], []):  # the failed config, and the old one restored
        dry = _snakemake(work, "-n", target, *config)
        assert dry.returncode == 0, dry.stderr[-2000:]
        out = dry.stdout + dry.stderr
        assert "Nothing to be done" not in out
        assert "rule select_catalogue:" in out and "rule fig02_sample_properties:" in out, out[-3000:]


def test_every_rule_reading_results_carries_its_lineage(repo):
    """The rerun guarantee above holds only if no rule that reads a results file is left out."""
    import re

    actions = ("script:", "notebook:", "shell:", "run:")
    rules, missing = {}, []
    for path in sorted((repo / "rules").glob("*.smk")):
        for block in re.split(r"\n(?=[ \t]*(?:rule \w+:|use rule ))", path.read_text())[1:]:
            rule = re.match(r"\s*rule (\w+):", block)
            used = re.match(r"\s*use rule (\w+) as (\w+)", block)
            name = rule.group(1) if rule else used.group(2)
            rules[name] = (path.name, block, used.group(1) if used else None)
    for name, (file, block, base) in rules.items():
        stage = re.search(r"lineage=LINEAGE\[\"(\w+)\"\]", block)
        if base and not stage:  # a `use rule` inherits its base rule's params
            stage = re.search(r"lineage=LINEAGE\[\"(\w+)\"\]", rules[base][1])
            block = rules[base][1]
        runs_a_job = any(a in block for a in actions)  # not a gathering rule such as images_render
        if runs_a_job and "input:" in block and not stage:
            missing.append(f"{file}: {name}")
    assert not missing, missing
    from deepcee.core.lineage import STAGE_SECTIONS

    used = {m for _, block, _ in rules.values() for m in re.findall(r"LINEAGE\[\"(\w+)\"\]", block)}
    assert used <= set(STAGE_SECTIONS), used - set(STAGE_SECTIONS)


# ------------------------------------------------------------------ a path that holds a space


def test_python_on_a_path_with_a_space_refused_before_any_job(work, tmp_path):
    """Snakemake starts script jobs as `<python> <script>`, the interpreter unquoted: from a venv
    whose path holds a space every job would fail, after the first ones ran. Refused while
    parsing (also with -n), in one line that says what to do."""
    venv = Path(sys.prefix)
    spaced = tmp_path / "my venvs" / "deepcee"
    spaced.parent.mkdir()
    spaced.symlink_to(venv, target_is_directory=True)  # pyvenv.cfg is found through the link
    python = spaced / "bin" / Path(sys.executable).name
    result = subprocess.run(
        [str(python), "-m", "snakemake", "-n", "--cores", "1"], cwd=work, capture_output=True, text=True, timeout=300
    )
    errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("ERROR:")]
    assert result.returncode == 1 and len(errors) == 1, result.stderr[-2000:]
    assert str(python) in errors[0] and "without spaces" in errors[0]
    assert "Building DAG" not in result.stdout + result.stderr


def test_checkout_with_a_space_runs_script_jobs(repo, tmp_path):
    """The workflow's own folder may hold a space (Snakemake quotes the script's path)."""
    from deepcee.bench.workflow import copy_workflow

    work = copy_workflow(repo, tmp_path / "my projects" / "deep cee")
    result = _snakemake(work, "--cores", "1", "results/01_catalogue/summary.json")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (work / "results/01_catalogue/summary.json").exists()


# ---------------------------------------------------------------- a way out of a bad output


def test_damaged_results_file_error_names_the_command_that_rebuilds_it(work):
    """A results file damaged after its job finished (here the sample, which Figure 2 reads):
    Snakemake would fail on it at every rerun (nothing upstream of it changed). The job's one
    ERROR line names the file and the command that rebuilds it; that command works."""
    target = "results/figures/fig02_sample_properties.png"
    sample = "results/01_catalogue/sample.ecsv"
    assert _snakemake(work, "--cores", "1", target).returncode == 0
    (work / sample).write_text("# %ECSV 1.0\nnot a table\x00\n")
    failed = _snakemake(work, "--cores", "1", target)
    assert failed.returncode != 0
    log = (work / "logs/catalogue/fig02.log").read_text()
    errors = [line for line in log.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1 and sample in errors[0], log[-2000:]
    command = f"snakemake --cores all --force {sample}"
    assert command in errors[0]
    rebuilt = _snakemake(work, *command.split()[1:])
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
    assert _snakemake(work, "--cores", "1", target).returncode == 0
    assert "not a table" not in (work / sample).read_text()


# ------------------------------------------------------------ one results folder per profile


def test_two_results_folders_side_by_side(work):
    """A second profile (results_dir: results/other) runs beside the default without touching
    its files, its logs or its up-to-date state; each has its own logs."""
    figure = "figures/fig02_sample_properties.png"
    assert _snakemake(work, "--cores", "1", f"results/{figure}").returncode == 0
    sample = work / "results/01_catalogue/sample.ecsv"
    before = sample.stat().st_mtime_ns
    (work / "other.yaml").write_text("results_dir: results/other\ncatalogue:\n  cuts:\n    min_members: 40\n")
    other = _snakemake(work, "--cores", "1", f"results/other/{figure}", "--configfile", "other.yaml")
    assert other.returncode == 0, other.stderr[-3000:]
    assert (work / "results/other/01_catalogue/sample.ecsv").read_text() != sample.read_text()
    assert (work / "results/other/logs/catalogue/select.log").exists()
    assert sample.stat().st_mtime_ns == before
    again = _snakemake(work, "-n", f"results/{figure}")
    assert "Nothing to be done" in again.stdout + again.stderr


def test_rerun_reason_names_the_changed_keys(work):
    """Snakemake prints a changed param whole (the train section, a page long); the workflow
    first says which keys differ from the config that made the results (provenance.json)."""
    import json

    from deepcee.core.config import read_config_file, with_defaults

    config = read_config_file(work / "config.yaml")
    for section in ("catalogue", "images", "train", "evaluate", "search", "redshift", "paper"):
        config[section] = with_defaults(section, config.get(section))
    config["results_dir"] = "results"
    recorded = json.loads(json.dumps(config))
    recorded["train"]["steps"] = 7
    (work / "results").mkdir(exist_ok=True)
    (work / "results/provenance.json").write_text(json.dumps({"config": recorded}))
    dry = _snakemake(work, "-n", "results/01_catalogue/summary.json")
    lines = [line for line in dry.stderr.splitlines() if line.startswith("Config changed since")]
    assert lines == [
        "Config changed since results/provenance.json (the jobs these keys shape, and all downstream, rerun): "
        f"train.steps: 7 -> {config['train']['steps']}"
    ], dry.stderr[-2000:]
