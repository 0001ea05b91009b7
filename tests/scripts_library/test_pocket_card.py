"""The pocket card: one printable page per situation, read back from the PDF itself."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader

from incidents.models import RequestType
from tests.factories import ScriptFactory


def _pdf(client, code: str) -> PdfReader:
    response = client.get(f"/scripts/situations/{code}/card.pdf")
    assert response.status_code == 200
    return PdfReader(io.BytesIO(response.content))


def _text(reader: PdfReader) -> str:
    """The card's text with all whitespace removed: wrapping may break lines anywhere."""
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_pocket_card_is_a_pdf_download_that_no_cache_keeps(nurse_client, db):
    ScriptFactory(request_types=["social-media"])

    response = nurse_client.get("/scripts/situations/social-media/card.pdf")

    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        'attachment; filename="pocket-card-social-media.pdf"'
    )
    assert "no-store" in response["Cache-Control"]
    assert response.content.startswith(b"%PDF-")


def test_pocket_card_carries_the_ladders_words_on_one_page(nurse_client, library):
    reader = _pdf(nurse_client, "social-media")

    text = _text(reader)
    assert len(reader.pages) == 1
    assert (
        reader.metadata.title
        == "What to say: " + RequestType.objects.get(code="social-media").name
    )
    for words in (
        "I don't connect with patients or their families on my personal accounts.",
        "I did see your request, and my answer is the same",
        "I'm ending this conversation now and passing it to my supervisor.",
    ):
        assert _squeezed(words) in text
    assert _squeezed("If they ask again, say").upper() in text.upper()


def test_every_situations_card_fits_on_one_page(nurse_client, library):
    for code in RequestType.objects.values_list("code", flat=True):
        assert len(_pdf(nurse_client, code).pages) == 1, code


def test_markup_in_a_script_is_printed_literally_and_fetches_nothing(nurse_client, db):
    ScriptFactory(version__text='Say no. <img src="file:///etc/passwd"> <b>bold</b>')

    text = _text(_pdf(nurse_client, "personal-contact"))

    assert _squeezed('<img src="file:///etc/passwd">') in text
    assert "<b>bold</b>" in text
    assert "root:" not in text


def test_a_long_unbroken_word_wraps_instead_of_being_cut_off(nurse_client, db):
    long_word = "x" * 250
    ScriptFactory(version__text=f"Start {long_word} end.")

    text = _text(_pdf(nurse_client, "personal-contact"))

    assert long_word in text
    assert "end." in text


def test_unknown_situation_has_no_card(nurse_client, db):
    assert nurse_client.get("/scripts/situations/no-such-thing/card.pdf").status_code == 404


def test_a_card_for_a_situation_without_approved_words_says_so(nurse_client, db):
    """Found by a review helper: it printed blank."""
    text = _text(_pdf(nurse_client, "gifts"))
    assert _squeezed("There are no approved words for this situation yet.") in text
