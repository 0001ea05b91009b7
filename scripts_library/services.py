"""Changes to the library, and the reads the incident form and the reports share.

Every change runs in one transaction, checks who is acting, and writes its audit event
inside that transaction. The database constraints on ScriptVersion back up the rules
checked here (one approved and one pending version per script, no self-approval).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone
from django.utils.text import slugify

from boundaries import audit
from incidents.models import Channel, Incident, PersonResponse, RequestType
from scripts_library.library import LIBRARY, LibraryScript
from scripts_library.models import (
    LADDER,
    Category,
    Script,
    ScriptStatus,
    ScriptUse,
    ScriptVersion,
    Stage,
    VersionState,
)
from scripts_library.permissions import may_approve, may_draft

if TYPE_CHECKING:
    from django.db.models import QuerySet
    from django.http import HttpRequest

    from boundaries.models import User

WITHDRAWN_ON_RETIREMENT = "Withdrawn when the script was retired."


class LibraryDataError(ValueError):
    """The starting library names a category, situation or channel the database lacks."""


# --- Reads ---------------------------------------------------------------------------


class LadderStep(NamedTuple):
    """One rung of a situation's ladder: a stage and the offered scripts for it."""

    stage: Stage
    scripts: list[Script]


def as_ladder(scripts: Iterable[Script]) -> list[LadderStep]:
    """Group scripts by stage, in ladder order; every stage is present."""
    by_stage: dict[str, list[Script]] = {stage: [] for stage in LADDER}
    for script in scripts:
        by_stage[script.stage].append(script)
    return [LadderStep(stage, by_stage[stage]) for stage in LADDER]


def ladder_for(
    request_type: RequestType | str, *, channel: Channel | None = None
) -> list[LadderStep]:
    """The offered scripts for a situation, grouped by stage in ladder order (first
    response, if they ask again, if it escalates). Every stage is present, possibly with
    no scripts. One query."""
    scripts = (
        Script.objects.offered()
        .for_request_type(request_type)
        .for_channel(channel)
        .select_related("current_version", "category")
        .in_ladder_order()
    )
    return as_ladder(scripts)


_USE_FIELDS = ("used", "accepted", "asked_again", "escalated")


@dataclass(frozen=True)
class ScriptUsage:
    """How often a script's words were used, and how the person responded."""

    script_id: int
    title: str
    used: int
    accepted: int
    asked_again: int
    escalated: int


def _responses(response: PersonResponse) -> Count:
    return Count("person_response", filter=Q(person_response=response))


def usage_by_script(incidents: QuerySet[Incident]) -> dict[int, ScriptUsage]:
    """Usage of each script over ``incidents`` (already scoped by the caller), keyed by
    script id, most used first. Two queries, whatever the number of incidents.

    Counted per script version, the id each incident row holds, then added up per
    script here: joining the versions, the scripts and their current titles to every
    incident made PostgreSQL look up three tables per row of a month (75 ms against
    59 ms for 100,000 incidents). The versions table is the library's size."""
    per_version = list(
        incidents.filter(script_version__isnull=False)
        .order_by()
        .values("script_version")
        .annotate(
            # Counting the response (never empty), not the id: the month's index carries
            # the version and the response, so PostgreSQL counts without reading rows.
            used=Count("person_response"),
            accepted=_responses(PersonResponse.ACCEPTED),
            asked_again=_responses(PersonResponse.ASKED_AGAIN),
            escalated=_responses(PersonResponse.ESCALATED),
        )
    )
    if not per_version:
        return {}
    # Each version's script and that script's current title: the library's size.
    scripts = {
        version: (script, title or "")
        for version, script, title in ScriptVersion.objects.filter(
            pk__in=[row["script_version"] for row in per_version]
        )
        .values_list("pk", "script", "script__current_version__title")
        .order_by()
    }
    totals: dict[int, dict[str, int]] = {}
    for row in per_version:
        script, _title = scripts[row["script_version"]]
        total = totals.setdefault(script, dict.fromkeys(_USE_FIELDS, 0))
        for name in _USE_FIELDS:
            total[name] += row[name]
    titles = dict(scripts.values())
    ranked = sorted(totals.items(), key=lambda item: (-item[1]["used"], item[0]))
    return {
        script_id: ScriptUsage(script_id=script_id, title=titles[script_id], **counts)
        for script_id, counts in ranked
    }


