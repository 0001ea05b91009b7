"""Change pages of the admin site drawn before someone else's change save nothing.

A change page carries a mark of what it showed: a digest of each field, and one of the
rows of each inline (a person's units). Sent after another change (a colleague's, or
another tab's) to something it shows, and differing from what is saved now, the page
saves nothing: it names what differs with the value saved now, at the top of the form,
and keeps what was typed. Sent again as it then stands, it is saved. The same change
sent twice, or made by both, is saved: a page that agrees with what is saved is not
stale.

The admin site's change views run in one transaction: the row is locked when the form
is checked, so two pages saved at once are judged one after the other.
"""

from __future__ import annotations

import hashlib
import json

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import display_for_value
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.forms.models import BaseInlineFormSet, model_to_dict
from django.utils.functional import cached_property
from django.utils.text import capfirst

SEEN = "seen"


def _saved(*, instance: models.Model, name: str) -> object:
    """A field's saved value in a form that encodes the same way each time: the id of a
    foreign key, the sorted ids of a many-to-many."""
    field = instance._meta.get_field(name)
    if field.many_to_many:
        return sorted(getattr(instance, name).values_list("pk", flat=True))
    return field.value_from_object(instance)


def _digest(value: object) -> str:
    # str() for what JSON has no type for (dates, decimals, UUIDs): the same saved value
    # reads back the same, so it gives the same digest.
    encoded = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()[:16]


def _parsed(mark: str) -> dict[str, str]:
    """The digests of a page's mark, by field ("name:digest name:digest ...")."""
    return dict(part.partition(":")[::2] for part in mark.split())


def shown(*, instance: models.Model, name: str) -> str:
    """A saved value as the page shows it: "yes" or "no", a choice's label, names."""
    field = instance._meta.get_field(name)
    if field.many_to_many:
        return ", ".join(sorted(str(item) for item in getattr(instance, name).all())) or "none"
    value = getattr(instance, name)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if field.choices:
        value = dict(field.flatchoices).get(value, value)
    return str(display_for_value(value, "none")) or "none"


class StalePageForm(forms.ModelForm):
    """A change form with the mark of what its page showed (``seen``, a hidden field
    that StalePageAdmin's template draws). Mix it in before the form's own class."""

    # Who or what the page is about, in the message ("this unit"); the model's name
    # unless set.
    stale_name = ""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            return
        self.fields[SEEN] = forms.CharField(required=False, widget=forms.HiddenInput)
        if not self.is_bound:
            self.fields[SEEN].initial = self._mark()

    def _marked(self) -> list[str]:
        """The fields the page can change: the model's, neither disabled nor read-only
        (read-only fields are not in the form: the page cannot put them back)."""
        names = []
        for name, field in self.fields.items():
            if name == SEEN or field.disabled:
                continue
            try:
                self.instance._meta.get_field(name)
            except FieldDoesNotExist:
                continue
            names.append(name)
        return names

    def _mark(self) -> str:
        return " ".join(
            f"{name}:{_digest(_saved(instance=self.instance, name=name))}"
            for name in self._marked()
        )

    def clean(self) -> dict:
        cleaned = super().clean()
        seen = cleaned.get(SEEN)
        if self.instance.pk is None or not seen:
            return cleaned
        # Locked until the admin's save commits, and read again under the lock: what the
        # form does not change (a person's sign-out stamp) is saved as it is now, not as
        # it was when this request began.
        model = type(self.instance)
        self.instance.refresh_from_db(from_queryset=model._base_manager.select_for_update())
        for name, field in self.fields.items():
            if field.disabled:
                cleaned.pop(name, None)  # the value read under the lock stays
        drawn, now = _parsed(seen), _parsed(self._mark())
        saved = model_to_dict(self.instance, fields=list(now))
        differ = [
            name
            for name in now
            if drawn.get(name) != now[name]
            and self.fields[name].has_changed(saved.get(name), self[name].data)
        ]
        if not differ:
            return cleaned  # nothing shown has changed, or the page agrees with it
        # Drawn again to send over the latest change, once it has been seen.
        self.data = self.data.copy()
        self.data[SEEN] = " ".join(f"{name}:{digest}" for name, digest in now.items())
        about = self.stale_name or model._meta.verbose_name
        raise ValidationError(
            f"Someone else changed this {about} after you opened this page, so nothing was "
            "saved. Your page differs from what is saved now in: "
            + "; ".join(
                f"{self[name].label} (saved now: {shown(instance=self.instance, name=name)})"
                for name in differ
            )
            + ". Check these, then save again to apply your page as it is.",
            code="changed",
        )


