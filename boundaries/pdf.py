"""PDF rendering: the only module that imports WeasyPrint, and the one URL fetcher every
PDF in the project goes through.

WeasyPrint would otherwise fetch ``file://`` and network URLs named in the document, and
embed files named by ``<link rel="attachment">``. Templates escape user text, but the
fetcher is the second line: it serves the app's own static files and ``data:`` URLs and
refuses everything else, including redirects.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import TYPE_CHECKING

from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.template.loader import render_to_string

if TYPE_CHECKING:
    from django.http import HttpRequest

# Documents are rendered with this base URL, so that {% static %} paths resolve to it;
# the host is reserved (RFC 2606) and never contacted.
BASE_URL = "https://boundaries.invalid/"
STATIC_PREFIX = "https://boundaries.invalid/static/"


class RefusedURL(ValueError):
    """A document asked for something outside the allow-list."""


class PdfFailed(RuntimeError):
    """WeasyPrint could not make the document (out of memory, a fault of its own): the
    person is asked to try again (``boundaries.views.server_error``), and the cause,
    chained, goes to the log."""


def _static_file(relative: str) -> Path | None:
    """The file behind a static path, or None. Never leaves the static directories."""
    if not relative or ".." in Path(relative).parts or relative.startswith("/"):
        return None
    found = finders.find(relative)
    if found:
        return Path(found)
    if staticfiles_storage.exists(relative):
        return Path(staticfiles_storage.path(relative))
    return None


def _fetcher_class():
    from weasyprint import URLFetcher
    from weasyprint.urls import URLFetcherResponse

    class SafeURLFetcher(URLFetcher):
        """Allows ``data:`` URLs and the app's static files; refuses the rest."""

        def __init__(self) -> None:
            super().__init__(allowed_protocols=("data",), allow_redirects=False, timeout=1)

        def fetch(self, url: str, headers: dict | None = None):
            if url.startswith("data:"):
                return super().fetch(url, headers)
            if url.startswith(STATIC_PREFIX):
                relative = url.removeprefix(STATIC_PREFIX).split("?")[0].split("#")[0]
                path = _static_file(relative)
                if path is not None:
                    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                    return URLFetcherResponse(
                        url, path.read_bytes(), {"Content-Type": content_type}
                    )
            raise RefusedURL(f"refused to fetch {url[:80]!r}")

    return SafeURLFetcher


def url_fetcher():
    """A fresh instance of the project's safe fetcher (tests use it directly)."""
    return _fetcher_class()()


def render_pdf(
    template_name: str,
    context: dict,
    *,
    request: HttpRequest | None = None,
    title: str,
    author: str = "",
) -> bytes:
    """Render a template to PDF bytes: tagged (PDF/UA-1) for screen readers, with the
    document's title and author in its metadata."""
    # Imported here: WeasyPrint takes most of a second to import, and only PDFs need it.
    from weasyprint import HTML

    html = render_to_string(template_name, context, request=request)
    try:
        document = HTML(string=html, base_url=BASE_URL, url_fetcher=url_fetcher()).render()
        document.metadata.title = title
        document.metadata.authors = [author] if author else []
        return document.write_pdf(pdf_variant="pdf/ua-1")
    except Exception as error:  # whatever WeasyPrint (or its libraries) raised
        raise PdfFailed(f"the PDF {title!r} could not be made") from error
