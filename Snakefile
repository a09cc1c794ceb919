# Deep-CEE: re-derive "A Deep Learning Search for Galaxy Clusters" (Chan & Stott 2019).
#
#   snakemake --cores all                          # offline default (config.yaml)
#   snakemake --cores all --configfile configs/paper.yaml   # the paper: VizieR, SkyView, GPU
#
# Nothing passes between stages except files under results/ (docs/design.md §1).

import os
import sys
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")


# The library lives in src/: make it importable here, in every job's script (also in
# --sdm conda envs and on cluster nodes, which inherit the environment).
_SRC = str(Path(workflow.basedir) / "src")
sys.path.insert(0, _SRC)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_SRC, os.environ.get("PYTHONPATH", "")) if p)
# Jobs find the tools of the Python that runs Snakemake (jupyter for the `notebook:`
# rule) even when the venv was not activated (`.venv/bin/snakemake ...`).
os.environ["PATH"] = os.pathsep.join((str(Path(sys.executable).parent), os.environ.get("PATH", "")))

from deepcee.core.config import interpreter_path_error, read_config_file  # noqa: E402
from deepcee.core.errors import DeepCeeError  # noqa: E402

# Snakemake starts every script job as `<python> <script>` without quoting the interpreter: from a
# virtual environment on a path with a space each job would fail, after others had run.
if interpreter_path_error(sys.executable):
    sys.exit(f"ERROR: {interpreter_path_error(sys.executable)}")

# Snakemake reads each --configfile before this file runs (its message for a broken one names
# neither file nor line); config.yaml it reads at the directive below, so we read it first.
if Path("config.yaml").exists():
    try:
        read_config_file("config.yaml")
    except DeepCeeError as err:
        sys.exit(f"ERROR: {err}")


configfile: "config.yaml"


# Both are set just above; declaring them makes executors that start jobs on other machines
# (Slurm, cloud) pass them on to every job.
envvars:
    "PYTHONPATH",
    "PATH",


from deepcee.core.config import check_workflow_config  # noqa: E402

_config_files = [f for f in ["config.yaml"] if Path(f).exists()]
_config_files += [str(f) for f in (workflow.overwrite_configfiles or [])]
try:
    # Our own check first: it names the key at fault, and the file holding it, in one line;
    # cross-key rules too. (CUDA is checked later, by local_cuda_check: while the Snakefile is
    # parsed Snakemake does not yet say whether jobs run on this machine or on a cluster node.)
    check_workflow_config(
        config,
        Path(workflow.basedir) / "schemas" / "config.schema.yaml",
        _config_files,
        command_line=workflow.config_settings.config,
    )
except DeepCeeError as err:
    sys.exit(f"ERROR: {err}")
# Snakemake's own validation fills the schema defaults: the whole tree checked (absent sections
# default to {}), then each section against its own schema, because jsonschema validates a $ref'd
# file that names its "$schema" with the plain validator, which sets no defaults.
validate(config, "schemas/config.schema.yaml")
for _section in ("catalogue", "images", "train", "evaluate", "search", "redshift", "paper"):
    validate(config[_section], f"schemas/{_section}.schema.yaml")


# The results layout, the config sections and the helpers the rule files share.
include: "rules/common.smk"
include: "rules/catalogue.smk"
include: "rules/images.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/redmapper.smk"


# The real-sky test re-renders mock test views: a survey's images (skyview) are real already.
if REALSKY_ENABLED:

    include: "rules/real_sky.smk"


include: "rules/search.smk"
include: "rules/redshift.smk"
include: "rules/paper.smk"


rule all:
    default_target: True
    input:
        FINAL_TARGETS,


# `snakemake --report` before a run: one line saying to run the workflow first (deepcee.core.report).
from deepcee.core.report import report_before_run  # noqa: E402

_no_report = report_before_run(sys.argv[1:], workflow.rules, FINAL_TARGETS) if workflow.is_main_process else None
if _no_report:
    sys.exit(f"ERROR: {_no_report}")
