"""``poll_until``: the one bounded wait (tenacity underneath)."""

from __future__ import annotations

import pytest

from foundation.polling import NotYet, poll_until


def test_returns_the_first_answer_after_the_not_yets():
    answers = iter([NotYet("booting"), NotYet("still booting"), "ready"])

    def attempt() -> str:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert poll_until(attempt, timeout=10, interval=0.01) == "ready"


def test_time_up_raises_the_last_reason_seen():
    seen = []

    def attempt() -> None:
        seen.append(len(seen))
        raise NotYet(f"attempt {len(seen)}")

    with pytest.raises(NotYet) as failed:
        poll_until(attempt, timeout=0.2, interval=0.05)
    assert str(failed.value) == f"attempt {len(seen)}" and len(seen) >= 2


def test_retry_on_names_more_exceptions_and_any_other_one_ends_the_wait_at_once():
    calls = []

    def attempt() -> None:
        calls.append(1)
        raise (ConnectionError("refused") if len(calls) == 1 else KeyError("bug"))

    with pytest.raises(KeyError):
        poll_until(attempt, timeout=10, interval=0.01, retry_on=(ConnectionError,))
    assert len(calls) == 2


def test_growing_pauses_are_reported_before_each_sleep():
    pauses = []

    def attempt() -> None:
        raise NotYet("no")

    with pytest.raises(NotYet):
        poll_until(attempt, timeout=0.5, interval=0.02, max_interval=0.08,
                   before_sleep=lambda state: pauses.append(state.upcoming_sleep))
    assert pauses[:4] == [0.02, 0.04, 0.08, 0.08]
