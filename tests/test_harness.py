"""The test suite's own helpers (conftest.py)."""

from __future__ import annotations

import sys

import pytest

from conftest import run_child


def test_a_child_over_its_timeout_fails_the_test_with_its_stderr():
    # what pytest-timeout cannot do: the child's last words reach the report
    code = "import sys, time; print('rank 1 is stuck in all_reduce', file=sys.stderr, flush=True); time.sleep(60)"
    with pytest.raises(pytest.fail.Exception, match="(?s)ran over 1 s.*rank 1 is stuck in all_reduce"):
        run_child([sys.executable, "-c", code], timeout=1)
    assert run_child([sys.executable, "-c", "print('ok')"], timeout=60).stdout == "ok\n"