# --- Running counts of use, for the library's overview ---------------------------------

_RESPONSES = (PersonResponse.ACCEPTED, PersonResponse.ASKED_AGAIN, PersonResponse.ESCALATED)


def count_use(*, script_id: int, unit_id: int, response: str) -> None:
    """Add one use of the script in the unit: called by filing, in its transaction.

    One statement whether or not the unit has used the script before (an upsert, which
    PostgreSQL and SQLite both run), so two filings at once cannot both insert: the
    second adds to the first's row, and waits for its commit to do so. Filing calls this
    after the pattern rules, which lock the patient: patients' locks before this row's,
    as the retention purge takes them too, so the two never wait for each other in a
    circle."""
    table = ScriptUse._meta.db_table
    counts = [int(response == value) for value in _RESPONSES]
    add = ", ".join(f"{name} = {table}.{name} + excluded.{name}" for name in _USE_FIELDS)
    with connection.cursor() as cursor:
        cursor.execute(
            # Model and field names only; every value is a bound parameter.
            f"INSERT INTO {table} (script_id, unit_id, {', '.join(_USE_FIELDS)}) "  # noqa: S608  # nosec B608
            "VALUES (%s, %s, 1, %s, %s, %s) "
            f"ON CONFLICT (script_id, unit_id) DO UPDATE SET {add}",
            [script_id, unit_id, *counts],
        )


def tally_uses(incidents: QuerySet[Incident]) -> list[dict]:
    """The uses of each script in each unit over ``incidents``, one aggregate query:
    rows with ``script`` and ``unit`` (ids) and the four counts, in that order."""
    return list(
        incidents.filter(script_version__isnull=False)
        .order_by()
        .values("unit", script=F("script_version__script"))
        .annotate(
            used=Count("pk"),
            **{str(value): Count("pk", filter=Q(person_response=value)) for value in _RESPONSES},
        )
        .order_by("script", "unit")
    )


def subtract_uses(tallies: list[dict]) -> None:
    """Take uses away (incidents being deleted by the retention purge, in its
    transaction): ``tallies`` from ``tally_uses``, read before the deletion. Rows are
    updated in (script, unit) order, as every purge batch does, so that two never
    deadlock."""
    for tally in sorted(tallies, key=lambda row: (row["script"], row["unit"])):
        ScriptUse.objects.filter(script_id=tally["script"], unit_id=tally["unit"]).update(
            **{name: F(name) - tally[name] for name in _USE_FIELDS}
        )


