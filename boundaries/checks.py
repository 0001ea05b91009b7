"""Deployment checks that Django's own --deploy checks do not cover."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def check_email_configured(app_configs, **kwargs):
    if not settings.BOUNDARIES["EMAIL_RELAY_CONFIGURED"]:
        return [
            Warning(
                "EMAIL_HOST is not set: supervisors will not be told of new incidents and "
                "nobody can reset a password.",
                hint="Set EMAIL_HOST, EMAIL_HOST_USER and EMAIL_HOST_PASSWORD for the SMTP relay.",
                id="boundaries.W001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_site_url(app_configs, **kwargs):
    if not settings.SITE_URL.startswith("https://"):
        return [
            Warning(
                "SITE_URL does not start with https://: links in emails would use plain HTTP.",
                hint="Set SITE_URL to the address people use, for example https://boundaries.example.org.",
                id="boundaries.W002",
            )
        ]
    return []
