"""Type by content: every accepted format is recognised from its bytes, OOXML documents by their
main part wherever `[Content_Types].xml` sits, and nothing else passes whatever its name says."""
import io

import pytest

from media_support import REFUSED, SAMPLES
from utalk.media import types


def _detect(data: bytes):
    found = types.sniff(data[:types.HEAD_BYTES])
    return types.ooxml(io.BytesIO(data)) if found is types.ZIP else found


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_accepted_format_is_recognised_by_content(name):
    data, mime = SAMPLES[name]
    found = _detect(data)
    assert found is not None and found.mime == mime
    assert types.ALLOWED[mime] is found


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_content_is_refused_whatever_its_name(name):
    assert _detect(REFUSED[name]) is None


def test_declared_types_normalise_aliases_and_refuse_the_rest():
    assert types.declared("image/jpg").mime == "image/jpeg"
    assert types.declared("Audio/Opus; codecs=opus").mime == "audio/ogg"
    assert types.declared("application/x-msdownload") is None and types.declared(None) is None