@transaction.atomic
def recount_uses() -> int:
    """Rebuild every running count from the incidents (after loading incidents in bulk,
    or to repair them); returns how many rows were written. Reads every incident: a
    maintenance task, never part of a request.

    The counts are locked first, as a table on PostgreSQL: a filing that counts a
    script's first use in a unit inserts a row that no row lock could keep out, and the
    rebuilt rows then collided with it (found by review). The table lock waits for
    filings and purges that have counted to commit, so the tally below sees their
    incidents, and holds the next ones until this transaction ends; neither ever holds
    a lock this waits for while waiting for this (SQLite runs one writer at a time)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                # The model's table name only; no value from outside.
                f"LOCK TABLE {ScriptUse._meta.db_table} IN SHARE ROW EXCLUSIVE MODE"  # nosec B608
            )
    ScriptUse.objects.all().delete()
    rows = ScriptUse.objects.bulk_create(
        (
            ScriptUse(
                script_id=tally["script"],
                unit_id=tally["unit"],
                **{name: tally[name] for name in _USE_FIELDS},
            )
            for tally in tally_uses(Incident.objects.all())
        ),
        batch_size=1000,
    )
    return len(rows)


def usage_in_units(unit_ids: list[int] | None) -> dict[int, ScriptUsage]:
    """How often each script was used in these units (every unit when ``None``), keyed
    by script id, most used first: one query over the running counts, a row per script
    and unit, however many incidents there are."""
    uses = (
        ScriptUse.objects.all()
        if unit_ids is None
        else ScriptUse.objects.filter(unit_id__in=unit_ids)
    )
    rows = (
        uses.values("script", title=F("script__current_version__title"))
        .annotate(**{name: Sum(name) for name in _USE_FIELDS})
        .filter(used__gt=0)
        .order_by("-used", "script")
    )
    return {
        row["script"]: ScriptUsage(
            script_id=row["script"],
            title=row["title"] or "",
            **{name: row[name] for name in _USE_FIELDS},
        )
        for row in rows
    }


# --- Changes -------------------------------------------------------------------------


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise PermissionDenied(message)


def _locked(script: Script) -> Script:
    """The script row, locked until the transaction ends, so that two people acting on
    the same script at once are served one after the other."""
    return Script.objects.select_for_update().get(pk=script.pk)


def _set_placement(
    target: Script | ScriptVersion,
    *,
    category: Category,
    stage: str,
    request_types: Iterable[RequestType],
    channels: Iterable[Channel],
) -> None:
    """Save the script or version (with where it is offered) and its situations and
    channels."""
    target.category, target.stage = category, stage
    target.save()
    target.request_types.set(request_types)
    target.channels.set(channels)


def _copy_placement(version: ScriptVersion, script: Script) -> None:
    _set_placement(
        script,
        category=version.category,
        stage=version.stage,
        request_types=version.request_types.all(),
        channels=version.channels.all(),
    )


def _made_with(token: uuid.UUID | None, author: User) -> Script | None:
    """The script a "new script" form with this token made already, if any."""
    if token is None:
        return None
    made = Script.objects.filter(submission_token=token).first()
    if made is not None:
        _require(made.created_by_id == author.pk, "This form is out of date: open it again.")
    return made


@transaction.atomic
def draft_script(
    *,
    author: User,
    title: str,
    text: str,
    guidance: str,
    category: Category,
    stage: str,
    request_types: Sequence[RequestType],
    channels: Sequence[Channel] = (),
    token: uuid.UUID | None = None,
    request: HttpRequest | None = None,
) -> Script:
    """Start a new script with its first version as a draft. Nothing reaches reporters
    until a manager who is not the author approves it. A ``token`` (the form's) used
    already by this author returns the script it made: a double click makes one."""
    _require(may_draft(author), "You do not have permission to draft scripts.")
    made = _made_with(token, author)
    if made is not None:
        return made
    # The key ends with the row's id, so it can never collide with a key in the
    # starting library (which would stop load_scripts from adding that script).
    try:
        with transaction.atomic():
            script = Script.objects.create(
                key=uuid.uuid4().hex,
                category=category,
                stage=stage,
                created_by=author,
                submission_token=token,
            )
    except IntegrityError:
        # The same form, sent again a moment ago by another request, won.
        made = _made_with(token, author)
        if made is None:
            raise
        return made
    script.key = f"{slugify(title)[:60].strip('-') or 'script'}-{script.pk}"
    version = ScriptVersion(
        script=script, number=1, title=title, text=text, guidance=guidance, author=author
    )
    placement = {"category": category, "stage": stage, "request_types": request_types}
    _set_placement(version, **placement, channels=channels)
    version.writers.add(author)
    _set_placement(script, **placement, channels=channels)
    audit.record(action=audit.Action.SCRIPT_DRAFTED, actor=author, request=request, target=script)
    return script


def edit_base(script: Script) -> ScriptVersion:
    """The version the next edit starts from: the pending one, or else the newest."""
    return script.versions.pending().first() or script.versions.order_by("-number").first()


def _words(title, text, guidance, category_id, stage, request_type_ids, channel_ids) -> list:
    return [
        title,
        text,
        guidance,
        category_id,
        stage,
        sorted(request_type_ids),
        sorted(channel_ids),
    ]


def _words_of(version: ScriptVersion) -> list:
    return _words(
        version.title,
        version.text,
        version.guidance,
        version.category_id,
        version.stage,
        # Through .all(): a page that prefetched them asks no more.
        [situation.pk for situation in version.request_types.all()],
        [channel.pk for channel in version.channels.all()],
    )


def edit_mark(version: ScriptVersion) -> str:
    """What an edit page drawn from ``version`` (``edit_base``) carries, for
    ``edit_script``'s ``seen``: it changes with the version's words, placement and
    state, and when another version takes its place."""
    drawn = [version.pk, version.state, *_words_of(version)]
    return hashlib.sha256(json.dumps(drawn).encode()).hexdigest()[:32]


@transaction.atomic
def edit_script(
    *,
    editor: User,
    script: Script,
    title: str,
    text: str,
    guidance: str,
    category: Category,
    stage: str,
    request_types: Sequence[RequestType],
    channels: Sequence[Channel] = (),
    seen: str | None = None,
    request: HttpRequest | None = None,
) -> ScriptVersion:
    """Write the script's next wording as a draft. An approved version is never changed:
    it stays offered until the new one is approved. A draft or proposal already pending
    is revised in place (a proposal goes back to draft), and the editor becomes its
    author, since they now answer for the words.

    ``seen``: the ``edit_mark`` of the version the editor's page was drawn from (None:
    not checked). Words written on a page drawn before a colleague's draft, a proposal
    or a decision are refused (ValidationError, code "changed"), unless they are the
    editor's own draft as it stands (the same form sent twice): nothing to do."""
    _require(may_draft(editor), "You do not have permission to edit scripts.")
    script = _locked(script)
    version = script.versions.pending().first()
    if seen is not None and seen != edit_mark(version or edit_base(script)):
        asked = _words(
            title,
            text,
            guidance,
            category.pk,
            stage,
            [situation.pk for situation in request_types],
            [channel.pk for channel in channels],
        )
        if (
            version is not None
            and (version.state, version.author_id) == (VersionState.DRAFT, editor.pk)
            and _words_of(version) == asked
        ):
            return version
        raise ValidationError(
            "These words were changed after you opened this page, so yours were not "
            "saved: someone saved a draft, proposed it, or a manager decided on it. The "
            "words as they are now are shown below; yours are kept in the form, to save "
            "again if they should replace them.",
            code="changed",
        )
    earlier_writers = []
    if version is None:
        latest = script.versions.order_by("-number").first()
        number = (latest.number if latest else 0) + 1
        version = ScriptVersion(script=script, number=number)
        if latest is not None and latest.state == VersionState.REJECTED:
            # The edit starts from the words sent back: whoever wrote them still has.
            earlier_writers = list(latest.writers.all())
    version.title, version.text, version.guidance = title, text, guidance
    version.author, version.state, version.proposed_at = editor, VersionState.DRAFT, None
    placement = {"category": category, "stage": stage, "request_types": request_types}
    _set_placement(version, **placement, channels=channels)
    version.writers.add(editor, *earlier_writers)
    if script.status == ScriptStatus.DRAFT:
        # Never offered yet: the script's own placement simply follows its draft.
        _set_placement(script, **placement, channels=channels)
    audit.record(action=audit.Action.SCRIPT_DRAFTED, actor=editor, request=request, target=script)
    return version


