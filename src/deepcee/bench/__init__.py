"""Benchmarks: ``python -m deepcee.bench.<name>`` (each module's docstring says what it measures).

The argparse types below refuse a bad value in argparse's own one line (``error: argument
--steps: must be at least 1 (got 0)``) before anything is built, written or timed: a zero or
negative count otherwise ends in a traceback far from the flag, or in rows of NaN.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from pathlib import Path


def at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number no smaller than ``minimum``."""

    def whole_number(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum} (got {value})")
        return value

    return whole_number


#: A count of steps, images, threads...: 1 or more.
positive_int = at_least(1)
#: A count that may be zero (DataLoader workers, warm-up steps).
non_negative_int = at_least(0)


def positive_float(text: str) -> float:
    """An argparse type: a finite number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a number above 0 (got {text})")
    return value


def existing_file(text: str) -> str:
    """An argparse type: a file that exists (named before anything runs, not in a traceback)."""
    if not Path(text).is_file():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    return text


def existing_dir(text: str) -> str:
    """An argparse type: a folder that exists."""
    if not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text}: no such folder")
    return text


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config`` (config.yaml) and ``--configfile`` (merged over it, in order), both checked to exist."""
    parser.add_argument("--config", type=existing_file, default="config.yaml")
    parser.add_argument(
        "--configfile",
        nargs="*",
        type=existing_file,
        default=[],
        help="configs merged over --config (e.g. configs/ci.yaml)",
    )


def read_configs(parser: argparse.ArgumentParser, paths: list[str]) -> dict:
    """The config files merged in order (``deepcee.core.config.read_config_files``); one that is
    missing, empty or not YAML ends the benchmark in argparse's one line naming it (and its line)."""
    from deepcee.core.config import read_config_files
    from deepcee.core.errors import DeepCeeError

    try:
        return read_config_files(paths)
    except DeepCeeError as err:
        parser.error(str(err))


def device_name(text: str) -> str:
    """An argparse type: auto, cpu, cuda or cuda:N (torch's own error for a typo is a traceback)."""
    if not re.fullmatch(r"auto|cpu|cuda(:[0-9]+)?", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not auto, cpu, cuda or cuda:N")
    return text
