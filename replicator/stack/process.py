"""Processes of the local stack: start detached with a log file, track by pid, stop exactly them."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from replicator.errors import StackError


def tail(path: Path, lines: int = 20) -> list[str]:
    """The last lines of a log file (empty when it does not exist)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return []
    return text.splitlines()[-lines:]


def pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def peak_rss_mb(pid: int) -> float:
    """A process's peak resident set (VmHWM), MiB; 0 if it is gone. Unlike ``ru_maxrss``, which keeps
    the high-water mark across ``execve`` (a process forked from a large parent inherits its size),
    VmHWM belongs to the process's own memory map."""
    try:
        for line in (Path("/proc") / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    log_path: Path,
    pid_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start a detached process (own session) whose output goes to ``log_path``; record its pid."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        try:
            process = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            raise StackError(name, f"cannot run {argv[0]!r}: {exc.strerror}", hint="install it") from None
    pid_file.write_text(f"{process.pid}\n")
    return process.pid


def stop_pid(pid: int, *, timeout: float = 30.0) -> None:
    """SIGTERM the process group, wait, then SIGKILL what is left."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                _reap(pid)
                return
            time.sleep(0.1)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def wait_until(
    component: str,
    check: Callable[[], bool],
    *,
    timeout: float,
    log_path: Path,
    alive: Callable[[], bool] | None = None,
    what: str = "become healthy",
) -> None:
    """Poll ``check`` until it holds; fail with the log tail on timeout or when the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if alive is not None and not alive():
            raise StackError(
                component, f"exited before it could {what}", log_path=str(log_path), log_tail=tail(log_path)
            )
        time.sleep(0.25)
    raise StackError(
        component,
        f"did not {what} within {timeout:.0f}s",
        hint="read the log below; raise REPLICATOR_STACK__START_TIMEOUT_S on a slow machine",
        log_path=str(log_path),
        log_tail=tail(log_path),
    )


def run(
    component: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 600
) -> str:
    """Run a command to completion; a failure raises StackError with its output's last lines."""
    try:
        result = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            env=dict(env) if env is not None else None,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise StackError(component, f"{argv[0]!r} is not installed", hint=f"install {argv[0]}") from None
    if result.returncode != 0:
        output = (result.stdout + result.stderr).splitlines()
        raise StackError(
            component, f"{' '.join(argv[:3])} … exited with {result.returncode}", log_tail=output[-20:]
        )
    return result.stdout
