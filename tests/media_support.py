"""Helpers for the media tests: small real files of every accepted type, an agent workspace with a
WhatsApp conversation, uploads through HTTP, and an independent check of V4 signed URLs (the
storage emulator ignores signatures, so the tests recompute them from Google's documented
algorithm and verify them with the signer's public key)."""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from urllib.parse import parse_qsl, quote, urlsplit

from messaging_support import INBOUND, conv_id, inbound_form, post_signed, workspace

CUSTOMER = "+5215512345678"
OOXML = "application/vnd.openxmlformats-officedocument."


def ooxml(main_part: str, first: bool = False) -> bytes:
    """A minimal OOXML package; `[Content_Types].xml` last unless `first` (LibreOffice writes it late)."""
    types = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
             'content-types"><Default Extension="xml" ContentType="application/xml"/>'
             f'<Override PartName="/main.xml" ContentType="{main_part}"/></Types>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        if first:
            z.writestr("[Content_Types].xml", types)
        z.writestr("_rels/.rels", "<Relationships/>")
        z.writestr("main.xml", "<doc>" + "x" * 2000 + "</doc>")
        if not first:
            z.writestr("[Content_Types].xml", types)
    return out.getvalue()


def padded(head: bytes, size: int = 2048) -> bytes:
    return head + bytes((i * 7) % 251 for i in range(max(0, size - len(head))))


