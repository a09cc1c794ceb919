"""Deep-CEE through a real Slurm: profiles/slurm with snakemake-executor-plugin-slurm.

The Slurm tests (marker ``slurm``) run only with ``DEEPCEE_SLURM=1`` — ``make test`` sets it
after ``tests/slurm/setup_slurm.sh`` has brought up a one-node cluster on this machine — and
then FAIL (not skip) if no Slurm node answers. They:

- take the session's two runs of the shrunken config (configs/ci.yaml over config.yaml) to the
  workflow's final targets (tests/conftest.py ``CiRuns``), each in its own copy of the workflow,
  side by side: one locally (``--cores 2``, the end-to-end test's) and one through ``--profile``
  = profiles/slurm plus the overrides the one-node test cluster needs (TEST_OVERRIDES in
  tests/slurm_support.py; the GPU request of the training job is kept: the test cluster has a
  fake ``gpu`` GRES), then check that every job went through Slurm (job ids from Snakemake's
  output, the plugin's per-job logs, Slurm's job-completion log and ``scontrol``) and that the
  results equal the local run's, byte for byte but for what tests/results_compare.py lists;
- scancel a running job and check that ``retries`` resubmits it and that it resumes from its
  checkpoint; interrupt Snakemake (Ctrl-C) and check that rerunning the same command finishes
  without redoing finished jobs (tests/slurm/resilience/Snakefile stands in for the training).

The profile checks at the bottom need no Slurm and always run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml

from results_compare import differences
from slurm_support import (
    LOCAL_RULES_OK,
    MARK_SLURM,
    PROFILE,
    REPO,
    RESILIENCE,
    RULE_LINE,
    SUBMITTED,
    make_test_profile,
    popen_snakemake,
    run_logged,
    slurm_job_states,
    slurm_node_up,
    snakemake_cmd,
    wait_for,
)

# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def slurm_cluster():
    why = slurm_node_up()
    if why is not None:
        if os.environ.get("DEEPCEE_SLURM") != "1":
            pytest.skip(why)
        pytest.fail(why)
    return True


@pytest.fixture(scope="module")
def workflow_runs(slurm_cluster, ci_runs, ci_second_run):
    """The session's Slurm run of configs/ci.yaml (conftest.CiRuns' second run) and its local run,
    which the end-to-end test checks; the two ran side by side."""
    assert ci_second_run["kind"] == "slurm", "DEEPCEE_SLURM=1 and a node is up, yet the second run was local"
    local = ci_runs.get("local")
    print(f"\nSlurm e2e: targets {ci_second_run['targets']}; logs {ci_second_run['log']} and {local['log']}")
    return {
        "local": local["work"],
        "slurm": ci_second_run["work"],
        "out_local": local["out"],
        "out_slurm": ci_second_run["out"],
        "targets": ci_second_run["targets"],
        "fell_back": ci_second_run["fell_back"],
    }


def _rules_run(out: str, kind: str) -> list[str]:
    """Rule names Snakemake announced as `rule X:` (kind='rule') or `localrule X:`."""
    return re.findall(rf"^\s*{kind} (\w+):\s*$", out, re.M)


# ---------------------------------------------------------------------------- Slurm tests


@MARK_SLURM
@pytest.mark.timeout(3600)
def test_jobs_went_through_slurm(workflow_runs):
    out = workflow_runs["out_slurm"]
    slurm = workflow_runs["slurm"]
    submitted = SUBMITTED.findall(out)
    assert submitted, f"no job was submitted to Slurm:\n{out[-3000:]}"
    jobids = [jid for _, jid, _ in submitted]
    # 1. each job id has the plugin's per-job log (kept: --slurm-keep-successful-logs)
    for _, jid, logpath in submitted:
        assert Path(logpath).is_file(), f"no Slurm log {logpath} for job {jid}"
        assert Path(logpath).is_relative_to(slurm / ".snakemake" / "slurm_logs")
    # 2. Slurm itself ran each one and saw it complete
    states = slurm_job_states(jobids)
    not_done = {j: states.get(j, "unknown to Slurm") for j in jobids if states.get(j) != "COMPLETED"}
    assert not not_done, f"Slurm jobs not COMPLETED: {not_done}"
    # 3. every job ran inside a Slurm job (the Snakemake inside each job logs the rules it ran,
    #    several for a group job) except the workflow's local rules (aggregates, downloads)
    # (only Snakemake's own announcements: cut where it starts echoing a failed job's log)
    own = (
        out[: out.find("SNAKEMAKE\n=========", out.find("SNAKEMAKE\n=========") + 1)]
        if out.count("SNAKEMAKE\n=========") > 1
        else out
    )
    local_rules = set(_rules_run(own, "localrule"))
    assert local_rules <= LOCAL_RULES_OK, (
        f"jobs ran on the submit host, not through Slurm: {local_rules - LOCAL_RULES_OK}"
    )
    in_slurm = set()
    for _, _, logpath in submitted:
        in_slurm |= set(RULE_LINE.findall(Path(logpath).read_text(errors="replace")))
    ran_local_run = set(RULE_LINE.findall(workflow_runs["out_local"]))
    missing = ran_local_run - LOCAL_RULES_OK - in_slurm
    assert not missing, f"rules the local run ran that no Slurm job ran: {sorted(missing)}"
    # 4. the per-shard image jobs went as grouped Slurm jobs (groups + group-components)
    dirs = {Path(p).parent.name for _, _, p in submitted}  # rule_<name> or group_<group>_<rules>
    if "images_render_shard" in ran_local_run:
        assert any(d.startswith("group_images_") for d in dirs), f"image shards were not grouped: {sorted(dirs)}"
        assert not {"rule_images_render_shard", "rule_images_stretch_shard"} & dirs
    # 5. the training job asked Slurm for a GPU (the test node's gres gpu is a stand-in)
    train = [jid for _, jid, p in submitted if Path(p).parent.name == "rule_train_detector"]
    if "train_detector" in ran_local_run:
        assert train, "train_detector did not go through Slurm as its own job"
        show = subprocess.run(["scontrol", "show", "job", train[-1]], capture_output=True, text=True).stdout
        assert re.search(r"gres[:/]gpu[:=]1", show), f"the training job did not ask for a GPU:\n{show}"
    print(f"\n{len(jobids)} Slurm jobs, all COMPLETED, ran {len(in_slurm)} rules: {sorted(dirs)}")


@MARK_SLURM
@pytest.mark.timeout(3600)
def test_slurm_results_equal_local(workflow_runs):
    # report.html: written into the local run by the end-to-end test's `--report`, not by the run;
    # what may differ (wall-clock keys, paths, PDF dates, ...) is listed once in results_compare.py
    diff, n = differences(workflow_runs["local"], workflow_runs["slurm"], ignore=["report.html"])
    print(f"\ncompared {n} files under results/: {len(diff)} differ")
    assert n > 250  # the whole tree (about 300 files), not a few
    assert diff == [], "Slurm results differ from the local run's:\n" + "\n".join(diff[:40])
    if workflow_runs["fell_back"]:
        warnings.warn(f"compared only the fallback targets {workflow_runs['targets']}, not `all`", stacklevel=2)


def _resilience_copy(tmp_path: Path) -> Path:
    wd = tmp_path / "wf"
    wd.mkdir()
    shutil.copy2(RESILIENCE, wd / "Snakefile")
    make_test_profile(wd)
    return wd


def _slow_jobid(wd: Path, exclude=()):
    logs = sorted((wd / ".snakemake" / "slurm_logs" / "rule_slow").glob("*.log"))
    ids = [p.stem for p in logs if p.stem not in exclude]
    return ids[-1] if ids else None


def _ckpt(wd: Path) -> int:
    try:
        return int((wd / "ckpt" / "step.txt").read_text())
    except (FileNotFoundError, ValueError):
        return 0


def _state(jobid: str) -> str:
    return slurm_job_states([jobid]).get(jobid, "")


@MARK_SLURM
@pytest.mark.timeout(600)
def test_scancel_is_retried_and_resumes(slurm_cluster, tmp_path):
    """scancel of a running job (as of the training job): `retries: 2` resubmits it, it resumes."""
    wd = _resilience_copy(tmp_path)
    cmd = snakemake_cmd("--profile", "profiles/slurm-test", "--config", "steps=50", "step_s=0.5")
    with open(tmp_path / "run.txt", "w") as log:
        proc = popen_snakemake(cmd, wd, log)
        try:
            first = wait_for(lambda: _slow_jobid(wd), 180, "the slow job's submission", proc)
            wait_for(lambda: _ckpt(wd) >= 3, 180, "the slow job's 3rd checkpoint", proc)
            subprocess.run(["scancel", first], check=True)
            rc = proc.wait(timeout=400)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                proc.wait(timeout=60)
    out = (tmp_path / "run.txt").read_text()
    assert rc == 0, f"the workflow did not recover from scancel:\n{out[-4000:]}"
    assert _state(first) == "CANCELLED", _state(first)
    starts = [line.split() for line in (wd / "history.txt").read_text().splitlines()]
    assert len(starts) == 2, starts
    (job1, step1), (job2, step2) = starts
    assert job1 == first and job2 != first and _state(job2) == "COMPLETED"
    assert step1 == "0" and int(step2) >= 3, f"the retry did not resume from the checkpoint: {starts}"
    assert (wd / "out" / "c.txt").read_text().startswith("done 50 steps")
    assert "Trying to restart job" in out or out.count("rule slow:") >= 2


@MARK_SLURM
@pytest.mark.timeout(600)
def test_interrupted_workflow_restarts(slurm_cluster, tmp_path):
    """Ctrl-C of Snakemake mid-run: its Slurm jobs are cancelled; the same command again
    (rerun-incomplete) finishes, resumes the killed job, and keeps what had finished.

    Snakemake is started with SIGINT at its default (`popen_snakemake`): a CI run from a
    background shell inherits it ignored, and Snakemake then finished the whole workflow through
    three Ctrl-Cs. Like a user, the test presses Ctrl-C again while Snakemake has not said it is
    terminating."""
    wd = _resilience_copy(tmp_path)
    cmd = snakemake_cmd("--profile", "profiles/slurm-test", "--config", "steps=80", "step_s=0.5")
    run1 = tmp_path / "run1.txt"
    with open(run1, "w") as log:
        proc = popen_snakemake(cmd, wd, log)
        try:
            first = wait_for(lambda: _slow_jobid(wd), 180, "the slow job's submission", proc)
            wait_for(lambda: _ckpt(wd) >= 3, 180, "the slow job's 3rd checkpoint", proc)
            a_stat = (wd / "out" / "a.txt").stat().st_mtime_ns
            for _ in range(3):
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=10)
                    break
                except subprocess.TimeoutExpired:
                    if "Terminating" in run1.read_text(errors="replace"):
                        break
            rc1 = proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert rc1 != 0
    wait_for(lambda: _state(first) in ("CANCELLED", "COMPLETED"), 60, f"job {first} to end")
    assert _state(first) == "CANCELLED", "Ctrl-C did not scancel the running job"
    rc2, out2 = run_logged(cmd, wd, 400, log=tmp_path / "run2.txt")
    assert rc2 == 0, out2[-4000:]
    assert (wd / "out" / "a.txt").stat().st_mtime_ns == a_stat, "a finished job was redone"
    assert "rule a:" not in out2
    starts = [line.split() for line in (wd / "history.txt").read_text().splitlines()]
    assert len(starts) == 2 and int(starts[1][1]) >= 3, starts
    assert (wd / "out" / "c.txt").exists()


# ---------------------------------------------------------------------------- no Slurm needed


def _list_rules(configfile: str | None = None) -> set[str]:
    args = ["--list-rules"] + (["--configfile", configfile] if configfile else [])
    rc, out = run_logged(snakemake_cmd(*args), REPO, 300)
    assert rc == 0, out[-3000:]
    return {line.split()[0] for line in out.splitlines() if line.strip() and not line.startswith(" ")}


def test_profile_is_a_slurm_profile():
    prof = yaml.safe_load(PROFILE.read_text())
    assert prof["executor"] == "slurm"
    assert prof["retries"] >= 1 and prof["rerun-incomplete"] is True
    for key in ("slurm_partition", "mem_mb", "runtime"):
        assert key in prof["default-resources"], key
    train = prof["set-resources"]["train_detector"]
    assert train["gpu"] == 1
    assert '# gres: "gpu:1"' in PROFILE.read_text()
    groups = prof["groups"]
    assert groups["images_render_shard"] == groups["images_stretch_shard"]
    assert prof["group-components"][groups["images_render_shard"]] > 1
    # a grouped rule is no longer a localrule: never group the downloads
    assert not {"download_vizier", "images_download_shard"} & set(groups)


def test_profile_names_only_existing_rules():
    """A renamed rule would silently lose its GPU/memory/group settings: catch it here."""
    rules = _list_rules() | _list_rules("configs/paper.yaml")
    prof = yaml.safe_load(PROFILE.read_text())
    named = set(prof.get("set-resources") or {}) | set(prof.get("set-threads") or {}) | set(prof.get("groups") or {})
    assert named <= rules, f"profiles/slurm/config.yaml names rules the workflow lacks: {sorted(named - rules)}"


_LOCALRULES_PY = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings, StorageSettings
with SnakemakeApi(OutputSettings()) as api:
    wf = api.workflow(resource_settings=ResourceSettings(), storage_settings=StorageSettings(),
                      config_settings=ConfigSettings(configfiles=[Path(sys.argv[1])]),
                      snakefile=Path("Snakefile"), workdir=Path("."))._workflow
    print("LOCALRULES=" + json.dumps({"rules": sorted(r.name for r in wf.rules),
                                       "local": sorted(wf._localrules)}))
"""


def test_downloads_are_localrules():
    """The downloads run on the login node (it has the network), never in a Slurm job.
    (A dry run cannot show this — it runs everything "locally" — so ask the parsed workflow.)"""
    rc, out = run_logged([sys.executable, "-c", _LOCALRULES_PY, "configs/paper.yaml"], REPO, 300)
    assert rc == 0, out[-3000:]
    info = json.loads(re.search(r"^LOCALRULES=(.*)$", out, re.M).group(1))
    downloads = {r for r in info["rules"] if "download" in r}
    assert {"download_vizier", "images_download_shard", "redmapper_download_shard"} <= downloads, sorted(info["rules"])
    missing = downloads - set(info["local"])
    assert not missing, (
        f"download rules that would run as Slurm jobs (no network there): {sorted(missing)}; "
        f"add `localrules: {', '.join(sorted(missing))}` to the Snakefile"
    )
