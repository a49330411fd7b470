"""Media endpoints: multipart upload, signed-URL upload and its completion, reading a media.

The upload handlers import the upload service (and its magic-byte detector) when called, so
`media_get` does not pay for them at cold start."""
from utalk import http
from utalk.models.media import StartUpload
from utalk.services import media_urls


@http.endpoint("media_upload", role="agent")
def upload(call: http.Call):
    from utalk.services import media_upload
    items = media_upload.upload_multipart(call.principal, call.request)
    return {"items": [m.model_dump(mode="json") for m in items]}, 201


@http.endpoint("media_upload_start", role="agent", body=StartUpload)
def start_upload(call: http.Call):
    from utalk.services import media_upload
    return media_upload.start_signed(call.principal, call.body), 201


@http.endpoint("media_upload_complete", role="agent")
def complete_upload(call: http.Call):
    from utalk.services import media_upload
    media, created = media_upload.complete_signed(call.principal, call.params["mediaId"])
    return media, 201 if created else 200


@http.endpoint("media_get", role="agent")
def get(call: http.Call):
    return media_urls.get(call.principal, call.params["mediaId"])
