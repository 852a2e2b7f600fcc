"""A local API that dies while starting is reported with its log tail, passwords hidden."""

from __future__ import annotations

import subprocess
import sys

import pytest

from foundation.throwaway_postgres import free_port
from foundation.uvicorn_runner import ApiStartFailed, wait_until_serving


def test_an_api_that_exits_while_starting_is_reported_with_a_redacted_log(tmp_path):
    log = tmp_path / "api.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-c",
             "print('cannot reach postgresql://app:hunter2@db:5432/app'); raise SystemExit(3)"],
            stdout=handle, stderr=subprocess.STDOUT)
    process.wait(timeout=30)
    with pytest.raises(ApiStartFailed) as failed:
        wait_until_serving(f"http://127.0.0.1:{free_port()}", 10, process=process, log_path=log)
    message = str(failed.value)
    assert "exited with code 3" in message
    assert "postgresql://app:***@db:5432/app" in message and "hunter2" not in message
