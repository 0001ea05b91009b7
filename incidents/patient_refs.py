"""Patient references: the organisation's identifier, normalised so that one patient is
one reference however it was typed ("943 476 5919", "943-476-5919", "9434765919").

The scheme is a setting: ``nhs`` (ten digits with the NHS modulus-11 check digit) or
``hospital`` (a local hospital number matching PATIENT_REF_PATTERN after normalising).
"""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError

_SEPARATORS = re.compile(r"[\s\-./]+")
NHS_WEIGHTS = range(10, 1, -1)


# The longest reference stored (``Patient.reference``).
MAX_LENGTH = 32


def normalise(raw: str) -> str:
    """Upper-case, without spaces, hyphens, dots or slashes."""
    return _SEPARATORS.sub("", raw or "").upper()


def nhs_number_is_valid(digits: str) -> bool:
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], NHS_WEIGHTS, strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def scheme() -> str:
    return settings.BOUNDARIES["PATIENT_REF_SCHEME"]


def label() -> str:
    """The identifier's name as it reads inside a sentence ("the patient's hospital
    number"): "NHS" is a name, "hospital" is not."""
    return "NHS number" if scheme() == "nhs" else "hospital number"


def clean(raw: str) -> str:
    """The normalised reference, or a ValidationError a nurse can act on."""
    value = normalise(raw)
    if not value:
        raise ValidationError(
            "Enter the patient's %(label)s.", code="required", params={"label": label()}
        )
    if scheme() == "nhs":
        if not value.isascii() or not value.isdigit() or len(value) != 10:
            raise ValidationError(
                "An NHS number has 10 digits, for example 943 476 5919.", code="nhs_format"
            )
        if not nhs_number_is_valid(value):
            raise ValidationError(
                "That is not a valid NHS number: check the digits against the wristband or notes.",
                code="nhs_check_digit",
            )
        return value
    pattern = settings.BOUNDARIES["PATIENT_REF_PATTERN"]
    # However loose the organisation's pattern, a reference longer than the column is
    # no hospital number (the database would refuse it).
    if len(value) > MAX_LENGTH or not re.fullmatch(pattern, value):
        raise ValidationError(
            "That does not look like a hospital number here (%(example)s).",
            code="hospital_format",
            params={"example": settings.BOUNDARIES["PATIENT_REF_EXAMPLE"]},
        )
    return value


def looks_like_reference(raw: str) -> bool:
    """Whether ``raw`` is a patient reference under this organisation's scheme (typed
    where none belongs, such as a search box)."""
    try:
        clean(raw)
    except ValidationError:
        return False
    return True
