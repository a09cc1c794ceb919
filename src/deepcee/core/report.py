"""``snakemake --report`` before the run it reports on: one line saying to run the workflow first.

Snakemake makes the report from a finished run's files; before one it stops on the first file a
rule marks with ``report()`` ("File … marked for report but does not exist"), which does not say
that the run has to come first. Snakemake decides to make a report only after the Snakefile has
run (no ``workflow`` attribute says so while the rules are read), so the Snakefile reads its own
command line with Snakemake's parser, and only where a report option appears on it.
"""

from __future__ import annotations

from pathlib import Path


def report_asked(argv: list[str]) -> bool:
    """Whether the command line ``argv`` (without the program) makes a report of the default
    target's files now: ``--report`` (or ``--reporter``) without ``--report-after-run`` (which
    reports after the run) and without targets (another target's report: left to Snakemake)."""
    if not any(arg.startswith("--report") for arg in argv):
        return False
    from snakemake.cli import get_argument_parser

    args, _ = get_argument_parser().parse_known_args(argv)
    return (args.report is not None or bool(args.reporter)) and not args.report_after_run and not args.targets


def report_files(rules, targets) -> list[str]:
    """The files among ``targets`` that one of ``rules`` marks with ``report()``, in the targets' order."""
    from snakemake.io import is_flagged

    flagged = {str(f) for rule in rules for f in rule.output if is_flagged(f, "report")}
    return [t for t in dict.fromkeys(map(str, targets)) if t in flagged]


def report_before_run(argv: list[str], rules, targets) -> str | None:
    """Why ``snakemake --report`` cannot make its report yet (one line), or None."""
    if not report_asked(argv):
        return None
    files = report_files(rules, targets)
    missing = [f for f in files if not Path(f).exists()]
    if not missing:
        return None
    more = f" (and {len(missing) - 1} more of the report's {len(files)} files)" if len(missing) > 1 else ""
    return (
        f"snakemake --report: {missing[0]}{more} does not exist yet; the report shows a finished run's "
        "results: run the workflow first (the same command without --report), then make the report"
    )
