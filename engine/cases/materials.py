"""Application materials (电子化归档, R-6.1.2.2): check uploads, store them by content hash, list them.

Only PDF, JPEG and PNG are accepted, recognised by their first bytes (magic numbers), not by the
name a browser sends: a program renamed to `.pdf` is refused. Files are written once under the
upload directory as `<sha256>`, so the same scan uploaded twice is stored once; each upload is
an `Attachment` row of its case.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_FILES = 10
# extension -> (content type, magic bytes the content must start with)
ALLOWED_TYPES: dict[str, tuple[str, bytes]] = {
    "pdf": ("application/pdf", b"%PDF-"),
    "jpg": ("image/jpeg", b"\xff\xd8\xff"),
    "jpeg": ("image/jpeg", b"\xff\xd8\xff"),
    "png": ("image/png", b"\x89PNG\r\n\x1a\n"),
}
ALLOWED_LABEL = "PDF、JPG、PNG"
MAX_FILENAME = 255


@dataclass(frozen=True)
class Upload:
    """A file as received: the name the client gave and its bytes (possibly cut at the size limit)."""

    filename: str
    content: bytes


@dataclass(frozen=True)
class Material:
    """An upload that passed the checks, ready to be stored."""

    filename: str
    content_type: str
    size: int
    sha256: str
    content: bytes

    def record(self) -> dict[str, Any]:
        """The attachment fields to record with the case (everything but the bytes)."""
        return {"filename": self.filename, "content_type": self.content_type, "size": self.size,
                "sha256": self.sha256}


def clean_filename(name: str) -> str:
    """Return the display name of an upload: no directories, no control characters, at most 255 characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip().lstrip(".")
    return base[-MAX_FILENAME:] or "未命名文件"


def _extension(filename: str) -> str:
    return filename.rsplit(".", 1)[-1].lower() if "." in filename else ""


def _check(upload: Upload) -> tuple[Material | None, str | None]:
    name = clean_filename(upload.filename)
    allowed = ALLOWED_TYPES.get(_extension(name))
    if allowed is None:
        return None, f"文件“{name}”的类型不允许，只接受 {ALLOWED_LABEL} 文件"
    if not upload.content:
        return None, f"文件“{name}”是空文件"
    if len(upload.content) > MAX_FILE_BYTES:
        return None, f"文件“{name}”超过 {MAX_FILE_BYTES // (1024 * 1024)} MB"
    content_type, magic = allowed
    if not upload.content.startswith(magic):
        return None, f"文件“{name}”的内容与扩展名不符，不是有效的 {ALLOWED_LABEL} 文件"
    digest = hashlib.sha256(upload.content).hexdigest()
    return Material(name, content_type, len(upload.content), digest, upload.content), None


def check(uploads: Sequence[Upload]) -> tuple[list[Material], dict[str, list[str]]]:
    """Check uploads against type, magic bytes, size and count: the materials, or {"files": refusals}."""
    if len(uploads) > MAX_FILES:
        return [], {"files": [f"最多上传 {MAX_FILES} 个文件，当前为 {len(uploads)} 个"]}
    materials: list[Material] = []
    problems: list[str] = []
    for upload in uploads:
        material, problem = _check(upload)
        if problem:
            problems.append(problem)
        elif material is not None:
            materials.append(material)
    return (materials, {"files": problems}) if problems else (materials, {})


def path_of(directory: Path, sha256: str) -> Path:
    """Where the file with this content hash is stored."""
    if len(sha256) != 64 or any(ch not in "0123456789abcdef" for ch in sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    return directory / sha256


def save_files(directory: Path, materials: Sequence[Material]) -> None:
    """Write each material's bytes under its hash (atomically; an existing file is kept)."""
    directory.mkdir(parents=True, exist_ok=True)
    for material in materials:
        target = path_of(directory, material.sha256)
        if target.exists():
            continue
        fd, temp = tempfile.mkstemp(dir=directory, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(material.content)
            os.chmod(temp, 0o640)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
