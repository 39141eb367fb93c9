"""The signed 换班记录表: a photo or PDF scan of the paper swap record, kept with the approved swap.

The seed's rule: a swap happens only through a signed 换班记录表. The approved swap (the `swaps`
row SWAP-UNAPPROVED reads) is the record; the scan is its evidence, stored in the hub store with
its sha256 so a lead or manager can later show the very paper that was signed. An upload is
checked by what it is (its magic bytes), not by its name or claimed type, and by size.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from hub.errors import FormError

MAX_BYTES = 10 * 1024 * 1024  # a phone photo or a scanned page; anything larger is not a form
KINDS = (  # (media type, extension, magic bytes at offset, offset)
    ("application/pdf", "pdf", b"%PDF-", 0),
    ("image/jpeg", "jpg", b"\xff\xd8\xff", 0),
    ("image/png", "png", b"\x89PNG\r\n\x1a\n", 0),
    ("image/webp", "webp", b"WEBP", 8),
    ("image/heic", "heic", b"ftypheic", 4),
)


@dataclass(frozen=True)
class SignedForm:
    media_type: str
    extension: str
    sha256: str
    data: bytes


def check_form(data: bytes) -> SignedForm:
    """The upload as a SignedForm, or FormError naming what is wrong with it."""
    if not data:
        raise FormError("the file is empty")
    if len(data) > MAX_BYTES:
        raise FormError(f"{len(data)} bytes is more than {MAX_BYTES // (1024 * 1024)} MiB")
    for media_type, ext, magic, at in KINDS:
        if data[at:at + len(magic)] == magic and (media_type != "image/webp" or data[:4] == b"RIFF"):
            return SignedForm(media_type, ext, hashlib.sha256(data).hexdigest(), data)
    raise FormError("not a PDF, JPEG, PNG, WebP or HEIC file (checked by its content, not its name)")
