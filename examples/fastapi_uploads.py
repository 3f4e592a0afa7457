"""A FastAPI app that stores uploads through bucketry's upload rules.

    pip install "bucketry[images]" fastapi python-multipart uvicorn
    BUCKETRY_STORAGE_URL=file:///tmp/uploads uvicorn examples.fastapi_uploads:app

``POST /avatars`` takes a multipart form (an ``UploadFile``); ``PUT /files/{name}`` streams the raw
request body, so an oversize upload is refused after ``max_size`` bytes without reading the rest.
"""

from __future__ import annotations

from fastapi import FastAPI, HTTPException, Request, UploadFile

from bucketry import InvalidContentError, TooLargeError, get_storage
from bucketry.uploads import ImageRules, UploadRules, save_upload

app = FastAPI()

AVATARS = UploadRules(
    upload_to="avatars/%Y/%m/",
    max_size=2 * 1024 * 1024,
    allowed_types={"image/png", "image/jpeg", "image/webp"},
    image=ImageRules(formats={"PNG", "JPEG", "WEBP"}, max_width=1024, max_height=1024),
)
FILES = UploadRules(upload_to="files/", max_size=10 * 1024 * 1024)


@app.post("/avatars")
async def upload_avatar(file: UploadFile) -> dict[str, object]:
    try:
        saved = await save_upload(get_storage(), file, file.filename or "avatar", AVATARS)
    except TooLargeError as exc:
        raise HTTPException(413, str(exc)) from exc
    except InvalidContentError as exc:
        raise HTTPException(415, str(exc)) from exc
    return {"name": saved.name, "type": saved.content_type, "size": [saved.width, saved.height]}


@app.put("/files/{name}")
async def upload_raw(name: str, request: Request) -> dict[str, object]:
    try:
        saved = await save_upload(get_storage(), request.stream(), name, FILES)
    except TooLargeError as exc:
        raise HTTPException(413, str(exc)) from exc
    return {"name": saved.name, "type": saved.content_type, "bytes": saved.size}
