"""Polling for the tests that wait on threads, processes and brokers (no program imports).

:func:`wait_until` is the one way a test waits for something another thread or process
will make true: it fails the test with a message naming what it waited for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(predicate: Callable[[], Any], timeout_s: float, what: str, step_s: float = 0.02) -> Any:
    """Poll ``predicate`` every ``step_s`` seconds until it is truthy and return its value;
    fail the test (AssertionError naming ``what``) after ``timeout_s`` seconds."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(step_s)
