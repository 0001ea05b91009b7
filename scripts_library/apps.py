from django.apps import AppConfig


class ScriptsLibraryConfig(AppConfig):
    name = "scripts_library"
    verbose_name = "Script library"
