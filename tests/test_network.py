"""The one retry loop every download uses (VizieR, SkyView, hips2fits, SDSS spectra)."""

from __future__ import annotations

import pytest

from deepcee.core.errors import DeepCeeError
from deepcee.core.network import RetriesExhausted, with_retries


def test_retries_with_exponential_backoff_then_answers():
    calls, waits = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("reset by peer")
        return "answer"

    assert with_retries(flaky, retries=4, backoff_s=2.0, sleep=waits.append) == "answer"
    assert len(calls) == 3 and waits == [2.0, 4.0]


def test_gives_up_naming_the_last_error():
    waits = []
    with pytest.raises(RetriesExhausted) as err:
        with_retries(lambda: (_ for _ in ()).throw(TimeoutError("read timed out\nmore")), 3, 1.0, waits.append)
    assert err.value.tries == 3 and err.value.summary == "TimeoutError: read timed out"
    assert waits == [1.0, 2.0]  # no wait after the last try


def test_bad_input_is_not_retried():
    calls = []

    def bad():
        calls.append(1)
        raise DeepCeeError("the service answered with no table")

    with pytest.raises(DeepCeeError):
        with_retries(bad, retries=5, backoff_s=1.0, sleep=lambda s: None)
    assert calls == [1]
