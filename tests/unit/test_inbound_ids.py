"""Inbound ids are uuid5 strings derived without uuid.UUID: they must be exactly the stdlib's, or a
provider retry after a deploy would store its message a second time under another id."""
import random
import uuid

import pytest

from utalk.services import inbound


@pytest.mark.parametrize("name", ["", "twilio:SM1", "web:v0123:3f0e6f0c-6b1e-4b36-9c0e-0f1e2d3c4b5a",
                                  "facebook:m_ñandú-😀", "x" * 5000, "msg_1:message:new"])
def test_uuid5_is_the_stdlibs(name):
    assert inbound._uuid5(name) == str(uuid.uuid5(inbound.NAMESPACE, name))


def test_uuid5_matches_on_random_names():
    rnd = random.Random(7)
    for _ in range(2000):
        name = "".join(chr(rnd.randrange(1, 0x2FFF)) for _ in range(rnd.randrange(40)))
        assert inbound._uuid5(name) == str(uuid.uuid5(inbound.NAMESPACE, name))


def test_message_ids_keep_their_format():
    assert inbound.message_id("twilio", "SM1") == f"msg_{uuid.uuid5(inbound.NAMESPACE, 'twilio:SM1')}"