class StalePageFormSet(BaseInlineFormSet):
    """An inline's rows (a person's units), with the mark of the rows its page showed,
    carried in the formset's management form (``<prefix>-seen``)."""

    # What the rows are, in the message ("this person's units"); the model's name
    # unless set.
    stale_name = ""

    @property
    def _seen_key(self) -> str:
        return f"{self.prefix}-{SEEN}"

    def _marked(self) -> list[str]:
        names = []
        for name in self.form.base_fields:
            try:
                field = self.model._meta.get_field(name)
            except FieldDoesNotExist:
                continue
            if field != self.fk:
                names.append(name)
        return names

    def _mark(self, rows) -> str:
        return _digest(
            [
                [row.pk, *(_saved(instance=row, name=name) for name in self._marked())]
                for row in rows
            ]
        )

    @cached_property
    def management_form(self) -> forms.Form:
        form = super().management_form
        if self.instance.pk is not None:
            form.fields[SEEN] = forms.CharField(required=False, widget=forms.HiddenInput)
            if not self.is_bound:
                form.fields[SEEN].initial = self._mark(self.get_queryset())
        return form

    def clean(self) -> None:
        super().clean()
        seen = self.data.get(self._seen_key)
        if self.instance.pk is None or not seen:
            return
        # The parent's form (StalePageForm) holds the lock on the row these belong to.
        rows = list(self.get_queryset().all())
        now = self._mark(rows)
        if seen == now or not self.has_changed():
            return
        data = self._without_rows_removed(self.data.copy(), kept={row.pk for row in rows})
        data[self._seen_key] = now
        self.data = data
        # Drawn again from that data: the forms, and their errors (a removed row's id is
        # not a valid choice any more, and would refuse every save, unseen).
        for cached in ("forms", "management_form"):
            self.__dict__.pop(cached, None)
        self._errors = [form.errors for form in self.forms]
        about = self.stale_name or f"the {self.model._meta.verbose_name_plural}"
        listed = "; ".join(
            ", ".join(
                f"{self.form.base_fields[name].label or name}: {shown(instance=row, name=name)}"
                for name in self._marked()
            )
            for row in rows
        )
        raise ValidationError(
            f"{capfirst(about)} changed after you opened this page (someone else's change, or "
            f"this page sent before), so nothing was saved. Saved now: {listed or 'none'}. "
            "Check them, then save again to apply your page as it is.",
            code="changed",
        )

    def _without_rows_removed(self, data, *, kept: set) -> dict:
        """The page's rows, as it sent them, but for those removed since it was drawn
        (by a colleague): the rows are numbered again, and the counts set to match."""
        pk_name = self.model._meta.pk.name
        total = int(data.get(f"{self.prefix}-TOTAL_FORMS") or 0)
        initial = int(data.get(f"{self.prefix}-INITIAL_FORMS") or 0)
        rows: list[dict] = []
        kept_initial = 0
        for index in range(total):
            prefix = f"{self.prefix}-{index}-"
            fields = {key[len(prefix) :]: key for key in data if key.startswith(prefix)}
            row = {name: data.getlist(key) for name, key in fields.items()}
            for key in fields.values():
                del data[key]
            row_id = (row.get(pk_name) or [""])[0]
            if index < initial and not (row_id.isdigit() and int(row_id) in kept):
                continue  # removed meanwhile
            kept_initial += index < initial
            rows.append(row)
        for index, row in enumerate(rows):
            for name, values in row.items():
                data.setlist(f"{self.prefix}-{index}-{name}", values)
        data[f"{self.prefix}-TOTAL_FORMS"] = str(len(rows))
        data[f"{self.prefix}-INITIAL_FORMS"] = str(kept_initial)
        return data


class StalePageAdmin(admin.ModelAdmin):
    """An admin page whose change form saves nothing when drawn before another change
    (StalePageForm; an inline's formset uses StalePageFormSet)."""

    form = StalePageForm
    # Carries the form's "seen", which no fieldset shows.
    change_form_template = "admin/stale_page_change_form.html"
