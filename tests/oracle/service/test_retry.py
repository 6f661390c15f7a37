"""Bounded retries: transient failures are retried with backoff, then given up clearly."""

from __future__ import annotations

import pytest

from oracle.service import ChainUnavailable, RetryPolicy
from oracle.service._submit import _give_up


def test_transient_errors_are_retried_until_success():
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("refused")
        return "ok"

    policy = RetryPolicy(attempts=4, backoff=0.001)
    assert policy.call(flaky, "read", (ConnectionError,), _give_up) == "ok"
    assert len(calls) == 3


def test_retries_are_bounded_and_the_error_names_the_action():
    policy = RetryPolicy(attempts=2, backoff=0.001)

    def down():
        raise ConnectionError("connection refused")

    with pytest.raises(ChainUnavailable, match=r"broadcast tx 0xab.*connection refused"):
        policy.call(down, "broadcast tx 0xab", (ConnectionError,), _give_up)


def test_other_errors_are_not_retried():
    calls = []

    def refuses():
        calls.append(1)
        raise ValueError("bad input")

    with pytest.raises(ValueError):
        RetryPolicy(attempts=5, backoff=0.001).call(refuses, "x", (ConnectionError,),
                                                    _give_up)
    assert len(calls) == 1
