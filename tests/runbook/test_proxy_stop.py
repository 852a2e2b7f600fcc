"""``invoke proxy --stop`` stops the proxy binary that ``invoke proxy`` started (its pid file)."""

from __future__ import annotations

import subprocess
import sys

from runbook_support import config_for, run_invoke, runbook_environ

from runbook.proxy import proxy_pid_path


def _fake_proxy(tmp_path) -> subprocess.Popen:
    """A process whose command line names cloud-sql-proxy, as the real binary's does."""
    script = tmp_path / "cloud-sql-proxy"
    script.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(300)\n")
    script.chmod(0o755)
    return subprocess.Popen([str(script), "project:region:instance"], start_new_session=True)


def test_stop_ends_the_proxy_it_started_and_removes_the_pid_file(tmp_path):
    environ = runbook_environ(tmp_path)
    pid_file = proxy_pid_path(config_for(environ))
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    process = _fake_proxy(tmp_path)
    try:
        pid_file.write_text(str(process.pid))
        dry = run_invoke("proxy", "--stop", "--dry-run", environ=environ)
        assert dry.returncode == 0 and f"would stop the proxy (pid {process.pid})" in dry.stdout
        assert process.poll() is None
        done = run_invoke("proxy", "--stop", environ=environ)
        assert done.returncode == 0, done.stderr
        assert process.wait(timeout=20) is not None
        assert not pid_file.exists()
    finally:
        process.kill()


def test_stop_with_a_stale_pid_file_stops_nothing_else(tmp_path):
    environ = runbook_environ(tmp_path)
    pid_file = proxy_pid_path(config_for(environ))
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    try:
        pid_file.write_text(str(bystander.pid))
        done = run_invoke("proxy", "--stop", environ=environ)
        assert done.returncode == 0 and "no proxy started by the runbook" in done.stdout
        assert bystander.poll() is None
    finally:
        bystander.kill()
