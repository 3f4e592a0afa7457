from __future__ import annotations

from asgiref.sync import sync_to_async
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse

from tests.django_project.models import Document, Photo


def _too_large(request: HttpRequest) -> JsonResponse | None:
    request.FILES  # noqa: B018  # the body is parsed on first access; the handler runs then
    if getattr(request, "bucketry_upload_too_large", False):
        received = max(getattr(h, "received", 0) for h in request.upload_handlers)
        return JsonResponse({"error": "too large", "received": received}, status=413)
    return None


def upload_document(request: HttpRequest) -> HttpResponse:
    refused = _too_large(request)
    if refused is not None:
        return refused
    document = Document.objects.create(title=request.POST["title"], file=request.FILES["file"])
    return JsonResponse(
        {"name": document.file.name, "url": document.file.url, "size": document.file.size}
    )


def upload_photo(request: HttpRequest) -> HttpResponse:
    photo = Photo.objects.create(image=request.FILES["image"])
    return JsonResponse({"name": photo.image.name, "width": photo.width, "height": photo.height})


async def upload_document_async(request: HttpRequest) -> HttpResponse:
    upload = request.FILES["file"]
    document = await sync_to_async(Document.objects.create)(title="async", file=upload)
    size = await sync_to_async(lambda: document.file.size)()
    return JsonResponse({"name": document.file.name, "size": size})


def download(request: HttpRequest, name: str) -> FileResponse:
    return FileResponse(default_storage.open(name), as_attachment=True)


def save_named(request: HttpRequest) -> HttpResponse:
    """Saves under a name the client chose: an unsafe one must answer 400, not 500."""
    name = default_storage.save(request.POST["name"], ContentFile(request.POST["text"]))
    return JsonResponse({"name": name})
