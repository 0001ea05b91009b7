from django.apps import AppConfig


class BoundariesConfig(AppConfig):
    name = "boundaries"
    verbose_name = "Organisation"

    def ready(self) -> None:
        from boundaries import checks  # noqa: F401  (registers the deploy checks)
