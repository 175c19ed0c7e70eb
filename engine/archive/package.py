"""An archive package on disk (GB/T 18894: the files and a manifest with their fixity): written once, checked.

A version is a folder `<case_no>/v<N>-<token>` under the archive directory with the PDF case file, a copy
of each material and `manifest.json` (every other file with its SHA-256 and size). It is written in a
hidden temporary folder and renamed into place whole, its files read-only; an existing folder is never
written into (the token keeps a folder left by an earlier database apart from a new one). Verifying
reads the manifest (its own SHA-256 is kept in the database) and every file it lists.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

MANIFEST = "manifest.json"
CASEFILE = "casefile.pdf"
MATERIALS = "materials"
READ_ONLY = 0o444
FOLDER_MODE = 0o750  # mkdtemp makes it 0o700
CHUNK = 1024 * 1024
# Problems verification reports, by file
MISSING, ALTERED, UNLISTED = "missing", "altered", "unlisted"


@dataclass(frozen=True)
class PackageFile:
    """One file of a package: its path inside the folder, its bytes, and what the manifest says of it."""

    path: str
    content: bytes
    role: str  # casefile / material
    about: Mapping[str, Any] = field(default_factory=dict)


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's content, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_of(meta: Mapping[str, Any], files: Sequence[PackageFile]) -> bytes:
    """The manifest: the version's metadata and every file with its SHA-256 and size."""
    listed = [{"path": f.path, "role": f.role, "sha256": hashlib.sha256(f.content).hexdigest(),
               "size": len(f.content), **f.about} for f in files]
    return json.dumps({**meta, "files": listed}, ensure_ascii=False, indent=2, default=str).encode()


def _inside(folder: Path, relative: str) -> Path:
    """The path of a listed file, refusing one that would leave the folder."""
    parts = PurePosixPath(relative).parts
    if not parts or PurePosixPath(relative).is_absolute() or ".." in parts:
        raise ValueError(f"not a path inside the package: {relative!r}")
    return folder.joinpath(*parts)


def write(root: Path, case_no: str, version: int, meta: Mapping[str, Any],
          files: Sequence[PackageFile]) -> tuple[str, str]:
    """Write a new version folder once; return its path relative to `root` and the manifest's SHA-256."""
    parent = _inside(root, case_no)
    parent.mkdir(parents=True, exist_ok=True)
    name = f"v{version}-{secrets.token_hex(4)}"
    final = parent / name
    manifest = manifest_of(meta, files)
    temp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{name}-"))
    try:
        for item in [*files, PackageFile(MANIFEST, manifest, "manifest")]:
            target = _inside(temp, item.path)
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("xb") as out:
                out.write(item.content)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(target, READ_ONLY)
        if final.exists():  # never written into, never replaced
            raise FileExistsError(f"档案目录已存在：{final}")
        os.chmod(temp, FOLDER_MODE)
        os.rename(temp, final)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return f"{case_no}/{name}", hashlib.sha256(manifest).hexdigest()


def read_manifest(root: Path, path: str) -> dict[str, Any]:
    """A version's manifest as written."""
    loaded: dict[str, Any] = json.loads(_inside(root, path).joinpath(MANIFEST).read_bytes())
    return loaded


def verify(root: Path, path: str, manifest_sha256: str) -> list[dict[str, str]]:
    """Check one version folder: [{file, problem}] for the manifest and every file missing, altered or
    not listed in it; [] when the version is as it was written."""
    folder = _inside(root, path)
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return [{"file": f"{path}/{MANIFEST}", "problem": MISSING}]
    problems = []
    if sha256_of(manifest) != manifest_sha256:
        problems.append({"file": f"{path}/{MANIFEST}", "problem": ALTERED})
    try:
        listed = json.loads(manifest.read_bytes())["files"]
    except (ValueError, KeyError, TypeError):
        return problems  # unreadable: reported as altered above, nothing else can be checked
    for entry in listed:
        target = _inside(folder, str(entry["path"]))
        if not target.is_file():
            problems.append({"file": f"{path}/{entry['path']}", "problem": MISSING})
        elif target.stat().st_size != entry.get("size") or sha256_of(target) != entry.get("sha256"):
            problems.append({"file": f"{path}/{entry['path']}", "problem": ALTERED})
    known = {MANIFEST, *(str(e["path"]) for e in listed)}
    for found in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = found.relative_to(folder).as_posix()
        if relative not in known:
            problems.append({"file": f"{path}/{relative}", "problem": UNLISTED})
    return problems


def file_of(root: Path, path: str, relative: str, sha256: str) -> Path | None:
    """A listed file of a version when it is there unaltered (downloads hand out nothing else), else None."""
    target = _inside(_inside(root, path), relative)
    return target if target.is_file() and sha256_of(target) == sha256 else None
