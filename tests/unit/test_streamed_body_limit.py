"""A route that streams its body (manifest `max_body_bytes`) is limited without being buffered:
Content-Length over the limit is refused at once, a chunked body while the handler reads it."""
import io

import flask
import pytest
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.test import EnvironBuilder

from utalk import errors, http


def _request(body: bytes, chunked: bool):
    app = flask.Flask(__name__)
    env = EnvironBuilder(method="POST", path="/").get_environ()
    env.update({"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True})
    env.pop("CONTENT_LENGTH", None)
    if not chunked:
        env["CONTENT_LENGTH"] = str(len(body))
    return app, env


def test_content_length_over_the_route_limit_is_413():
    app, env = _request(b"x" * 101, chunked=False)
    with app.request_context(env):
        with pytest.raises(errors.PayloadTooLarge):
            http.check_size(flask.request, streamed_limit=100)


def test_a_chunked_body_is_limited_while_read_and_never_buffered():
    app, env = _request(b"x" * 150, chunked=True)
    with app.request_context(env):
        http.check_size(flask.request, streamed_limit=100)
        assert env["wsgi.input"].tell() == 0            # nothing read by the check
        stream = flask.request.stream
        assert len(stream.read(60)) + len(stream.read(60)) == 100   # up to the limit, then refused
        with pytest.raises(RequestEntityTooLarge):
            stream.read(60)


def test_other_routes_keep_the_global_limit():
    app, env = _request(b"x" * 200, chunked=True)
    with app.request_context(env):
        http.check_size(flask.request)                   # under the 10 MB default: buffered for get_data
        assert flask.request.get_data() == b"x" * 200
