from django.urls import path

from tests.django_project import views

urlpatterns = [
    path("documents/", views.upload_document),
    path("documents-async/", views.upload_document_async),
    path("photos/", views.upload_photo),
    path("files/<path:name>", views.download),
    path("named/", views.save_named),
]
