"""Tools the local stack needs from the machine: PostgreSQL, a Java 17+ runtime, Maven.

Missing tools are installed from Debian packages when running as root; otherwise the error says
which package to install.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from replicator.errors import StackError
from replicator.stack.process import run

PG_LIB = Path("/usr/lib/postgresql")


def _apt_install(component: str, packages: list[str]) -> None:
    if os.geteuid() != 0:
        raise StackError(
            component, "is not installed", hint=f"install the Debian packages: {' '.join(packages)}"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(component, ["apt-get", "update", "-q"], env=env)
    run(component, ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages], env=env)


def postgres_bin() -> Path:
    """The newest installed PostgreSQL server's bin directory (installing PostgreSQL if none)."""

    def newest() -> Path | None:
        versions = sorted(
            (p for p in PG_LIB.glob("*/bin/initdb") if p.parent.parent.name.isdigit()),
            key=lambda p: int(p.parent.parent.name),
        )
        return versions[-1].parent if versions else None

    found = newest()
    if found is None:
        _apt_install("postgresql", ["postgresql", "postgresql-contrib"])
        found = newest()
    if found is None:
        raise StackError(
            "postgresql", f"no initdb under {PG_LIB} after installing", hint="apt install postgresql"
        )
    return found


def java() -> str:
    """A Java 17+ runtime (Debezium 3.x requires 17)."""
    path = shutil.which("java")
    if path is None:
        _apt_install("java", ["openjdk-17-jre-headless"])
        path = shutil.which("java")
    if path is None:
        raise StackError("java", "not found after installing", hint="apt install openjdk-17-jre-headless")
    out = subprocess.run([path, "-version"], capture_output=True, text=True, check=False).stderr
    match = re.search(r'version "(\d+)', out)
    if match is None or int(match.group(1)) < 17:
        raise StackError(
            "java",
            f"Java 17 or newer is required, found: {out.splitlines()[:1]}",
            hint="apt install openjdk-17-jre-headless and put it first on PATH",
        )
    return path


def maven() -> str:
    path = shutil.which("mvn")
    if path is None:
        _apt_install("maven", ["maven"])
        path = shutil.which("mvn")
    if path is None:
        raise StackError("maven", "not found after installing", hint="apt install maven")
    return path
