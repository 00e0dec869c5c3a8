"""The two local PostgreSQL clusters (V1 with logical decoding, V2 plain), run from Debian's binaries.

initdb and pg_ctl refuse to run as root, so as root they run as the ``postgres`` user on a data
directory that user owns.
"""

from __future__ import annotations

import os
import pwd
import shutil
from dataclasses import dataclass
from pathlib import Path

import psycopg

from replicator.errors import StackError
from replicator.settings import PostgresEndpoint
from replicator.stack.installs import postgres_bin
from replicator.stack.layout import PG_HBA, Layout, postgresql_conf
from replicator.stack.process import pid_alive, port_open, run, tail, wait_until

PG_OS_USER = "postgres"


def _as_pg_user(argv: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", PG_OS_USER, "--", *argv]
    return argv


def _chown_to_pg(path: Path) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam(PG_OS_USER)
        os.chown(path, entry.pw_uid, entry.pw_gid)


@dataclass(frozen=True, slots=True)
class PostgresCluster:
    """One cluster: ``name`` is ``v1`` or ``v2``."""

    name: str
    port: int
    logical: bool
    admin: PostgresEndpoint
    layout: Layout

    @property
    def component(self) -> str:
        return f"postgres-{self.name}"

    @property
    def data_dir(self) -> Path:
        return self.layout.pg_data(self.name)

    @property
    def log_path(self) -> Path:
        return self.layout.pg_log(self.name)

    def pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def running(self) -> bool:
        pid = self.pid()
        return pid is not None and pid_alive(pid)

    def healthy(self) -> bool:
        if not self.running():
            return False
        try:
            with psycopg.connect(self.admin.conninfo(dbname="postgres"), connect_timeout=2) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        """initdb with scram auth and the admin password; loopback-only configuration."""
        bindir = postgres_bin()
        self.layout.pg_root.mkdir(parents=True, exist_ok=True)
        _chown_to_pg(self.layout.pg_root)
        os.chmod(self.layout.pg_root, 0o700)
        if self.data_dir.exists():  # a half-made cluster from an interrupted init
            shutil.rmtree(self.data_dir)
        pwfile = self.layout.pg_root / f".{self.name}.pw"
        pwfile.write_text(self.admin.password.get_secret_value() + "\n")
        os.chmod(pwfile, 0o600)
        _chown_to_pg(pwfile)
        try:
            run(
                self.component,
                _as_pg_user(
                    [
                        str(bindir / "initdb"),
                        "-D",
                        str(self.data_dir),
                        "-U",
                        self.admin.user,
                        f"--pwfile={pwfile}",
                        "-A",
                        "scram-sha-256",
                        "-E",
                        "UTF8",
                        "--locale=C.UTF-8",
                        "--no-instructions",
                    ]
                ),
            )
        finally:
            pwfile.unlink(missing_ok=True)
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(postgresql_conf(port=self.port, logical=self.logical))
        (self.data_dir / "pg_hba.conf").write_text(PG_HBA)

    def start(self, timeout: float) -> None:
        if self.running():
            if not port_open(self.port):
                raise StackError(
                    self.component,
                    f"runs (pid {self.pid()}) but does not listen on its configured port {self.port}",
                    hint="it was started with other settings (changed ports?): "
                    "`replicator stack down`, then `up`",
                )
            return
        if port_open(self.port):
            raise StackError(
                self.component,
                f"port {self.port} is already taken by another process",
                hint=f"stop it, or choose another port with REPLICATOR_STACK__{self.name.upper()}_PORT",
            )
        if not self.initialized():
            self.init()
        bindir = postgres_bin()
        self.log_path.touch()
        _chown_to_pg(self.log_path)
        try:
            run(
                self.component,
                _as_pg_user(
                    [
                        str(bindir / "pg_ctl"),
                        "-D",
                        str(self.data_dir),
                        "-l",
                        str(self.log_path),
                        # The configured port wins over the one written at initdb (defaults move).
                        "-o",
                        f"-p {self.port}",
                        "-w",
                        "-t",
                        str(int(timeout)),
                        "start",
                    ]
                ),
                timeout=timeout + 10,
            )
        except StackError as exc:
            raise StackError(
                self.component, exc.problem, log_path=str(self.log_path), log_tail=tail(self.log_path)
            ) from None
        wait_until(
            self.component,
            self.healthy,
            timeout=timeout,
            log_path=self.log_path,
            alive=self.running,
            what="accept connections",
        )

    def stop(self, timeout: float = 60.0) -> None:
        """Fast shutdown; returns only once the postmaster process itself has exited (pg_ctl -w returns
        when postmaster.pid is gone, which is slightly earlier)."""
        pid = self.pid()
        if pid is None or not pid_alive(pid):
            return
        bindir = postgres_bin()
        run(
            self.component,
            _as_pg_user([str(bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"]),
        )
        wait_until(
            self.component,
            lambda: not pid_alive(pid),
            timeout=timeout,
            log_path=self.log_path,
            what=f"exit (pid {pid})",
        )

    def purge(self) -> None:
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)
        self.log_path.unlink(missing_ok=True)
