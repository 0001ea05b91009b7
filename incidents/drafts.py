"""What a draft keeps of the incident form, and how it fills the form again."""

from __future__ import annotations

from django.http import QueryDict
from django.utils import timezone

from incidents.forms import IncidentForm, WitnessFormSet
from incidents.models import MAX_WITNESSES

WITNESS_PREFIX = "witnesses"
_WITNESS_FIELDS = ("name", "role", "contact")
_MULTI_VALUED = {"actions"}
# A draft is a few kilobytes; anything beyond this is not a person typing.
MAX_VALUE_LENGTH = 6000


def _allowed_keys() -> set[str]:
    keys = set(IncidentForm.base_fields)
    for index in range(MAX_WITNESSES):
        keys |= {f"{WITNESS_PREFIX}-{index}-{name}" for name in _WITNESS_FIELDS}
    return keys


def data_from_post(post: QueryDict) -> dict[str, list[str]]:
    """The form's own fields from a submission, as lists of strings. Anything else in
    the request (the CSRF token, forged fields) is left out."""
    allowed = _allowed_keys()
    data = {}
    for key in post:
        if key in allowed:
            # NUL cannot be stored in PostgreSQL's JSON; the form refuses it on submit.
            values = [value[:MAX_VALUE_LENGTH].replace("\x00", "") for value in post.getlist(key)]
            if any(values):
                data[key] = values
    return data


def _strings(stored) -> list[str]:
    """A draft's value as the list of strings it is saved as. A value in another shape
    (a plain string or number, written by hand or by another version of the form) is
    read as one value, not cut to its first character; anything else is nothing."""
    if not isinstance(stored, list):
        stored = [stored]
    # ``true``/``false`` as a ticked box is saved ("on"), or left out: str(False) is
    # "False", which a checkbox shows ticked.
    return [
        ("on" if value else "") if isinstance(value, bool) else str(value)
        for value in stored
        if isinstance(value, str | int | float)
    ]


def initial_from_data(data: dict[str, list[str]]) -> tuple[dict, list[dict]]:
    """Initial values for the incident form and the witness formset. A draft in a shape
    the form never saves (not an object, a value not a list of strings) opens with what
    can be read of it, never an error page."""
    if not isinstance(data, dict):
        data = {}
    initial = {}
    for name in IncidentForm.base_fields:
        values = _strings(data.get(name))
        if any(values):
            initial[name] = values if name in _MULTI_VALUED else values[0]
    witnesses = []
    for index in range(MAX_WITNESSES):
        row = {
            name: (_strings(data.get(f"{WITNESS_PREFIX}-{index}-{name}")) or [""])[0]
            for name in _WITNESS_FIELDS
        }
        if any(row.values()):
            witnesses.append(row)
    return initial, witnesses


def default_initial(user) -> dict:
    """A new report starts at now, on the reporter's main unit, face to face."""
    now = timezone.localtime()
    main = user.memberships.filter(is_primary=True, unit__is_active=True).first()
    return {
        "occurred_date": now.date().isoformat(),
        "occurred_time": now.strftime("%H:%M"),
        "unit": main.unit_id if main else None,
        "channel": "in-person",
        "other_party": "patient",
    }


def forms_for(user, *, data: dict[str, list[str]] | None = None):
    """An unbound form and formset showing a draft's values (or the defaults)."""
    if data:
        initial, witnesses = initial_from_data(data)
    else:
        initial, witnesses = default_initial(user), []
    form = IncidentForm(user=user, initial=initial)
    form.prepare_clock_choices()
    formset = WitnessFormSet(prefix=WITNESS_PREFIX, initial=witnesses)
    return form, formset
