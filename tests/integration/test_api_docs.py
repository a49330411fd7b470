"""The contract as the stack serves it: the committed OpenAPI at /api/v1/openapi.json, and the
docs pages of the local gateway with the renderers' own files."""
from contract import asyncapi, openapi


def test_the_api_serves_the_committed_openapi_document(api):
    r = api.get("/api/v1/openapi.json")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    assert r.content == openapi.DOC.read_bytes()
    assert r.json()["paths"]["/api/v1/openapi.json"]["get"]["operationId"] == "api_openapi"


def test_the_gateway_renders_both_documents_from_the_npm_renderers(api):
    page = api.get("/docs")
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text and "/api/v1/openapi.json" in page.text
    bundle = api.get("/docs/static/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and bundle.headers["Content-Type"] == "text/javascript"
    assert len(bundle.content) > 100_000
    realtime = api.get("/docs/asyncapi")
    assert realtime.status_code == 200 and "AsyncApiStandalone" in realtime.text
    assert api.get("/docs/static/asyncapi.js").status_code == 200
    assert api.get("/docs/asyncapi.json").content == asyncapi.DOC.read_bytes()


def test_only_the_listed_files_are_served(api):
    for path in ("/docs/static/../../../docs/openapi.released.json", "/docs/static/package.json",
                 "/docs/static/swagger-ui-dist/index.html"):
        r = api.get(path)
        assert r.status_code == 404 and r.json()["error"]["code"] == "route_not_found", path
