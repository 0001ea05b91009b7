from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class BoundariesConfig(AppConfig):
    default = True
    name = "boundaries"
    verbose_name = "Organisation"

    def ready(self) -> None:
        from boundaries import (
            audit,
            checks,  # noqa: F401  (registers the deploy checks)
        )

        audit.connect_sign_in_receivers()


class BoundariesAdminConfig(admin_apps.AdminConfig):
    """Django's admin, whose site sends sign-in through the two-factor flow."""

    default = False
    default_site = "boundaries.admin_site.BoundariesAdminSite"
