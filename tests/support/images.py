"""Example images as tests write them: a real PNG a browser draws, and files that only pretend to be images."""

from __future__ import annotations

import struct
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int = 4, height: int = 3, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A valid PNG of one colour (8-bit RGB, each row with filter byte 0)."""
    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(row * height))
            + _chunk(b"IEND", b""))


PNG = png()
OTHER_PNG = png(rgb=(30, 30, 200))
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(32) + b"\xff\xd9"  # JPEG markers only: checked, not drawn
FAKE_PNG = b"\x89PNG\r\n\x1a\n" + bytes(40)  # the signature without the header chunk every PNG starts with
