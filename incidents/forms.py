"""Forms for filing and following up incidents. They validate; services do the writing."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, time, timedelta

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from boundaries.models import Role, Unit, User
from incidents import local_time, patient_refs, widgets
from incidents.local_time import CLOCK_SKEW
from incidents.models import (
    DESCRIPTION_MAX_LENGTH,
    MAX_WITNESSES,
    REVIEW_ACTIONS,
    WORDS_MAX_LENGTH,
    AlertThresholds,
    Channel,
    Incident,
    OtherParty,
    PersonResponse,
    RequestType,
    Severity,
    Status,
    WitnessRole,
)
from incidents.services import ALLOWED_TRANSITIONS, WitnessDetails
from scripts_library.models import ScriptVersion

# C0 control characters other than tab, line feed and carriage return, and DEL. They are
# invisible, usually pasted by accident, and break exports.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

ACTION_CHOICES = [
    ("ended_interaction", "I ended the interaction"),
    ("called_supervisor", "I called the supervisor or nurse in charge"),
    ("called_security", "I called security"),
    ("called_police", "I called the police"),
]


def no_control_characters(value: str) -> None:
    if _CONTROL.search(value or ""):
        raise ValidationError(
            "This contains invisible control characters, usually from copying and pasting. "
            "Retype the text or paste it as plain text.",
            code="control_characters",
        )


class TextField(forms.CharField):
    """A text field that refuses control characters and keeps what was typed exactly
    (no stripping: the words matter)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("strip", False)
        super().__init__(*args, **kwargs)
        self.validators.append(no_control_characters)

    def to_python(self, value):
        # Browsers send each new line in a text box as CR LF but count it as one
        # character against the box's maxlength: count it as they do, so words that fit
        # the box are never refused as too long.
        value = super().to_python(value)
        return value.replace("\r\n", "\n") if isinstance(value, str) else value

    def clean(self, value):
        value = super().clean(value)
        # An answer of only spaces is no answer.
        if self.required and not (value or "").strip():
            raise ValidationError(self.error_messages["required"], code="required")
        return value


