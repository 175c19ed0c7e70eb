"""The file parts of a backup: trees copied file by file with each file's SHA-256, and their check.

Uploads and catalog images are stored once under their hash and archive versions are written once into a
folder of their own, so a copy taken while the app runs is consistent file by file; files and folders
whose name starts with "." are a write in progress (a temp file, an archive version being built) and are
left out.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath

from engine.archive.package import sha256_of

__all__ = ["sha256_of", "copy_tree", "check", "inside", "is_empty", "walk"]


def walk(root: Path) -> Iterator[Path]:
    """Every finished file under `root` (sorted), skipping hidden files and folders (writes in progress)."""
    if not root.is_dir():
        return
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if not name.startswith("."):
                yield Path(folder) / name


def copy_tree(source: Path, target: Path, prefix: str) -> dict[str, str]:
    """Copy the finished files of `source` into `target` (mode and times kept); {prefix/relative path: SHA-256}
    of the copies."""
    copied = {}
    for path in walk(source):
        relative = path.relative_to(source)
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        if destination.exists():  # a read-only archive file from an earlier restore with --force
            destination.chmod(0o600)
        shutil.copy2(path, destination)
        copied[f"{prefix}/{relative.as_posix()}"] = sha256_of(destination)
    return copied


def inside(root: Path, relative: str) -> Path:
    """The path of a listed file under `root`, refusing one that would leave it (a manifest is input)."""
    parts = PurePosixPath(relative).parts
    if not parts or PurePosixPath(relative).is_absolute() or ".." in parts:
        raise ValueError(f"清单中的路径不合法：{relative!r}")
    return root.joinpath(*parts)


def check(root: Path, listed: Mapping[str, str], parts: tuple[str, ...]) -> list[str]:
    """What is wrong with the files of a backup at `root` against its manifest's list: missing, altered, or
    present under one of `parts` without being listed; [] when every file is as it was written."""
    problems = []
    for relative, expected in sorted(listed.items()):
        try:
            path = inside(root, relative)
        except ValueError as err:
            problems.append(str(err))
            continue
        if not path.is_file():
            problems.append(f"缺少文件：{relative}")
        elif sha256_of(path) != expected:
            problems.append(f"文件已被改动（SHA-256 不符）：{relative}")
    for part in parts:
        for path in walk(root / part):
            relative = path.relative_to(root).as_posix()
            if relative not in listed:
                problems.append(f"文件不在清单中：{relative}")
    return problems


def is_empty(directory: Path) -> bool:
    """True when `directory` does not exist or holds no finished file."""
    return next(walk(directory), None) is None
