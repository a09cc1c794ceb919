"""Retries for every network path (VizieR, SkyView, hips2fits, SDSS spectra).

One loop, so every download behaves alike: anything but a DeepCeeError (bad input, which
no retry mends) is retried with exponential backoff, ``backoff_s * 2**k`` between tries;
after the last try the caller turns ``RetriesExhausted`` into its own one-line error
that says how to go on offline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from deepcee.core.errors import DeepCeeError

T = TypeVar("T")


class RetriesExhausted(Exception):
    """Every try failed; ``summary`` names the last error in a few words."""

    def __init__(self, tries: int, last: Exception):
        first_line = str(last).splitlines()[0][:80] if str(last) else ""
        self.tries = tries
        self.summary = f"{type(last).__name__}: {first_line}"
        super().__init__(f"{tries} tries, last {self.summary}")


def with_retries(
    call: Callable[[], T], retries: int, backoff_s: float, sleep: Callable[[float], None] = time.sleep
) -> T:
    """``call()``, retried on network errors; raises RetriesExhausted after ``retries`` tries."""
    last: Exception | None = None
    for attempt in range(retries):
        try:
            return call()
        except DeepCeeError:
            raise
        except Exception as err:  # network and service errors come in many types
            last = err
            if attempt + 1 < retries:
                sleep(backoff_s * 2**attempt)
    raise RetriesExhausted(retries, last if last is not None else RuntimeError("no try made"))
