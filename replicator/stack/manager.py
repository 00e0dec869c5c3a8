"""``replicator stack up|down|status``: the whole local stack, in dependency order."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from replicator.db.bootstrap import bootstrap
from replicator.errors import StackError
from replicator.settings import STATE_DIR_ENV, Settings, load_settings
from replicator.stack import jvm, leftovers
from replicator.stack.artifacts import ensure_copied
from replicator.stack.layout import DEBEZIUM_POM, KAFKA_POM, Layout
from replicator.stack.postgres import PostgresCluster
from replicator.stack.process import pid_alive, read_pid, spawn, stop_pid

Progress = Callable[[str], None]


class Component(Protocol):
    @property
    def component(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def log_path(self) -> os.PathLike[str]: ...
    def pid(self) -> int | None: ...
    def running(self) -> bool: ...
    def healthy(self) -> bool: ...
    def stop(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ComponentStatus:
    name: str
    port: int
    pid: int | None
    running: bool
    healthy: bool
    log: str

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "port": self.port,
            "pid": self.pid,
            "running": self.running,
            "healthy": self.healthy,
            "log": self.log,
        }


def _quiet(_: str) -> None:
    return None


def ensure_secrets(settings: Settings) -> Settings:
    """Generate the stack's passwords once (``stack.env``, mode 0600) and return settings that use them.

    The endpoints in the file follow the stack's ports on every call, so that changed ports (another
    default, ``REPLICATOR_STACK__…_PORT``) never leave commands pointing at the old ones; the passwords
    are kept."""
    layout = Layout.for_state_dir(settings.state_dir)
    env_file = layout.secrets_env
    layout.state_dir.mkdir(parents=True, exist_ok=True)
    old = _read_env(env_file)
    endpoints = {
        "V1_ADMIN": (settings.stack.v1_port, "postgres"),
        "V1_REPLICATION": (settings.stack.v1_port, "debezium"),
        "V2_ADMIN": (settings.stack.v2_port, "postgres"),
        "V2_WRITER": (settings.stack.v2_port, "replicator_writer"),
    }
    admin_passwords = {
        "v1": old.get("REPLICATOR_V1_ADMIN__PASSWORD") or secrets.token_urlsafe(18),
        "v2": old.get("REPLICATOR_V2_ADMIN__PASSWORD") or secrets.token_urlsafe(18),
    }
    lines = ["# written by `replicator stack up`: local-stack endpoints and generated passwords"]
    for key, (port, user) in endpoints.items():
        password = (
            admin_passwords[key[:2].lower()]
            if user == "postgres"
            else old.get(f"REPLICATOR_{key}__PASSWORD") or secrets.token_urlsafe(18)
        )
        lines += [
            f"REPLICATOR_{key}__HOST=127.0.0.1",
            f"REPLICATOR_{key}__PORT={port}",
            f"REPLICATOR_{key}__DBNAME=brokerage",
            f"REPLICATOR_{key}__USER={user}",
            f"REPLICATOR_{key}__PASSWORD={password}",
        ]
    lines += [
        f"REPLICATOR_KAFKA_BOOTSTRAP=127.0.0.1:{settings.stack.kafka_port}",
        f"REPLICATOR_CONNECT_URL=http://127.0.0.1:{settings.stack.connect_port}",
    ]
    text = "\n".join(lines) + "\n"
    if not env_file.exists() or env_file.read_text() != text:
        staged = env_file.with_suffix(".tmp")
        staged.unlink(missing_ok=True)
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        staged.replace(env_file)
    return load_settings(settings.state_dir)


def _read_env(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#"):
            out[key] = value
    return out


@dataclass(frozen=True, slots=True)
class Stack:
    settings: Settings
    layout: Layout

    @classmethod
    def from_settings(cls, settings: Settings) -> Stack:
        return cls(settings=settings, layout=Layout.for_state_dir(settings.state_dir))

    def postgres(self) -> tuple[PostgresCluster, PostgresCluster]:
        s = self.settings
        return (
            PostgresCluster("v1", s.stack.v1_port, logical=True, admin=s.v1_admin, layout=self.layout),
            PostgresCluster("v2", s.stack.v2_port, logical=False, admin=s.v2_admin, layout=self.layout),
        )

    def components(self) -> Sequence[Component]:
        """In start order."""
        v1, v2 = self.postgres()
        return (v1, v2, jvm.broker(self.settings, self.layout), jvm.connect(self.settings, self.layout))

    def status(self) -> list[ComponentStatus]:
        statuses = [
            ComponentStatus(c.component, c.port, c.pid(), c.running(), c.healthy(), str(c.log_path))
            for c in self.components()
        ]
        base = self.settings.worker_web_port
        for worker in self.workers():
            index = int(worker.name.rsplit("-", 1)[-1])
            alive = worker.running()
            statuses.append(
                ComponentStatus(
                    worker.name, base + index - 1, worker.pid(), alive, alive, str(worker.log_path)
                )
            )
        return statuses

    def up(self, progress: Progress = _quiet) -> dict[str, float]:
        """Start what is not running; a second call finds everything healthy and does nothing."""
        timings: dict[str, float] = {}
        timeout = self.settings.stack.start_timeout_s
        started = time.monotonic()
        for directory in (self.layout.logs, self.layout.run):
            directory.mkdir(parents=True, exist_ok=True)
        progress("resolving pinned Maven artifacts (cached in ~/.m2)")
        ensure_copied("kafka", KAFKA_POM, self.layout.lib)
        ensure_copied(
            "connect",
            DEBEZIUM_POM,
            self.layout.debezium_plugin,
            exclude_groups=("org.apache.kafka", "org.slf4j"),
        )
        timings["artifacts"] = time.monotonic() - started
        self._claim_data_root(progress)
        v1, v2 = self.postgres()
        for cluster in (v1, v2):
            t0 = time.monotonic()
            progress(f"starting {cluster.component} on 127.0.0.1:{cluster.port}")
            cluster.start(timeout)
            timings[cluster.component] = time.monotonic() - t0
        t0 = time.monotonic()
        progress("bootstrapping roles, control tables and publication")
        bootstrap(self.settings)
        timings["bootstrap"] = time.monotonic() - t0
        jvm.write_configs(self.settings, self.layout)
        jvm.format_storage(self.settings, self.layout)
        for service in (jvm.broker(self.settings, self.layout), jvm.connect(self.settings, self.layout)):
            t0 = time.monotonic()
            progress(f"starting {service.component} on 127.0.0.1:{service.port}")
            service.start(timeout)
            timings[service.component] = time.monotonic() - t0
        timings["total"] = time.monotonic() - started
        return timings

    def _claim_data_root(self, progress: Progress) -> None:
        """Record this stack's state dir in its data root, and remove the roots of deleted checkouts."""
        leftovers.claim(self.layout)
        if not self.layout.pg_root_shared:
            return
        removed = [r for r in leftovers.survey(self.layout.pg_root.parent, sizes=False) if r.left_over]
        if removed:
            freed = leftovers.remove(removed)
            progress(
                f"removed the PostgreSQL data of {len(removed)} deleted checkout(s) "
                f"from {self.layout.pg_root.parent} ({freed / 1e6:,.0f} MB)"
            )

    def workers(self) -> list[WorkerProcess]:
        return [WorkerProcess(p.stem, self.layout) for p in sorted(self.layout.run.glob("worker-*.pid"))]

    def start_worker(self, index: int = 1, *, env: Mapping[str, str] | None = None) -> WorkerProcess:
        """Start worker ``index`` (its own web port: base port + index - 1) unless it runs.

        ``env`` adds settings for this worker only (e.g. another mapping or consumer group).
        """
        worker = WorkerProcess(f"worker-{index}", self.layout)
        worker.start(self.settings.state_dir, web_port=self.worker_port(index), env=env)
        return worker

    def worker_port(self, index: int) -> int:
        return self.settings.worker_web_port + index - 1

    def worker_assigned(self, index: int) -> bool:
        """Does worker ``index`` serve /ready and own partitions (running, not starting)?"""
        import httpx  # only the callers that probe a worker pay for it

        try:
            reply = httpx.get(f"http://127.0.0.1:{self.worker_port(index)}/ready", timeout=2.0)
        except httpx.HTTPError:
            return False  # not serving yet
        return int(reply.json().get("assigned_partitions") or 0) > 0

    def down(self, progress: Progress = _quiet) -> None:
        """Stop exactly the processes this stack started (workers first), in reverse order."""
        for worker in self.workers():
            if worker.running():
                progress(f"stopping {worker.name}")
            worker.stop()
        for component in reversed(self.components()):
            if component.running():
                progress(f"stopping {component.component}")
            component.stop()

    def purge(self, progress: Progress = _quiet) -> None:
        """Delete every byte of state (databases, topics, jars copied here). Only after ``down``."""
        if any(c.running() for c in self.components()) or any(w.running() for w in self.workers()):
            raise StackError(
                "stack", "refusing to purge while components run", hint="run `replicator stack down` first"
            )
        for cluster in self.postgres():
            cluster.purge()
        if self.layout.pg_root_shared and self.layout.pg_root.exists():
            shutil.rmtree(self.layout.pg_root)  # the data root of this state dir, now empty but its marker
        for path in (self.layout.kafka_data.parent, self.layout.run, self.layout.logs, self.layout.config):
            if path.exists():
                shutil.rmtree(path)
        progress(f"purged {self.layout.state_dir} (Maven artifacts kept in ~/.m2 and {self.layout.lib})")


