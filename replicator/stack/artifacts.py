"""Pinned Maven Central artifacts: resolved by Maven (cached in ~/.m2), copied into the state dir."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from replicator.stack.installs import maven
from replicator.stack.process import run

MARKER = ".resolved-from"


def _pom_digest(pom: Path) -> str:
    return hashlib.sha256(pom.read_bytes()).hexdigest()


def ensure_copied(component: str, pom: Path, target: Path, *, exclude_groups: tuple[str, ...] = ()) -> bool:
    """Copy every runtime jar of ``pom`` into ``target`` unless that pom was already copied there.

    Returns True when Maven had to run. A changed pom (new pinned version) replaces the folder.
    """
    digest = _pom_digest(pom)
    marker = target / MARKER
    if marker.exists() and marker.read_text().strip() == digest:
        return False
    if target.exists():
        shutil.rmtree(target)
    staging = target.with_name(target.name + ".partial")
    if staging.exists():
        shutil.rmtree(staging)
    argv = [
        maven(),
        "-B",
        "-q",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={staging}",
        "-DincludeScope=runtime",
    ]
    if exclude_groups:
        argv.append(f"-DexcludeGroupIds={','.join(exclude_groups)}")
    run(component, argv, timeout=1200)
    (staging / MARKER).write_text(digest + "\n")
    staging.rename(target)
    return True