@transaction.atomic
def propose_version(
    *,
    proposer: User,
    version: ScriptVersion,
    seen: str | None = None,
    request: HttpRequest | None = None,
) -> ScriptVersion:
    """Put a draft forward for a manager's approval. ``seen``: the ``edit_mark`` of the
    draft as the proposer's page showed it (None: not checked); words changed since are
    not proposed unread. Proposed already meanwhile (the same form sent twice, or by a
    co-writer), there is nothing to do; decided on meanwhile, the proposer is told."""
    _require(may_draft(proposer), "You do not have permission to propose scripts.")
    script = _locked(version.script)
    version = script.versions.get(pk=version.pk)
    if seen is not None and version.state not in (VersionState.DRAFT, VersionState.PROPOSED):
        raise ValidationError(
            "A manager decided on these words after you opened the page, so there is "
            "nothing to propose: the page shows what happened to them.",
            code="decided",
        )
    if seen is not None and seen != edit_mark(version):
        if version.state == VersionState.PROPOSED:
            return version
        raise ValidationError(
            "These words were changed after you opened the page, so they were not "
            "proposed. Read them again below before you propose them.",
            code="changed",
        )
    if version.state != VersionState.DRAFT:
        raise ValidationError("Only a draft can be proposed.", code="not_draft")
    version.state, version.proposed_at = VersionState.PROPOSED, timezone.now()
    version.save(update_fields=["state", "proposed_at"])
    audit.record(
        action=audit.Action.SCRIPT_PROPOSED, actor=proposer, request=request, target=script
    )
    return version


