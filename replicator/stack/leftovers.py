"""PostgreSQL data that deleted checkouts left behind, and removing it.

As root, a stack's clusters live outside its state dir, in ``/var/lib/replicator/stacks/<digest of
the state dir>`` (see ``Layout``). Deleting a checkout leaves them there, and with them every
database it ever seeded: a few hundred MB per checkout. Each data root therefore records the state dir
that owns it (``Layout.owner_file``, written by ``stack up``). A root is left over when the state dir
it names no longer exists, the name still hashes to the root (a copied or hand-edited marker never
deletes someone else's data) and none of its clusters runs. Roots made before the marker existed are
listed as unclaimed and never removed: nothing says whose they are.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from replicator.stack.layout import Layout
from replicator.stack.process import pid_alive


@dataclass(frozen=True, slots=True)
class DataRoot:
    root: Path
    owner: Path | None
    """The state dir recorded in the root; None for a root made before roots recorded theirs."""
    size_bytes: int | None
    """None when surveyed without sizes (``stack up`` walks no data directory it keeps)."""
    running: bool

    @property
    def left_over(self) -> bool:
        return (
            self.owner is not None
            and not self.owner.exists()
            and not self.running
            and Layout.for_state_dir(self.owner, euid=0).pg_root.name == self.root.name
        )


def claim(layout: Layout) -> None:
    """Record ``layout``'s state dir in its data root, when that root lives outside the state dir."""
    if not layout.pg_root_shared:
        return
    layout.pg_root.mkdir(parents=True, exist_ok=True)
    text = f"{layout.state_dir}\n"
    owner = layout.owner_file
    if not owner.exists() or owner.read_text() != text:
        owner.write_text(text)


def survey(base: Path, *, sizes: bool = True) -> list[DataRoot]:
    """Every data root under ``base``, sorted by path; ``sizes`` walks each one to add up its bytes."""
    if not base.is_dir():
        return []
    return [_inspect(root, sizes=sizes) for root in sorted(base.iterdir()) if root.is_dir()]


def remove(roots: list[DataRoot]) -> int:
    """Delete the left-over roots among ``roots``; returns the bytes freed."""
    freed = 0
    for root in roots:
        if root.left_over:
            freed += root.size_bytes if root.size_bytes is not None else _size(root.root)
            shutil.rmtree(root.root, ignore_errors=True)
    return freed


def _inspect(root: Path, *, sizes: bool) -> DataRoot:
    marker = root / Layout.OWNER_FILE
    owner = Path(marker.read_text().strip()) if marker.is_file() else None
    running = any(_postmaster_alive(d) for d in root.iterdir() if d.is_dir())
    return DataRoot(root, owner, _size(root) if sizes else None, running)


def _postmaster_alive(data_dir: Path) -> bool:
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split()[0])
    except FileNotFoundError:
        return False
    except (OSError, ValueError, IndexError):
        return True  # unreadable: assume a cluster runs, keep the root
    return pid_alive(pid)


def _size(root: Path) -> int:
    total = 0
    for path in root.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink():
                total += path.stat().st_size
        except OSError:
            continue
    return total
