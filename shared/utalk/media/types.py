"""What a file is, by its content: magic bytes (puremagic), refined where one signature covers
several formats, checked against the allowlist. A file's name and declared type decide nothing.

- ISO media (`ftyp`): the major brand tells mp4 video, m4a audio and 3gp apart (HEIC, QuickTime: no).
- Ogg: only Opus or Vorbis audio (WhatsApp voice notes are Ogg Opus), not Theora video.
- ZIP: only the three OOXML documents, told apart by the main part in `[Content_Types].xml`
  (macro-enabled documents and plain archives are refused). That entry may sit anywhere in the
  archive, so it needs a seekable reader over the whole file (`ooxml()`).
- vCard: text (UTF-8, no control bytes) that begins with `BEGIN:VCARD`; no magic number exists.
"""
from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass

import puremagic

HEAD_BYTES = 64 * 1024          # what detection reads from the start of a file


@dataclass(frozen=True)
class FileType:
    mime: str
    ext: str
    kind: str                   # image | audio | video | file (the spec's media `type`)


def _t(mime: str, ext: str, kind: str) -> FileType:
    return FileType(mime, ext, kind)


JPEG, PNG, GIF, WEBP = _t("image/jpeg", ".jpg", "image"), _t("image/png", ".png", "image"), \
    _t("image/gif", ".gif", "image"), _t("image/webp", ".webp", "image")
MP3, M4A, OGG = _t("audio/mpeg", ".mp3", "audio"), _t("audio/mp4", ".m4a", "audio"), _t("audio/ogg", ".ogg", "audio")
AMR, AAC = _t("audio/amr", ".amr", "audio"), _t("audio/aac", ".aac", "audio")
MP4, THREE_GP = _t("video/mp4", ".mp4", "video"), _t("video/3gpp", ".3gp", "video")
PDF, VCARD = _t("application/pdf", ".pdf", "file"), _t("text/vcard", ".vcf", "file")
_OOXML = "application/vnd.openxmlformats-officedocument."
DOCX = _t(_OOXML + "wordprocessingml.document", ".docx", "file")
XLSX = _t(_OOXML + "spreadsheetml.sheet", ".xlsx", "file")
PPTX = _t(_OOXML + "presentationml.presentation", ".pptx", "file")

ALLOWED: dict[str, FileType] = {t.mime: t for t in (JPEG, PNG, GIF, WEBP, MP3, M4A, OGG, AMR, AAC, MP4, THREE_GP,
                                                     PDF, VCARD, DOCX, XLSX, PPTX)}
# Names clients commonly send for an allowed type (a signed upload's declared type).
ALIASES = {"image/jpg": JPEG, "image/pjpeg": JPEG, "audio/mp3": MP3, "audio/x-m4a": M4A, "audio/m4a": M4A,
           "audio/opus": OGG, "audio/x-aac": AAC, "text/x-vcard": VCARD, "text/directory": VCARD}

ZIP = object()                  # `sniff()`'s answer for an archive: `ooxml()` must look inside

# puremagic's extensions -> our type; families refined by their own headers below.
_BY_EXT = {".jpg": JPEG, ".jpeg": JPEG, ".jfif": JPEG, ".jpe": JPEG, ".png": PNG, ".gif": GIF, ".webp": WEBP,
           ".mp3": MP3, ".mpga": MP3, ".amr": AMR, ".aac": AAC, ".pdf": PDF}
_OGG_EXTS = {".ogg", ".oga", ".opus", ".ogv", ".ogx"}
_BRANDS = {b"M4A ": M4A, b"M4B ": M4A, b"isom": MP4, b"iso2": MP4, b"iso4": MP4, b"iso5": MP4, b"iso6": MP4,
           b"mp41": MP4, b"mp42": MP4, b"avc1": MP4, b"M4V ": MP4, b"MSNV": MP4, b"dash": MP4, b"f4v ": MP4}
_MAIN_PARTS = {_OOXML + "wordprocessingml.document.main+xml": DOCX,
               _OOXML + "spreadsheetml.sheet.main+xml": XLSX,
               _OOXML + "presentationml.presentation.main+xml": PPTX}
_CONTENT_TYPE_ATTR = re.compile(rb'ContentType\s*=\s*"([^"]{1,200})"')
_MAX_CONTENT_TYPES_BYTES = 1024 * 1024
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def declared(content_type: str | None) -> FileType | None:
    """The allowed type a client names (a signed upload declares one), or None."""
    name = (content_type or "").split(";", 1)[0].strip().lower()
    return ALLOWED.get(name) or ALIASES.get(name)


def sniff(head: bytes) -> FileType | object | None:
    """The type of a file from its first bytes: a FileType, `ZIP` (look inside with `ooxml()`),
    or None when it is nothing we accept."""
    if not head:
        return None
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return THREE_GP if brand[:3] in (b"3gp", b"3g2") else _BRANDS.get(brand)
    if head.startswith(b"PK\x03\x04"):
        return ZIP
    if _is_vcard(head):
        return VCARD
    try:
        matches = puremagic.magic_string(head)
    except puremagic.PureError:
        return None
    for match in matches:
        ext = (match.extension or "").lower()
        if ext in _OGG_EXTS:
            first_page = head[:512]
            return OGG if head.startswith(b"OggS") and (b"OpusHead" in first_page or b"\x01vorbis" in first_page) \
                else None
        if ext in _BY_EXT:
            return _BY_EXT[ext]
    return None


def ooxml(fileobj) -> FileType | None:
    """Which OOXML document a ZIP is (seekable `fileobj` over the whole file), or None."""
    try:
        with zipfile.ZipFile(fileobj) as archive:
            info = archive.getinfo("[Content_Types].xml")
            if info.file_size > _MAX_CONTENT_TYPES_BYTES:
                return None
            declared_parts = set(_CONTENT_TYPE_ATTR.findall(archive.read(info)))
    except (KeyError, zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, ValueError, OSError):
        return None
    found = {t for name, t in _MAIN_PARTS.items() if name.encode() in declared_parts}
    return found.pop() if len(found) == 1 else None


def _is_vcard(head: bytes) -> bool:
    text = head[:-3] if len(head) == HEAD_BYTES else head  # a cut at the head may split a character
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return decoded.lstrip("\ufeff \t\r\n")[:11].upper() == "BEGIN:VCARD" and not _TEXT_CONTROL.search(decoded)