@dataclass(frozen=True, slots=True)
class WorkerProcess:
    """A `replicator worker run` process of this stack, tracked by its pid file."""

    name: str
    layout: Layout

    @property
    def pid_file(self) -> Path:
        return self.layout.pid_file(self.name)

    @property
    def log_path(self) -> Path:
        return self.layout.log(self.name)

    def pid(self) -> int | None:
        return read_pid(self.pid_file)

    def running(self) -> bool:
        pid = self.pid()
        return pid is not None and pid_alive(pid)

    def start(self, state_dir: Path, *, web_port: int, env: Mapping[str, str] | None = None) -> None:
        if self.running():
            return
        self.layout.run.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            **(env or {}),
            STATE_DIR_ENV: str(state_dir),
            "REPLICATOR_WORKER_WEB_PORT": str(web_port),
            # Its output goes to a file: unbuffered, each line lands as it is logged (a tail shows it,
            # a crash does not take the last ones with it).
            "PYTHONUNBUFFERED": "1",
        }
        spawn(
            self.name,
            [sys.executable, "-m", "replicator", "worker", "run"],
            log_path=self.log_path,
            pid_file=self.pid_file,
            env=env,
        )

    def stop(self, *, kill: bool = False) -> None:
        pid = self.pid()
        if pid is not None and pid_alive(pid):
            if kill:
                os.killpg(pid, signal.SIGKILL)
            stop_pid(pid)
        self.pid_file.unlink(missing_ok=True)


def open_stack(progress: Progress = _quiet) -> Stack:
    """The stack of the configured state dir, with its generated secrets loaded."""
    del progress
    return Stack.from_settings(ensure_secrets(load_settings()))