def _made_already(
    approver: User, version: ScriptVersion, seen: str | None, *, decision: VersionState
) -> bool:
    """The same decision, by the same approver, on the proposal their page showed: the
    form was sent twice (a double click), and there is nothing more to do."""
    return (
        seen is not None
        and version.state == decision
        and version.decided_by_id == approver.pk
        and version.proposed_at is not None
        and seen == version.proposed_at.isoformat()
    )


def _check_decision(approver: User, version: ScriptVersion, seen: str | None) -> None:
    """``seen`` is the proposal the approver's page showed (its ``proposed_at`` as ISO
    text; None when no page is involved): words changed and proposed again since then
    are not the words they read."""
    if version.state != VersionState.PROPOSED:
        raise ValidationError(
            "This version is not awaiting approval any more.", code="not_proposed"
        )
    if version.author_id == approver.pk or version.writers.filter(pk=approver.pk).exists():
        raise ValidationError(
            "You wrote this version, so another approver must decide on it.",
            code="own_version",
        )
    if seen is not None and seen != version.proposed_at.isoformat():
        raise ValidationError(
            "These words were changed and proposed again after you opened the page. "
            "Read them again below before you decide.",
            code="changed",
        )


@transaction.atomic
def approve_version(
    *,
    approver: User,
    version: ScriptVersion,
    seen: str | None = None,
    request: HttpRequest | None = None,
) -> ScriptVersion:
    """Approve a proposed version: it becomes the words and placement reporters are
    offered, and the version it replaces is kept as superseded. The same approval sent
    twice (a double click) does nothing the second time."""
    _require(may_approve(approver), "Only a manager who approves scripts can approve one.")
    script = _locked(version.script)
    version = script.versions.get(pk=version.pk)
    if _made_already(approver, version, seen, decision=VersionState.APPROVED):
        return version
    _check_decision(approver, version, seen)
    # Before the new approval: the database allows one approved version per script.
    script.versions.filter(state=VersionState.APPROVED).update(state=VersionState.SUPERSEDED)
    version.state, version.decided_by, version.decided_at = (
        VersionState.APPROVED,
        approver,
        timezone.now(),
    )
    version.save(update_fields=["state", "decided_by", "decided_at"])
    script.current_version, script.status = version, ScriptStatus.APPROVED
    _copy_placement(version, script)
    audit.record(
        action=audit.Action.SCRIPT_APPROVED, actor=approver, request=request, target=script
    )
    return version


@transaction.atomic
def reject_version(
    *,
    approver: User,
    version: ScriptVersion,
    note: str,
    seen: str | None = None,
    request: HttpRequest | None = None,
) -> ScriptVersion:
    """Send a proposed version back to its author with a note saying why. Whatever was
    approved before stays offered. Sent back twice by the same page (a double click),
    the second does nothing."""
    _require(may_approve(approver), "Only a manager who approves scripts can send one back.")
    script = _locked(version.script)
    version = script.versions.get(pk=version.pk)
    if _made_already(approver, version, seen, decision=VersionState.REJECTED):
        return version
    _check_decision(approver, version, seen)
    if not note.strip():
        raise ValidationError("Say why you are sending it back.", code="note_required")
    version.state, version.decided_by, version.decided_at = (
        VersionState.REJECTED,
        approver,
        timezone.now(),
    )
    version.decision_note = note.strip()
    version.save(update_fields=["state", "decided_by", "decided_at", "decision_note"])
    audit.record(
        action=audit.Action.SCRIPT_REJECTED, actor=approver, request=request, target=script
    )
    return version