class LocalDateTimeField(forms.DateTimeField):
    """A date and time as typed on the local clock, kept naive: the form turns it into
    an instant with ``local_time``, which asks which one is meant on a clock-change night
    (Django's own field only refuses such a time)."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, datetime):
            return timezone.make_naive(value) if timezone.is_aware(value) else value
        text = str(value).strip()
        try:
            result = parse_datetime(text)
        except ValueError:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None
        if result is None:
            # The field's input formats, as Django's own field tries them.
            result = forms.fields.BaseTemporalField.to_python(self, text)
        try:
            return timezone.make_naive(result) if timezone.is_aware(result) else result
        except OverflowError:
            # An offset that moves it past the calendar's ends (year 1, year 9999).
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None


def offered_script_versions():
    return (
        ScriptVersion.objects.offered()
        .select_related("category")
        .order_by("category__position", "title")
    )


def _approved_after(version: ScriptVersion, when: datetime) -> bool:
    """Whether the words were approved after the incident. To the minute, as the time
    of the incident is given: words approved at 10:00:40 were in use at "10:00"."""
    return bool(version.decided_at) and version.decided_at.replace(
        second=0, microsecond=0
    ) > when.replace(second=0, microsecond=0)


NO_LONGER_OFFERED = {
    "unit": "That unit is not one of yours, or has closed: choose one of your units.",
    "request_type": "That kind of request is not on the list (it may have been withdrawn): "
    "choose the closest one.",
    "channel": "That way of contact is not on the list (it may have been withdrawn): choose "
    "the closest one.",
    "script_version": "Those words are not in the library now: choose others, or give your "
    "own words.",
    "supervisor_told": "That person is not a supervisor of your units now: choose who you "
    "told, or “Not yet”.",
}


class IncidentForm(forms.Form):
    # When and where.
    occurred_date = forms.DateField(
        label="Date",
        widget=widgets.DateInput(),
        validators=[local_time.not_too_early],
    )
    occurred_time = forms.TimeField(label="Time", widget=widgets.TimeInput())
    clock_choice = forms.ChoiceField(
        label="Which time do you mean?",
        required=False,
        widget=forms.RadioSelect,
        # Relabelled with the actual times when the date is a clock-change night.
        choices=[(local_time.EARLIER, "The earlier time"), (local_time.LATER, "The later time")],
    )
    unit = forms.ModelChoiceField(queryset=Unit.objects.none(), empty_label=None)
    location = TextField(
        label="Where exactly",
        max_length=120,
        help_text='For example "Bay 3", "car park", "online".',
    )
    late_reason = TextField(
        label="Why is this reported now?",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        # The number of days comes from the settings (``__init__``).
        help_text="Needed when the incident was more than {days} days ago.",
    )

    # Who.
    other_party = forms.ChoiceField(
        label="Who was it?", choices=OtherParty.choices, widget=forms.RadioSelect
    )
    patient_reference = forms.CharField(
        label="Patient's NHS number",
        required=False,
        max_length=40,
        # Required for all but "Someone else" (``clean``), so not marked with an
        # asterisk: the help says when it is needed.
        help_text="The patient whose care this concerns, also when a relative or visitor "
        "asked. Not needed for someone else. No names.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text"}),
    )

    # What.
    request_type = forms.ModelChoiceField(
        label="What did they ask for or do?",
        queryset=RequestType.objects.active(),
        to_field_name="code",
        empty_label="Choose…",
    )
    channel = forms.ModelChoiceField(
        label="How?", queryset=Channel.objects.active(), to_field_name="code", empty_label=None
    )
    description = TextField(
        label="What they said or did",
        max_length=DESCRIPTION_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Their words where you can remember them.",
    )

    # The response.
    script_version = forms.ModelChoiceField(
        label="The words you used",
        queryset=ScriptVersion.objects.none(),
        required=False,
        empty_label="My own words",
    )
    own_words = TextField(
        label="Your own words",
        required=False,
        max_length=WORDS_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What you said, as closely as you can remember.",
    )
    person_response = forms.ChoiceField(
        label="How did they respond?", choices=PersonResponse.choices, widget=forms.RadioSelect
    )
    actions = forms.MultipleChoiceField(
        label="What did you do?",
        choices=ACTION_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave all unticked if none of these.",
    )

    # Telling the supervisor, and how the reporter is.
    supervisor_told = forms.ModelChoiceField(
        label="Which supervisor have you told?",
        queryset=User.objects.none(),
        required=False,
        empty_label="Not yet",
    )
    supervisor_told_at = LocalDateTimeField(
        label="When did you tell them?",
        required=False,
        validators=[local_time.not_too_early],
        widget=widgets.DateTimeInput(),
    )
    told_clock_choice = forms.ChoiceField(
        label="Which time did you tell them?",
        required=False,
        widget=forms.RadioSelect,
        # Relabelled with the actual times when that time is on a clock-change night.
        choices=[(local_time.EARLIER, "The earlier time"), (local_time.LATER, "The later time")],
    )
    feels_unsafe = forms.BooleanField(label="I feel unsafe", required=False)
    wants_debrief = forms.BooleanField(label="I would like a debrief", required=False)

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        units = Unit.objects.of(user)
        self.fields["unit"].queryset = units
        self.fields["supervisor_told"].queryset = (
            User.objects.filter(role=Role.SUPERVISOR, is_active=True, memberships__unit__in=units)
            .exclude(pk=user.pk)
            .distinct()
        )
        # Validated against every wording that may be recorded as said; the drop-down
        # lists the offered ones (``set_script_choices``).
        self.fields["script_version"].queryset = ScriptVersion.objects.sayable().select_related(
            "category"
        )
        self.fields["patient_reference"].label = f"Patient's {patient_refs.label()}"
        # A choice no longer on offer: most often one made in a draft, or on a page opened,
        # before it was changed (a unit closed, a type or channel retired, a script
        # withdrawn), so the message says so rather than "Select a valid choice".
        for name, message in NO_LONGER_OFFERED.items():
            self.fields[name].error_messages["invalid_choice"] = message
        late = self.fields["late_reason"]
        late.help_text = late.help_text.format(days=settings.BOUNDARIES["LATE_REPORT_DAYS"])
        # The clock-change choices this form asks for, by the name of the choice field.
        self.clock_changes: dict[str, local_time.ClockChange] = {}

    def set_script_choices(self) -> None:
        """Group the library's scripts by category in the drop-down. A wording replaced
        since the reporter chose it (in a draft, or on a page opened before the new one
        was approved) stays listed and chosen, marked as the earlier wording."""
        versions = list(offered_script_versions())
        chosen = self["script_version"].value()
        if chosen and str(chosen) not in {str(version.pk) for version in versions}:
            earlier = _parsed(self.fields["script_version"], chosen)
            if earlier is not None:
                earlier.title = f"{earlier.title} (the earlier wording)"
                versions.append(earlier)
        versions += self._wordings_in_use_then(versions)
        groups: dict[str, list] = {}
        for version in versions:
            groups.setdefault(version.category.name, []).append((version.pk, version.title))
        self.fields["script_version"].widget.choices = [("", "My own words"), *groups.items()]

    def _wordings_in_use_then(self, versions: list[ScriptVersion]) -> list[ScriptVersion]:
        """For an incident before some offered wording was approved (a late report, shown
        again with its errors): the wording each such script had then, so the reporter
        can choose what was actually said. One query, only in that case."""
        when = getattr(self, "cleaned_data", {}).get("occurred_at")
        later = {v.script_id for v in versions if when and _approved_after(v, when)}
        if not later:
            return []
        listed = {version.pk for version in versions}
        then: dict[int, ScriptVersion] = {}
        for version in (
            ScriptVersion.objects.sayable()
            .filter(script_id__in=later, decided_at__lte=when)
            .select_related("category")
            .order_by("script_id", "-decided_at")
        ):
            then.setdefault(version.script_id, version)
        for version in then.values():
            version.title = f"{version.title} (the wording in use then)"
        return [version for version in then.values() if version.pk not in listed]

    def clean_patient_reference(self) -> str:
        raw = self.cleaned_data["patient_reference"]
        if not raw.strip():
            return ""
        return patient_refs.clean(raw)

    def clean(self) -> dict:
        data = super().clean()
        self._clean_when(data)
        needs_patient = data.get("other_party") and data["other_party"] != OtherParty.OTHER
        missing_patient = needs_patient and not data.get("patient_reference")
        if missing_patient and "patient_reference" not in self.errors:
            self.add_error(
                "patient_reference",
                ValidationError(
                    "Enter the patient's %(label)s, so that repeat patterns can be seen.",
                    code="required",
                    params={"label": patient_refs.label()},
                ),
            )
        no_words = not data.get("script_version") and not (data.get("own_words") or "").strip()
        if no_words and "own_words" not in self.errors:
            self.add_error(
                "own_words",
                ValidationError(
                    "Choose the script you used, or write the words you said.", code="required"
                ),
            )
        version, when = data.get("script_version"), data.get("occurred_at")
        if version and when and _approved_after(version, when):
            # Words approved after the incident cannot be what was said then.
            self.add_error(
                "script_version",
                ValidationError(
                    "These words were approved on %(day)s, after the incident. Choose the "
                    "wording in use then (now in the list), or write what you said under "
                    "\u201cYour own words\u201d.",
                    code="approved_later",
                    params={"day": local_time.exact_time(version.decided_at)},
                ),
            )
        if data.get("script_version") and (data.get("own_words") or "").strip():
            self.add_error(
                "own_words",
                ValidationError(
                    "You chose a script and also wrote your own words. Keep the one you "
                    "said: clear the other.",
                    code="both",
                ),
            )
        told, typed = data.get("supervisor_told"), data.get("supervisor_told_at")
        told_at = None
        if typed:
            told_at = data["supervisor_told_at"] = self._instant(
                typed.date(), typed.time(), "told_clock_choice"
            )
        if told and not typed and "supervisor_told_at" not in self.errors:
            self.add_error(
                "supervisor_told_at",
                ValidationError("Say when you told them.", code="required"),
            )
        if typed and not told:
            self.add_error(
                "supervisor_told", ValidationError("Choose who you told.", code="required")
            )
        if told_at and told_at > timezone.now() + CLOCK_SKEW:
            self.add_error(
                "supervisor_told_at",
                ValidationError("That time is in the future.", code="future"),
            )
        # In UTC: minutes taken off a local time can land in the hour the clocks skip or
        # repeat, which the local clock reads an hour out.
        elif (
            told_at
            and data.get("occurred_at")
            and (told_at.astimezone(UTC) < data["occurred_at"].astimezone(UTC) - CLOCK_SKEW)
        ):
            self.add_error(
                "supervisor_told_at",
                ValidationError(
                    "That is before the incident happened. Check both dates and times.",
                    code="before_incident",
                ),
            )
        return data

    def _instant(self, day: date, moment: time, choice_field: str) -> datetime | None:
        """The instant a typed local date and time means. On a clock-change night the
        form offers both readings in ``choice_field``; until one is chosen this is None
        and that field carries an error saying why."""
        result = local_time.to_instant(day, moment, self.cleaned_data.get(choice_field) or "")
        change = local_time.clock_change(day, moment)
        if change is not None:
            self.clock_changes[choice_field] = change
            self.fields[choice_field].choices = change.choices()
        if isinstance(result, local_time.ClockChange):
            self.add_error(
                choice_field,
                ValidationError(
                    result.explanation(datetime.combine(day, moment)), code="clock_change"
                ),
            )
            return None
        return result

    def _clean_when(self, data: dict) -> None:
        day, moment = data.get("occurred_date"), data.get("occurred_time")
        if day is None or moment is None:
            return
        result = self._instant(day, moment, "clock_choice")
        if result is None:
            return
        now = timezone.now()
        if result > now + CLOCK_SKEW:
            self.add_error(
                "occurred_time",
                ValidationError("That is in the future. Check the date and time.", code="future"),
            )
            return
        late_days = settings.BOUNDARIES["LATE_REPORT_DAYS"]
        if (
            result < now - timedelta(days=late_days)
            and not (data.get("late_reason") or "").strip()
        ):
            self.add_error(
                "late_reason",
                ValidationError(
                    "This happened more than %(days)s days ago: say briefly why it is "
                    "reported now.",
                    code="late",
                    params={"days": late_days},
                ),
            )
        data["occurred_at"] = result

    def prepare_clock_choices(self) -> None:
        """On an unbound or restored form, offer the clock choices that the initial
        dates and times need."""
        day = _parsed(forms.DateField(), self.initial.get("occurred_date"))
        moment = _parsed(forms.TimeField(), self.initial.get("occurred_time"))
        told = _parsed(LocalDateTimeField(), self.initial.get("supervisor_told_at"))
        readings = [(day, moment, "clock_choice")]
        if told:
            readings.append((told.date(), told.time(), "told_clock_choice"))
        for day, moment, choice_field in readings:
            change = local_time.clock_change(day, moment) if day and moment else None
            if change:
                self.clock_changes[choice_field] = change
                self.fields[choice_field].choices = change.choices()


def _parsed(field: forms.Field, value):
    """What ``field`` reads from a stored value, or None if it cannot."""
    try:
        return field.to_python(value)
    except (ValidationError, OverflowError):
        return None


class WitnessForm(forms.Form):
    name = TextField(
        label="Name",
        required=False,
        max_length=100,
        help_text="Not for a patient: no patient names are kept.",
    )
    # Needed for a witness (``clean``), but the row itself is optional: not marked
    # required, or a reporter with no witness would think she must choose one.
    role = forms.ChoiceField(
        label="Role", required=False, choices=[("", "Choose…"), *WitnessRole.choices]
    )
    contact = TextField(
        label="Contact or where they were (optional)",
        required=False,
        max_length=120,
        help_text="A ward, extension or email; for a patient, the bay or bed.",
    )

    def clean(self) -> dict:
        data = super().clean()
        named = bool((data.get("name") or "").strip())
        if not named and "name" in data:
            # Spaces alone are no name: kept, a patient's row would break the rule that
            # a patient's name is empty (a database constraint).
            data["name"] = ""
        if not data.get("role") and "role" not in self.errors:
            # A row left blank is no witness and never reaches here (empty_permitted).
            self.add_error(
                "role",
                ValidationError(
                    "Choose the witness's role. If there was no witness, leave the row empty.",
                    code="required",
                ),
            )
        elif data.get("role") == WitnessRole.PATIENT and named:
            self.add_error(
                "name",
                ValidationError(
                    "Leave the name empty for a patient: no patient names are kept. Say "
                    "where they were (bay or bed) instead.",
                    code="patient_named",
                ),
            )
        elif data.get("role") and data["role"] != WitnessRole.PATIENT and not named:
            self.add_error("name", ValidationError("Give the witness's name.", code="required"))
        return data

    def details(self) -> WitnessDetails:
        return WitnessDetails(
            name=self.cleaned_data["name"],
            role=self.cleaned_data["role"],
            contact=self.cleaned_data.get("contact", ""),
        )


class BaseWitnessFormSet(forms.BaseFormSet):
    default_error_messages = {
        "too_many_forms": (
            f"You can list up to {MAX_WITNESSES} witnesses. Name any others in the description."
        ),
        # Only a hand-edited form sends rows without their count.
        "missing_management_form": "The witnesses could not be read. Add them again.",
    }

    def _construct_form(self, i, **kwargs):
        # A blank row is "no witness", also a row restored from a draft.
        form = super()._construct_form(i, **kwargs)
        form.empty_permitted = True
        return form

    def witnesses(self) -> list[WitnessDetails]:
        return [
            form.details()
            for form in self.forms
            if form.has_changed() and form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]


WitnessFormSet = forms.formset_factory(
    WitnessForm,
    formset=BaseWitnessFormSet,
    extra=1,
    max_num=MAX_WITNESSES,
    validate_max=True,
    absolute_max=MAX_WITNESSES + 4,
)


class AddendumForm(forms.Form):
    # One per form drawn: the addendum is added once however often it is sent.
    token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)
    text = TextField(
        label="Add to this report",
        max_length=DESCRIPTION_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text='Something that happened later, for example "the patient called the ward '
        'again today".',
    )


STATUS_LABELS = {
    Status.SUBMITTED: "Not yet reviewed",
    Status.UNDER_REVIEW: "Under review",
    Status.CLOSED: "Closed",
}


class ReviewForm(forms.Form):
    """A supervisor's review. ``version`` is the incident's version when the page was
    read: saving against a newer one is a conflict, never an overwrite."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    status = forms.ChoiceField(label="Status", widget=forms.RadioSelect)
    actions = forms.MultipleChoiceField(
        label="What you have done",
        choices=REVIEW_ACTIONS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    feedback = TextField(
        label="Feedback to the reporter",
        required=False,
        max_length=DESCRIPTION_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The reporter sees this and is emailed that there is an update.",
    )
    internal_note = TextField(
        label="Internal note",
        required=False,
        max_length=DESCRIPTION_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Supervisors and managers only. Never shown to the reporter.",
    )
    reopen_reason = TextField(
        label="Why reopen it?",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Needed to reopen a closed incident.",
    )

    def __init__(self, *args, incident: Incident, **kwargs) -> None:
        kwargs.setdefault(
            "initial",
            {
                "version": incident.version,
                "status": incident.status,
                "actions": [name for name, _ in REVIEW_ACTIONS if getattr(incident, name)],
                "feedback": incident.feedback,
                "internal_note": incident.internal_note,
            },
        )
        super().__init__(*args, **kwargs)
        self.incident = incident
        allowed = sorted(ALLOWED_TRANSITIONS[Status(incident.status)], key=list(Status).index)
        self.fields["status"].choices = [(status, STATUS_LABELS[status]) for status in allowed]
        if incident.status != Status.CLOSED:
            del self.fields["reopen_reason"]

    def clean(self) -> dict:
        data = super().clean()
        # Only spaces is no feedback (and no note): nobody is told of an empty update.
        for name in ("feedback", "internal_note"):
            if name in data and not data[name].strip():
                data[name] = ""
        reopening = self.incident.status == Status.CLOSED and data.get("status") == (
            Status.UNDER_REVIEW
        )
        if reopening and not (data.get("reopen_reason") or "").strip():
            self.add_error(
                "reopen_reason",
                ValidationError("Say why the incident is being reopened.", code="required"),
            )
        return data

    def action_flags(self) -> dict[str, bool]:
        chosen = set(self.cleaned_data["actions"])
        return {name: name in chosen for name, _ in REVIEW_ACTIONS}

    def matches(self, incident: Incident) -> bool:
        """Whether this valid form says what ``incident`` holds already (the same
        review sent twice)."""
        data = self.cleaned_data
        return (
            data["status"] == incident.status
            and data["feedback"] == incident.feedback
            and data["internal_note"] == incident.internal_note
            and all(
                getattr(incident, name) == value for name, value in self.action_flags().items()
            )
        )


QUEUE_STATUSES = [
    ("open", "Open (not yet reviewed, or under review)"),
    (Status.SUBMITTED, "Not yet reviewed"),
    (Status.UNDER_REVIEW, "Under review"),
    (Status.CLOSED, "Closed"),
]


class QueueFilterForm(forms.Form):
    status = forms.ChoiceField(label="Status", choices=QUEUE_STATUSES, required=False)
    unit = forms.ModelChoiceField(
        label="Unit", queryset=Unit.objects.none(), required=False, empty_label="All my units"
    )
    request_type = forms.ModelChoiceField(
        label="Type",
        queryset=RequestType.objects.all(),
        to_field_name="code",
        required=False,
        empty_label="Any type",
    )
    severity = forms.TypedChoiceField(
        label="Severity",
        choices=[("", "Any severity"), *Severity.choices],
        coerce=int,
        required=False,
        empty_value=None,
    )
    occurred_from = forms.DateField(label="From", required=False, widget=widgets.DateInput())
    occurred_to = forms.DateField(label="To", required=False, widget=widgets.DateInput())

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = Unit.objects.supervised_by(user)
        # Rendered with plain widgets (the queue is the supervisor's busiest page).
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs["class"] = css

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("occurred_from"), data.get("occurred_to")
        if start and end and start > end:
            self.add_error(
                "occurred_to", ValidationError("Choose a date on or after “From”.", code="order")
            )
        return data


ALERT_ACTIONS = [
    ("", "Choose…"),
    ("Spoke with the patient", "Spoke with the patient"),
    ("Expectations set in writing", "Expectations set in writing"),
    ("Care transferred to a colleague", "Care transferred to a colleague"),
    ("Security involved", "Security involved"),
    ("Police informed", "Police informed"),
    ("Referred to the behaviour committee", "Referred to the behaviour committee"),
    ("Behavioural flag recommended", "Behavioural flag recommended"),
    ("Watching for now", "Watching for now"),
]


class AlertPageForm(forms.Form):
    """A form on an alert's page, which carries the newest of the alert's links
    (``AlertIncident``) that the page showed: an alert that a new incident joined
    since is not acknowledged or resolved unseen, whatever left it meanwhile (a count
    of incidents missed one joining as another was purged). Not required, so that a
    page drawn before this field existed still sends."""

    seen_link = forms.IntegerField(
        required=False, min_value=0, max_value=2**63 - 1, widget=forms.HiddenInput
    )

    # Both forms share a page: their fields' ids start with this, to stay unique.
    id_prefix = "alert"

    def __init__(self, *args, latest_link: int | None = None, **kwargs) -> None:
        if latest_link is not None:
            kwargs.setdefault("initial", {})["seen_link"] = latest_link
        kwargs.setdefault("auto_id", f"{self.id_prefix}_%s")
        super().__init__(*args, **kwargs)

    def clean(self) -> dict:
        cleaned = super().clean()
        # A page drawn before seen_link existed carries the number of incidents it
        # showed (``seen_incidents``): checked as before, so that a page left open
        # across the upgrade cannot resolve an alert a new incident joined unseen.
        # Only needed while such pages may be open (a session lasts 12 hours at most).
        legacy = self.data.get("seen_incidents", "")
        cleaned["seen_incidents"] = (
            int(legacy)
            if cleaned.get("seen_link") is None and re.fullmatch(r"[0-9]{1,9}", legacy)
            else None
        )
        return cleaned

    @classmethod
    def redrawn(cls, data, *, latest_link: int) -> AlertPageForm:
        """The form sent, to draw again on a page that shows the alert as it is now:
        what was typed, and the newest link the new page shows."""
        data = data.copy()
        data["seen_link"] = str(latest_link)
        data.pop("seen_incidents", None)
        return cls(data)


class AcknowledgeAlertForm(AlertPageForm):
    id_prefix = "acknowledge"
    action = forms.ChoiceField(label="What you are doing about it", choices=ALERT_ACTIONS)
    note = TextField(label="Note", max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class ResolveAlertForm(AlertPageForm):
    id_prefix = "resolve"
    resolution = TextField(
        label="How it was resolved", max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class ThresholdsForm(forms.ModelForm):
    # When the thresholds shown were last changed (ISO text): a page drawn before
    # another change is not saved over it unseen. Not required, so that a page drawn
    # before this field existed still sends.
    seen = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)

    class Meta:
        model = AlertThresholds
        fields = ["repeat_count", "repeat_days", "staff_count", "staff_days"]
        labels = {
            "repeat_count": "Incidents about one patient",
            "repeat_days": "within (days)",
            "staff_count": "Different staff reporting one patient",
            "staff_days": "within (days)",
        }
        # The limits ``clean`` holds them to, said before they are met.
        help_texts = {
            "repeat_count": "2 or more.",
            "repeat_days": "1 to 730 days.",
            "staff_count": "2 or more.",
            "staff_days": "1 to 730 days.",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.updated_at is not None:
            self.fields["seen"].initial = self.instance.updated_at.isoformat()

    def clean_seen(self) -> str | None:
        return self.cleaned_data["seen"] or None

    def clean(self) -> dict:
        data = super().clean()
        for name in ("repeat_count", "staff_count"):
            if data.get(name) is not None and data[name] < 2:
                self.add_error(name, ValidationError("Use 2 or more.", code="min"))
        for name in ("repeat_days", "staff_days"):
            if data.get(name) is not None and not 1 <= data[name] <= 730:
                self.add_error(name, ValidationError("Use 1 to 730 days.", code="range"))
        return data
