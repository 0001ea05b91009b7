"""The accessibility and HTML checks that every browser test relies on can fail."""

import pytest


def test_the_checks_catch_a_broken_page(page, assert_accessible):
    page.set_content(
        "<!doctype html><html><head><title>Broken</title></head><body>"
        "<img src='data:,'><div style='width:2000px'>wide</div><p><div>bad nesting</p>"
        "</body></html>"
    )
    with pytest.raises(AssertionError):
        assert_accessible(page)


def test_html_checker_reports_invalid_markup(html_checker):
    errors = html_checker("<!doctype html><html lang=en><head></head><body><p></body></html>")
    assert any("title" in error for error in errors)


def test_axe_reports_a_missing_label(page, axe):
    page.set_content(
        "<!doctype html><html lang='en'><head><title>t</title></head>"
        "<body><main><input type='text'></main></body></html>"
    )
    assert axe.run(page).violations_count > 0


def test_width_check_catches_sideways_scrolling(page, axe, html_checker, assert_accessible):
    page.set_content(
        "<!doctype html><html lang='en'><head><title>t</title>"
        "<meta name='viewport' content='width=device-width'></head>"
        "<body><main><h1>Wide</h1><p style='width:1200px'>x</p></main></body></html>"
    )
    with pytest.raises(AssertionError, match="scrolls sideways"):
        assert_accessible(page)