@transaction.atomic
def retire_script(*, approver: User, script: Script, request: HttpRequest | None = None) -> Script:
    """Stop offering a script. Its versions stay, so incidents keep the words they used;
    a draft or proposal still pending is withdrawn."""
    _require(may_approve(approver), "Only a manager who approves scripts can retire one.")
    script = _locked(script)
    if script.status == ScriptStatus.RETIRED:
        raise ValidationError("This script is already retired.", code="already_retired")
    now = timezone.now()
    script.versions.pending().update(
        state=VersionState.REJECTED,
        decided_by=approver,
        decided_at=now,
        decision_note=WITHDRAWN_ON_RETIREMENT,
    )
    script.versions.filter(state=VersionState.APPROVED).update(state=VersionState.RETIRED)
    script.status = ScriptStatus.RETIRED
    script.save(update_fields=["status"])
    audit.record(
        action=audit.Action.SCRIPT_RETIRED, actor=approver, request=request, target=script
    )
    return script


@transaction.atomic
def load_library(
    *, entries: Sequence[LibraryScript] = LIBRARY, request: HttpRequest | None = None
) -> list[Script]:
    """Add the starting library's scripts whose keys are not yet in the database, each
    approved as the organisation's own (no author). A script already present is left
    exactly as the organisation has edited, approved or retired it, so running this
    again changes nothing. Returns the scripts added."""
    present = set(
        Script.objects.filter(key__in=[e.key for e in entries]).values_list("key", flat=True)
    )
    missing = [entry for entry in entries if entry.key not in present]
    if not missing:
        return []
    _check_library_codes(missing)
    categories = {c.code: c for c in Category.objects.all()}
    # Inserted in bulk: a handful of queries for the whole library instead of hundreds.
    scripts = Script.objects.bulk_create(
        Script(key=e.key, category=categories[e.category], stage=e.stage) for e in missing
    )
    versions = ScriptVersion.objects.bulk_create(
        ScriptVersion(
            script=script,
            number=1,
            title=entry.title,
            text=entry.text,
            guidance=entry.guidance,
            category=script.category,
            stage=entry.stage,
            state=VersionState.APPROVED,
            decided_at=timezone.now(),
        )
        for script, entry in zip(scripts, missing, strict=True)
    )
    for script, version in zip(scripts, versions, strict=True):
        script.current_version, script.status = version, ScriptStatus.APPROVED
    Script.objects.bulk_update(scripts, ["current_version", "status"])
    _link_library_placement(scripts, versions, missing)
    for script in scripts:
        audit.record(action=audit.Action.SCRIPT_APPROVED, request=request, target=script)
    return scripts


def _check_library_codes(entries: Sequence[LibraryScript]) -> None:
    known = {
        "category": set(Category.objects.values_list("code", flat=True)),
        "situation": set(RequestType.objects.values_list("code", flat=True)),
        "channel": set(Channel.objects.values_list("code", flat=True)),
    }
    for entry in entries:
        named = [("category", entry.category)]
        named += [("situation", code) for code in entry.request_types]
        named += [("channel", code) for code in entry.channels]
        for kind, code in named:
            if code not in known[kind]:
                raise LibraryDataError(
                    f"Script {entry.key!r} names the {kind} {code!r}, "
                    "which is not in the database."
                )


def _link_library_placement(
    scripts: list[Script], versions: list[ScriptVersion], entries: Sequence[LibraryScript]
) -> None:
    request_types = dict(RequestType.objects.values_list("code", "pk"))
    channels = dict(Channel.objects.values_list("code", "pk"))
    links: dict[type, list] = {
        Script.request_types.through: [],
        Script.channels.through: [],
        ScriptVersion.request_types.through: [],
        ScriptVersion.channels.through: [],
    }
    for script, version, entry in zip(scripts, versions, entries, strict=True):
        for code in entry.request_types:
            links[Script.request_types.through].append(
                Script.request_types.through(script=script, requesttype_id=request_types[code])
            )
            links[ScriptVersion.request_types.through].append(
                ScriptVersion.request_types.through(
                    scriptversion=version, requesttype_id=request_types[code]
                )
            )
        for code in entry.channels:
            links[Script.channels.through].append(
                Script.channels.through(script=script, channel_id=channels[code])
            )
            links[ScriptVersion.channels.through].append(
                ScriptVersion.channels.through(scriptversion=version, channel_id=channels[code])
            )
    for through, rows in links.items():
        through.objects.bulk_create(rows)
