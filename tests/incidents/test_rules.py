"""Patient references, severity rules and local times at a clock change."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from incidents import local_time, patient_refs
from incidents.models import PersonResponse, Severity
from incidents.severity import derive_severity
from tests.factories import request_type

LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize(
    "typed", ["943 476 5919", "9434765919", "943-476-5919", " 943.476.5919 ", "943/476/5919"]
)
def test_one_nhs_number_however_it_is_typed(typed):
    assert patient_refs.clean(typed) == "9434765919"


def test_a_check_digit_of_eleven_is_written_as_zero():
    # The weighted sum of the first nine digits is a multiple of 11: the check digit is 0.
    assert patient_refs.clean("999 990 0070") == "9999900070"


@pytest.mark.parametrize(
    ("typed", "code"),
    [("943 476 5918", "nhs_check_digit"), ("12345", "nhs_format"), ("94347659AB", "nhs_format")],
)
def test_invalid_nhs_numbers_are_refused_with_a_reason(typed, code):
    with pytest.raises(ValidationError) as caught:
        patient_refs.clean(typed)
    assert caught.value.code == code


def test_a_check_digit_of_ten_is_never_valid():
    # The weighted sum of these first nine digits leaves a check digit of 10: never valid.
    assert not patient_refs.nhs_number_is_valid("1000000010")


def test_hospital_numbers_follow_the_configured_pattern(settings):
    settings.BOUNDARIES = {
        **settings.BOUNDARIES,
        "PATIENT_REF_SCHEME": "hospital",
        "PATIENT_REF_PATTERN": r"RX[0-9]{6}",
    }
    assert patient_refs.clean("rx-123 456") == "RX123456"
    with pytest.raises(ValidationError) as caught:
        patient_refs.clean("AB123456")
    assert caught.value.code == "hospital_format"
    assert patient_refs.label() == "hospital number"


@pytest.mark.parametrize("typed", ["RX1234567", "RX123456A", "XRX123456"])
def test_a_hospital_number_must_match_the_pattern_from_end_to_end(settings, typed):
    """A match at the start only would let a mistyped number through as another patient."""
    settings.BOUNDARIES = {
        **settings.BOUNDARIES,
        "PATIENT_REF_SCHEME": "hospital",
        "PATIENT_REF_PATTERN": r"RX[0-9]{6}",
    }
    with pytest.raises(ValidationError) as caught:
        patient_refs.clean(typed)
    assert caught.value.code == "hospital_format"


def test_a_loose_pattern_never_lets_through_a_reference_longer_than_stored(settings):
    """The form takes 40 characters and the column 32: past that, the database would
    refuse the filing with a server error."""
    settings.BOUNDARIES = {
        **settings.BOUNDARIES,
        "PATIENT_REF_SCHEME": "hospital",
        "PATIENT_REF_PATTERN": r"[A-Z0-9]+",
    }
    longest = "A" * patient_refs.MAX_LENGTH
    assert patient_refs.clean(longest) == longest
    with pytest.raises(ValidationError) as caught:
        patient_refs.clean(longest + "1")
    assert caught.value.code == "hospital_format"


def test_the_longest_reference_is_the_columns():
    from incidents.models import Patient

    assert Patient._meta.get_field("reference").max_length == patient_refs.MAX_LENGTH


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("code", "response", "extra", "expected"),
    [
        ("personal-contact", PersonResponse.ACCEPTED, {}, Severity.LOW),
        ("personal-contact", PersonResponse.ASKED_AGAIN, {}, Severity.MODERATE),
        ("personal-contact", PersonResponse.ESCALATED, {}, Severity.HIGH),
        ("romantic", PersonResponse.ACCEPTED, {}, Severity.MODERATE),
        ("harassment", PersonResponse.ACCEPTED, {}, Severity.HIGH),
        ("stalking", PersonResponse.ACCEPTED, {}, Severity.HIGH),
        ("physical", PersonResponse.ACCEPTED, {}, Severity.HIGH),
        ("gifts", PersonResponse.ACCEPTED, {"feels_unsafe": True}, Severity.HIGH),
        ("gifts", PersonResponse.ACCEPTED, {"called_security": True}, Severity.HIGH),
        ("gifts", PersonResponse.ACCEPTED, {"called_police": True}, Severity.HIGH),
    ],
)
def test_severity_follows_the_documented_rules(code, response, extra, expected):
    flags = {"called_security": False, "called_police": False, "feels_unsafe": False, **extra}
    assert (
        derive_severity(request_type=request_type(code), person_response=response, **flags)
        == expected
    )


def test_an_ordinary_local_time_is_one_instant():
    result = local_time.to_instant(date(2026, 7, 1), time(14, 30), zone=LONDON)
    assert result == datetime(2026, 7, 1, 13, 30, tzinfo=UTC)


def test_a_time_that_happened_twice_needs_a_choice_between_bst_and_gmt():
    change = local_time.to_instant(date(2026, 10, 25), time(1, 30), zone=LONDON)
    assert isinstance(change, local_time.ClockChange)
    assert change.ambiguous
    assert change.earlier == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 01:30 BST
    assert change.later == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 01:30 GMT
    assert "happened twice" in change.explanation(datetime(2026, 10, 25, 1, 30))
    earlier = local_time.to_instant(date(2026, 10, 25), time(1, 30), "earlier", zone=LONDON)
    assert earlier == change.earlier


def test_a_time_that_never_happened_offers_the_times_either_side():
    change = local_time.to_instant(date(2026, 3, 29), time(1, 30), zone=LONDON)
    assert isinstance(change, local_time.ClockChange)
    assert not change.ambiguous
    assert change.earlier == datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # 00:30 GMT
    assert change.later == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 02:30 BST
    later = local_time.to_instant(date(2026, 3, 29), time(1, 30), "later", zone=LONDON)
    assert later == change.later