PNG = padded(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00")
JPEG = padded(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
PDF = padded(b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n")
EXE = padded(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8\x00")
SAMPLES = {  # name -> (bytes, the type it must be detected as)
    "photo.jpg": (JPEG, "image/jpeg"),
    "image.png": (PNG, "image/png"),
    "anim.gif": (padded(b"GIF89a\x01\x00\x01\x00"), "image/gif"),
    "sticker.webp": (padded(b"RIFF\x24\x08\x00\x00WEBPVP8 \x18\x00\x00\x00"), "image/webp"),
    "song.mp3": (padded(b"ID3\x03\x00\x00\x00\x00\x00\x00"), "audio/mpeg"),
    "voice.ogg": (padded(b"OggS\x00\x02" + b"\x00" * 20 + b"\x01\x13OpusHead\x01\x01"), "audio/ogg"),
    "note.amr": (padded(b"#!AMR\n"), "audio/amr"),
    "clip.aac": (padded(b"\xff\xf1\x50\x80\x02\x1f\xfc"), "audio/aac"),
    "track.m4a": (padded(b"\x00\x00\x00\x18ftypM4A \x00\x00\x02\x00M4A isom"), "audio/mp4"),
    "video.mp4": (padded(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"), "video/mp4"),
    "video.3gp": (padded(b"\x00\x00\x00\x18ftyp3gp4\x00\x00\x02\x003gp4isom"), "video/3gpp"),
    "doc.pdf": (PDF, "application/pdf"),
    "letter.docx": (ooxml(OOXML + "wordprocessingml.document.main+xml"), OOXML + "wordprocessingml.document"),
    "sheet.xlsx": (ooxml(OOXML + "spreadsheetml.sheet.main+xml", first=True), OOXML + "spreadsheetml.sheet"),
    "deck.pptx": (ooxml(OOXML + "presentationml.presentation.main+xml"), OOXML + "presentationml.presentation"),
    "ana.vcf": (b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ana P\xc3\xa9rez\r\nTEL:+5215512345678\r\nEND:VCARD\r\n",
                "text/vcard"),
}
REFUSED = {  # name -> bytes that must never be accepted, whatever the name says
    "photo.jpg": EXE,
    "linux.png": padded(b"\x7fELF\x02\x01\x01\x00"),
    "archive.docx": ooxml("application/xml").replace(b"[Content_Types].xml", b"[Content_Typez].xml"),
    "macro.docx": ooxml("application/vnd.ms-word.document.macroEnabled.main+xml"),
    "page.pdf": b"<html><script>alert(1)</script></html>",
    "movie.ogg": padded(b"OggS\x00\x02" + b"\x00" * 20 + b"\x80theora"),
    "photo.heic": padded(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00"),
    "card.vcf": b"BEGIN:VCARD\r\n\x00\x01\x02binary",
}


def setup(api, twilio=None):
    """A workspace (admin logged in) with a WhatsApp conversation that has an inbound message; its
    channel is a live Twilio one on the fake Twilio when given, else on the offline sandbox."""
    ws = workspace(api, bot=False, twilio=twilio)
    assert post_signed(api, INBOUND, inbound_form(ws.number, CUSTOMER)).status_code == 200
    return ws, conv_id(CUSTOMER, ws.number)


def upload(authed, conversation_id: str | None, *files: tuple[str, bytes, str], query: bool = False):
    """POST /api/v1/media as a browser's FormData: the conversationId field first, then the files."""
    fields = [] if query or conversation_id is None else [("conversationId", (None, conversation_id))]
    fields += [("file", f) for f in files]
    params = {"conversationId": conversation_id} if query else None
    return authed.post("/api/v1/media", files=fields, params=params)


def start(authed, conversation_id: str, size: int, content_type: str, name: str = "file.bin"):
    return authed.post("/api/v1/media/uploads", json={"conversationId": conversation_id, "fileName": name,
                                                      "contentType": content_type, "sizeBytes": size})


def blobs_under(prefix: str) -> list:
    from utalk import clients
    from utalk.config import settings
    return list(clients.storage().bucket(settings().bucket).list_blobs(prefix=prefix))


def media_docs(ws_id: str) -> list[dict]:
    from utalk import clients
    return [d.to_dict() for d in clients.firestore().collection("workspaces").document(ws_id)
            .collection("media").stream()]


def usage_bytes(ws_id: str) -> int:
    from utalk.repositories.media import MediaRepository
    return MediaRepository(ws_id).usage_bytes()


# -- V4 signatures, recomputed from https://cloud.google.com/storage/docs/authentication/signatures ----
def _encode(value: str) -> str:
    return quote(value, safe="-_.~")


def string_to_sign(url: str, method: str, headers: dict[str, str]) -> tuple[str, dict]:
    """The canonical request's string to sign for `url` as a client sending `headers` would make
    it; also returns the URL's query parameters."""
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    params.pop("X-Goog-Signature")
    signed = params["X-Goog-SignedHeaders"].split(";")
    sent = {k.lower(): " ".join(str(v).split()) for k, v in headers.items()}
    sent["host"] = parts.netloc
    canonical = "\n".join([
        method, parts.path,
        "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(params.items())),
        "".join(f"{name}:{sent.get(name, '')}\n" for name in signed),
        ";".join(signed), "UNSIGNED-PAYLOAD"])
    scope = params["X-Goog-Credential"].split("/", 1)[1]
    return "\n".join(["GOOG4-RSA-SHA256", params["X-Goog-Date"], scope,
                      hashlib.sha256(canonical.encode()).hexdigest()]), params


def verify_signed_url(url: str, method: str, headers: dict[str, str], public_key_pem: bytes) -> dict:
    """Raise InvalidSignature unless the URL's signature covers this request; returns its params."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    text, params = string_to_sign(url, method, headers)
    signature = bytes.fromhex(dict(parse_qsl(urlsplit(url).query))["X-Goog-Signature"])
    key = serialization.load_pem_public_key(public_key_pem)
    key.verify(signature, text.encode(), padding.PKCS1v15(), hashes.SHA256())
    return params


def devstack_public_key() -> bytes:
    """The public half of the devstack's signing key (UTALK_SIGNING_KEY_FILE)."""
    import os

    from cryptography.hazmat.primitives import serialization

    info = json.load(open(os.environ["UTALK_SIGNING_KEY_FILE"]))
    key = serialization.load_pem_private_key(info["private_key"].encode(), None)
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
