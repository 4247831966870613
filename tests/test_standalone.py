"""The repository stands on its own: nothing in it points outside it at the protocol notes it
grew from, and a copy with nothing beside it still collects every test."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

# A path out of the repository to the notes it was built from. Test fixtures and docs/protocol.md
# hold what the project needs from there.
OUTSIDE_REFERENCE = re.compile(r"\.\./shared\b|\bshared/protocol\b")
# Generated files may quote whatever they like; they are not the project's own text.
EXEMPT_SUFFIXES = (".lock",)
THIS_FILE = Path(__file__).resolve()  # it names the pattern it looks for
GIT_TIMEOUT = 60
COLLECT_TIMEOUT = 240


def repository_files(root: Path) -> list[Path]:
    """Tracked files plus new ones not ignored: what a commit of this tree would hold."""
    if not (root / ".git").exists():
        pytest.skip(f"{root} is not a git checkout, so its tracked files are unknown")
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=True,
        timeout=GIT_TIMEOUT,
    )
    names = sorted(set(listing.stdout.decode().split("\0")) - {""})
    # A tracked file deleted in the working tree is still listed; it is not there to read or copy.
    return [root / name for name in names if (root / name).is_file() or (root / name).is_symlink()]


def outside_references(root: Path) -> list[str]:
    """`path:line` of every line in the repository's text files that points outside it."""
    found = []
    for path in repository_files(root):
        if path.is_symlink() or path.suffix in EXEMPT_SUFFIXES or path.resolve() == THIS_FILE:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # binary files cannot hold a readable reference
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if OUTSIDE_REFERENCE.search(line):
                found.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    return found


def copy_repository(root: Path, destination: Path) -> None:
    for path in repository_files(root):
        target = destination / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target, follow_symlinks=False)


def test_no_file_points_outside_the_repository() -> None:
    assert outside_references(REPO) == []


def test_outside_references_are_found_in_new_files(tmp_path: Path) -> None:
    """The check above can fail: a file not yet committed that reads the old path is caught."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True, timeout=GIT_TIMEOUT)
    # Planted paths are spelt in parts, so this file itself does not point outside the repo.
    old_path = "/".join(("..", "shared", "x.json"))
    (tmp_path / "reader.py").write_text(f'import json\nOLD = "{old_path}"\n')
    (tmp_path / "notes.md").write_text("See shared/protocol for the original.\n")
    (tmp_path / "deps.lock").write_text(f"{old_path} is fine in a generated lock file\n")

    assert outside_references(tmp_path) == [
        "notes.md:1: See shared/protocol for the original.",
        f'reader.py:2: OLD = "{old_path}"',
    ]


@pytest.mark.slow
def test_a_bare_copy_collects_every_test(tmp_path: Path) -> None:
    """What a fresh clone sees: the repository alone in a folder, no shared/ beside it."""
    copy = tmp_path / "fakecloud"
    copy_repository(REPO, copy)
    assert not (copy.parent / "shared").exists()

    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=COLLECT_TIMEOUT,
        check=False,
    )

    assert collected.returncode == 0, collected.stdout[-4000:] + collected.stderr[-4000:]
    assert re.search(r"^\d+ tests collected", collected.stdout, re.MULTILINE), collected.stdout
