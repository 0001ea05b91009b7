"""The list pages' row helpers give exactly what the template tags they replace gave."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.template.defaultfilters import date as date_filter
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from incidents import rows
from incidents.models import Severity

# Every hour of a year, so both clock changes and every month are crossed.
MOMENTS = [
    datetime(2026, 1, 1, 0, 7, tzinfo=UTC) + timedelta(hours=hours) for hours in range(0, 8760, 7)
]


@pytest.mark.parametrize(
    ("helper", "pattern"),
    [
        (rows.day_month_year_time, "j M Y, H:i"),
        (rows.day_month_year, "j M Y"),
    ],
)
def test_dates_read_as_the_date_filter_in_local_time(helper, pattern):
    assert timezone.get_current_timezone_name() == "Europe/London"
    for moment in MOMENTS:
        assert helper(moment) == date_filter(timezone.localtime(moment), pattern), moment


def test_a_route_is_reversed_once_and_filled_per_row(db):
    detail = rows.route("incidents:detail")
    for pk in (1, 9, 10, 987654320, 123456789012):
        assert detail(pk) == reverse("incidents:detail", args=[pk])
    alert = rows.route("incidents:alert_detail", uuid=True)
    for _ in range(5):
        public_id = uuid.uuid4()
        assert alert(public_id) == reverse("incidents:alert_detail", args=[public_id])


def test_labels_are_the_choices_display_names():
    assert rows.labels(Severity) == {1: "Low", 2: "Moderate", 3: "High"}


def test_every_value_in_a_row_is_escaped_and_safe_markup_is_kept():
    row_html = '<tr><td title="{title}">{text}</td><td>{badge}</td></tr>'
    hostile = "<script>alert(1)</script> & \"quoted\" 'single'"
    joined = rows.join(
        row_html,
        [
            {"title": hostile, "text": hostile, "badge": format_html("<b>{}</b>", "<i>")},
            {"title": 3, "text": None, "badge": ""},
        ],
    )
    assert isinstance(joined, SafeString)
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quoted&quot; &#x27;single&#x27;"
    assert joined == (
        f'<tr><td title="{escaped}">{escaped}</td><td><b>&lt;i&gt;</b></td></tr>'
        '<tr><td title="3">None</td><td></td></tr>'
    )
    # As Django's own helper does it.
    assert joined.split("</tr>")[0] + "</tr>" == format_html(
        row_html, title=hostile, text=hostile, badge=format_html("<b>{}</b>", "<i>")
    )


def test_an_optional_piece_appears_only_when_its_condition_holds():
    assert rows.optional(False, '<a href="{url}">x</a>', url="/a") == ""
    assert rows.optional(True, '<a href="{url}">x</a>', url='/a"b') == '<a href="/a&quot;b">x</a>'
    assert rows.optional(True, " <span>Overdue</span>") == " <span>Overdue</span>"
