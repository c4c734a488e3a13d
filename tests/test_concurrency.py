"""Work done aside in a forked process: values, errors, a dying process, no fork."""

from __future__ import annotations

import os
import threading

import pytest

from modelmedic.concurrency import Aside, can_fork
from modelmedic.errors import DataError

PARENT = os.getpid()

needs_fork = pytest.mark.skipif(not can_fork(), reason="this platform cannot fork")


def where(x: int) -> tuple[int, int]:
    return os.getpid(), x * 2


def refuse(message: str) -> None:
    raise DataError(message)


def die_in_a_child(x: int) -> tuple[int, int]:
    if os.getpid() != PARENT:
        os._exit(9)  # killed before answering, e.g. by the OOM killer
    return where(x)


def unpicklable() -> threading.Lock:
    return threading.Lock()


@needs_fork
def test_work_runs_in_another_process_and_returns_its_value() -> None:
    with Aside(where, 21) as job:
        assert job.in_background
        pid, value = job.result()
    assert value == 42
    assert pid != os.getpid()
    assert job.seconds > 0


def test_without_background_the_work_runs_here() -> None:
    with Aside(where, 5, background=False) as job:
        assert not job.in_background
        assert job.result() == (os.getpid(), 10)


@needs_fork
def test_errors_come_back_as_they_were_raised() -> None:
    with Aside(refuse, "no rows in window 3") as job, pytest.raises(DataError, match="no rows in window 3"):
        job.result()


@needs_fork
def test_a_process_that_dies_is_replaced_by_doing_the_work_here() -> None:
    with Aside(die_in_a_child, 4) as job:
        assert job.result() == (os.getpid(), 8)


@needs_fork
def test_a_value_that_cannot_travel_back_is_a_clear_error() -> None:
    with Aside(unpicklable) as job, pytest.raises(RuntimeError, match="pickle"):
        job.result()
