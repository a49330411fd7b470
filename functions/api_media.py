"""Media endpoints: multipart upload, signed-URL upload and its completion, reading a media.

The upload handlers import the upload service (and its magic-byte detector) when called, so
`media_get` does not pay for them at cold start."""
from utalk import http
from utalk.models.common import Page
from utalk.models.media import Media, StartUpload, UploadTicket
from utalk.services import media_urls


@http.endpoint("media_upload", role="agent", request="multipart/form-data", response={201: Page[Media]},
               raises=(400, 403, 404, 409, 415))
def upload(call: http.Call):
    from utalk.services import media_upload
    items = media_upload.upload_multipart(call.principal, call.request)
    return {"items": [m.model_dump(mode="json") for m in items]}, 201


@http.endpoint("media_upload_start", role="agent", body=StartUpload, response={201: UploadTicket},
               raises=(403, 404, 409))
def start_upload(call: http.Call):
    from utalk.services import media_upload
    return media_upload.start_signed(call.principal, call.body), 201


@http.endpoint("media_upload_complete", role="agent", response={200: Media, 201: Media}, raises=(404, 409, 413, 415))
def complete_upload(call: http.Call):
    from utalk.services import media_upload
    media, created = media_upload.complete_signed(call.principal, call.params["mediaId"])
    return media, 201 if created else 200


@http.endpoint("media_get", role="agent", response=Media, raises=(404,))
def get(call: http.Call):
    return media_urls.get(call.principal, call.params["mediaId"])
