"""Keyset pagination: "older than this row" instead of OFFSET and COUNT(*).

Django's Paginator counts the whole table on every page and reads past every skipped
row; on a large incident table that costs tens of milliseconds a page and seconds for
deep pages. A keyset page reads only the rows it shows, at any depth.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import IntegerField, Q, QuerySet, UUIDField
from django.http import HttpRequest


@dataclass
class KeysetPage:
    items: list
    next_cursor: str | None
    is_first: bool

    @classmethod
    def from_request(
        cls,
        request: HttpRequest,
        queryset: QuerySet,
        *,
        size: int,
        keys: tuple[str, ...] = ("-occurred_at", "-id"),
        param: str = "after",
    ) -> KeysetPage:
        """One page of ``queryset`` in ``keys`` order (descending keys start with "-"),
        continuing after the row named by the ``param`` query parameter."""
        values = decode_cursor(request.GET.get(param, ""), len(keys))
        if values is not None:
            values = _fitting(queryset.model, keys, values)
        queryset = queryset.order_by(*keys)
        if values is not None:
            queryset = queryset.filter(_after(keys, values))
        rows = list(queryset[: size + 1])
        more = len(rows) > size
        rows = rows[:size]
        cursor = encode_cursor([_value(rows[-1], key) for key in keys]) if more else None
        return cls(items=rows, next_cursor=cursor, is_first=values is None)


def _fitting(model, keys: tuple[str, ...], values: list) -> list | None:
    """``values`` if each is what its key's column holds, else None (the first page). A
    cursor comes from the address bar: one edited by hand may carry text where a time
    belongs, or a number no column can hold, which the database would refuse."""
    fitted = []
    for key, value in zip(keys, values, strict=True):
        field = _field(model, key)
        try:
            if isinstance(field, UUIDField) and isinstance(value, str):
                value = field.to_python(value)  # a cursor carries it as text
            if type(field.to_python(value)) is not type(value):
                return None
        except (ValidationError, TypeError, ValueError):
            return None
        if isinstance(value, str) and "\x00" in value:
            return None  # PostgreSQL text cannot hold it
        if isinstance(value, datetime) and not 1 < value.year < 9999:
            return None  # would overflow when moved to UTC
        if isinstance(field, IntegerField):
            low, high = connection.ops.integer_field_range(field.get_internal_type())
            if (low is not None and value < low) or (high is not None and value > high):
                return None
        fitted.append(value)
    return fitted


def _field(model, key: str):
    """The column a key names, through relations as ``_value`` follows them
    (``"-unit__code"``: the unit's code)."""
    *relations, name = key.lstrip("-").split("__")
    for relation in relations:
        model = model._meta.get_field(relation).related_model
    return model._meta.get_field(name)


def _value(row: Any, key: str) -> Any:
    value = row
    for part in key.lstrip("-").split("__"):
        value = getattr(value, part)
    return value


def _after(keys: tuple[str, ...], values: list) -> Q:
    """Rows strictly after ``values`` in the order given by ``keys``:
    (a > x) or (a = x and b > y) or ..., with < for descending keys."""
    condition = Q()
    for index, key in enumerate(keys):
        name = key.lstrip("-")
        lookup = "lt" if key.startswith("-") else "gt"
        step = Q(**{f"{name}__{lookup}": values[index]})
        for earlier_key, earlier_value in zip(keys[:index], values[:index], strict=True):
            step &= Q(**{earlier_key.lstrip("-"): earlier_value})
        condition |= step
    return condition


def encode_cursor(values: list) -> str:
    encoded = [
        {"t": value.isoformat()}
        if isinstance(value, datetime)
        else str(value)
        if isinstance(value, uuid.UUID)
        else value
        for value in values
    ]
    raw = json.dumps(encoded, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, length: int) -> list | None:
    """The values in a cursor, or None for a missing or malformed one (first page)."""
    if not cursor or len(cursor) > 200:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        decoded = [
            datetime.fromisoformat(value["t"]) if isinstance(value, dict) else value
            for value in values
        ]
    except (ValueError, TypeError, KeyError):
        return None
    if len(decoded) != length or not all(
        isinstance(value, (int, str, datetime)) and not isinstance(value, bool)
        for value in decoded
    ):
        return None
    if any(isinstance(value, datetime) and value.tzinfo is None for value in decoded):
        return None
    return decoded
