from django.apps import AppConfig


class UploadsConfig(AppConfig):
    name = "tests.django_project"
    label = "uploads"
