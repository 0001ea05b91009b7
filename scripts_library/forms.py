"""Forms for the library: searching, writing a version, and sending one back."""

from __future__ import annotations

import re

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Fieldset, Layout
from django import forms
from django.core.exceptions import ValidationError

from incidents.forms import TextField
from incidents.models import Channel, RequestType
from scripts_library.models import SEARCH_MAX_LENGTH, Category, ScriptVersion, Stage

# Short enough to say aloud in one breath or two.
WORDS_MAX_LENGTH = 300
WORDS_MAX_SENTENCES = 2
# Words ending in a full stop that do not end a sentence ("8 a.m. and", "Dr. Patel").
_ABBREVIATIONS = frozenset(
    {"dr", "mr", "mrs", "ms", "mx", "prof", "st", "e.g", "eg", "i.e", "ie", "etc", "a.m"}
    | {"p.m", "approx", "ext", "tel", "vs"}
)
_CLOSING = "\"'\u201d\u2019)]"
_OPENING = "\"'\u201c\u2018(["


def sentence_count(text: str) -> int:
    """How many sentences ``text`` holds: a sentence ends at . ! or ? followed by the end
    of the text or by a word starting with a capital or a digit, unless the word ending
    there is a common abbreviation; words after the last end are a sentence too."""
    words = text.split()
    count = 0
    for index, word in enumerate(words):
        bare = word.rstrip(_CLOSING)
        if not bare or bare[-1] not in ".!?":
            continue
        if index == len(words) - 1:
            count += 1
            continue
        following = words[index + 1].lstrip(_OPENING)[:1]
        abbreviation = bare[-1] == "." and bare.rstrip(".").lower() in _ABBREVIATIONS
        if (following.isupper() or following.isdigit()) and not abbreviation:
            count += 1
    if words and words[-1].rstrip(_CLOSING)[-1:] not in (".", "!", "?"):
        count += 1
    return count


class ChoicesById(forms.ModelMultipleChoiceField):
    """Ticked boxes by id. An id no database column can hold (from a hand-edited form)
    is refused like any unknown choice before the query runs: SQLite raises on it."""

    def _check_values(self, value):
        for key in value:
            number = str(key).strip()
            if re.fullmatch(r"-?[0-9]+", number) and not -(2**63) <= int(number) < 2**63:
                raise ValidationError(
                    self.error_messages["invalid_choice"],
                    code="invalid_choice",
                    params={"value": key},
                )
        return super()._check_values(value)


class SearchForm(forms.Form):
    # The box stops typing at the limit; a longer query (from a link) is cut, not refused.
    q = forms.CharField(
        label="Search the scripts",
        required=False,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "class": "form-control",
                "placeholder": "for example: gift",
                "maxlength": SEARCH_MAX_LENGTH,
            }
        ),
    )

    def clean_q(self) -> str:
        return self.cleaned_data["q"][:SEARCH_MAX_LENGTH]


class ScriptForm(forms.Form):
    """A version's words and where it is offered. The same form writes a new script and
    the next version of an existing one."""

    # TextField: refuses invisible control characters (which filing would copy into the
    # incident's words used) and counts a new line once, as the text box does.
    title = TextField(
        max_length=120,
        help_text="A short name staff will recognise, for example “Gift: decline with thanks”.",
    )
    text = TextField(
        label="The words to say",
        max_length=WORDS_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=f"One or two sentences, at most {WORDS_MAX_LENGTH} characters. Promise "
        "nothing staff cannot keep.",
    )
    guidance = TextField(
        label="Guidance for staff",
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="When to use these words, and what to do next.",
    )
    category = forms.ModelChoiceField(
        label="Approach", queryset=Category.objects.all(), empty_label="Choose an approach"
    )
    stage = forms.ChoiceField(
        label="When to say it", choices=Stage.choices, widget=forms.RadioSelect
    )
    request_types = ChoicesById(
        label="Situations",
        queryset=RequestType.objects.active(),
        widget=forms.CheckboxSelectMultiple,
        help_text="The kinds of request these words answer.",
        error_messages={"required": "Choose at least one situation."},
    )
    channels = ChoicesById(
        label="Channels",
        queryset=Channel.objects.active(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Leave all unticked if the words fit any channel.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        self.helper.layout = Layout(
            Fieldset("The words", "title", "text", "guidance"),
            Fieldset("Where it is offered", "category", "stage", "request_types", "channels"),
        )

    @classmethod
    def initial_from(cls, version: ScriptVersion) -> dict:
        """Start the next version from an existing one."""
        return {
            "title": version.title,
            "text": version.text,
            "guidance": version.guidance,
            "category": version.category_id,
            "stage": version.stage,
            "request_types": list(version.request_types.all()),
            "channels": list(version.channels.all()),
        }

    def clean_title(self) -> str:
        title = self.cleaned_data["title"].strip()
        if not title:
            raise ValidationError("Give the script a short title.", code="required")
        return title

    def clean_text(self) -> str:
        text = " ".join(self.cleaned_data["text"].split())
        if not text:
            raise ValidationError("Write the words to say.", code="required")
        if sentence_count(text) > WORDS_MAX_SENTENCES:
            raise ValidationError(
                "Keep it to one or two sentences, so it can be said aloud.",
                code="too_many_sentences",
            )
        return text

    def clean_guidance(self) -> str:
        return self.cleaned_data["guidance"].strip()


class RejectForm(forms.Form):
    note = TextField(
        label="Why are you sending it back?",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The author sees this note. Say what to change.",
        error_messages={"required": "Say why you are sending it back."},
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True

    def clean_note(self) -> str:
        note = self.cleaned_data["note"].strip()
        if not note:
            raise ValidationError("Say why you are sending it back.", code="required")
        return note
