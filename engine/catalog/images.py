"""The catalog's example images (错误示例图片, R-6.1.3.2): a picture of a wrong submission beside a
material's 错误示例 text.

Only JPEG and PNG are taken, recognised by their first bytes (not by the name a browser sends), up to
`catalog_image_max_bytes`. They are stored once under their SHA-256 in a directory of their own, apart
from the cases' uploads, so a case file's hash never names a catalog image. A material refers to one as
`example_image: {sha256, filename, mime}`; a reference holds only when the store has that file, and its
`mime` is the stored file's type.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.bpmn.forms import add_error
from engine.cases import materials
from engine.cases.materials import Material, Upload, clean_filename

# content type -> the magic bytes its content starts with (the case materials' own table, images only)
IMAGE_TYPES: dict[str, bytes] = {content_type: magic for content_type, magic in materials.ALLOWED_TYPES.values()
                                 if content_type.startswith("image/")}
PNG_HEADER = b"\x00\x00\x00\rIHDR"  # a PNG's first chunk follows its signature; a renamed file has none
SNIFF_BYTES = 16
SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class StoredImage:
    """An example image on disk and its content type."""

    path: Path
    mime: str


def image_type(head: bytes) -> str | None:
    """The content type of an image by its first bytes (JPEG, or PNG with its header chunk), else None."""
    for content_type, magic in IMAGE_TYPES.items():
        if head.startswith(magic):
            if content_type == "image/png" and head[len(magic):len(magic) + len(PNG_HEADER)] != PNG_HEADER:
                return None
            return content_type
    return None


def reference_of(image: Material) -> dict[str, str]:
    """How a material records an example image."""
    return {"sha256": image.sha256, "filename": image.filename, "mime": image.content_type}


class ImageStore:
    """The directory of example images, each under its SHA-256."""

    def __init__(self, directory: Path, max_bytes: int):
        self.directory, self.max_bytes = directory, max_bytes

    def check(self, upload: Upload) -> tuple[Material | None, str | None]:
        """An uploaded example image ready to store, or why it is refused."""
        name = clean_filename(upload.filename)
        if not upload.content:
            return None, f"图片“{name}”是空文件"
        if len(upload.content) > self.max_bytes:
            return None, f"图片“{name}”超过 {self.max_bytes // (1024 * 1024)} MB"
        content_type = image_type(upload.content[:SNIFF_BYTES])
        if content_type is None:
            return None, f"文件“{name}”不是 JPG 或 PNG 图片（按文件内容判断，不看扩展名）"
        digest = hashlib.sha256(upload.content).hexdigest()
        return Material(name, content_type, len(upload.content), digest, upload.content), None

    def save(self, images: Sequence[Material]) -> None:
        """Write each image under its hash (an image already stored is kept)."""
        if images:
            materials.save_files(self.directory, images)

    def path_of(self, sha256: str) -> Path:
        """Where the image with this hash is stored."""
        return materials.path_of(self.directory, sha256)

    def type_of(self, sha256: str) -> str | None:
        """The content type of the stored image with this hash; None when the store has no such image."""
        try:
            with self.path_of(sha256).open("rb") as stored:
                return image_type(stored.read(SNIFF_BYTES))
        except (ValueError, OSError):
            return None


def resolve_references(found: Any, store: ImageStore, pending: Mapping[str, str]) -> dict[str, list[str]]:
    """Check the example image each of the materials `found` refers to against the store (`pending`: hash →
    type of the images about to be stored) and give it the stored file's `mime`; errors by
    materials.N.example_image. A reference that is not a mapping is the schema's to refuse."""
    errors: dict[str, list[str]] = {}
    for index, material in enumerate(found if isinstance(found, list) else []):
        reference = material.get("example_image") if isinstance(material, dict) else None
        if not isinstance(reference, dict):
            continue
        sha256, given = reference.get("sha256"), reference.get("mime")
        field = f"materials.{index}.example_image"
        if not isinstance(sha256, str) or not SHA256.fullmatch(sha256):
            add_error(errors, field, "错误示例图片应以 SHA-256（64 位十六进制）指明图片库中的图片")
            continue
        name = reference.get("filename") or sha256[:12]
        stored = pending.get(sha256) or store.type_of(sha256)
        if stored is None:
            add_error(errors, field, f"错误示例图片“{name}”不在事项清单的图片库中（SHA-256 {sha256[:12]}…）："
                                     "只能引用已在事项编辑页上传过的图片，请在编辑页重新上传")
        elif given not in (None, "", stored):
            add_error(errors, field, f"错误示例图片“{name}”的类型应为 {stored}（图片库中的文件），而不是 {given}")
        else:
            reference["mime"] = stored
    return errors
