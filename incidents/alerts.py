"""Pattern alerts: rules over incidents that raise something a supervisor must look at.

The rules (thresholds in AlertThresholds, which managers can change):

(a) repeat patient: the same patient in at least ``repeat_count`` incidents within
    ``repeat_days`` days;
(b) several staff: the same patient reported by at least ``staff_count`` different staff
    within ``staff_days`` days;
(c) high severity: any high-severity incident;
(d) escalation: an incident more severe than that patient's previous one, by when they
    happened (a late report of a milder incident before a graver one counts too).

Alerts are raised inside the transaction that files the incident, so a filed incident
and its alerts always commit together; they are stored, never computed when a page is
read. A pattern has at most one unresolved alert (a partial unique index on
``pattern_key``): a new matching incident joins the open alert, and after resolution a
new alert is raised.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from boundaries import audit
from incidents import local_time
from incidents.models import (
    Alert,
    AlertIncident,
    AlertRule,
    AlertStatus,
    AlertThresholds,
    Incident,
    Patient,
    Severity,
)

if TYPE_CHECKING:
    from django.http import HttpRequest

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Row:
    id: int
    occurred_at: datetime
    reporter_id: int
    unit_id: int
    severity: int


@dataclass(frozen=True)
class Match:
    rule: AlertRule
    key: str
    rows: list[_Row]


def pattern_key(rule: AlertRule, *, patient_id: int | None, incident_id: int | None = None) -> str:
    if patient_id is None:
        return f"{rule}:incident:{incident_id}"
    return f"{rule}:patient:{patient_id}"


def _densest_window(rows: list[_Row], target: _Row, days: int, measure) -> list[_Row]:
    """The rows of the ``days``-long window containing ``target`` that scores highest on
    ``measure`` (a function of a list of rows). ``rows`` are sorted by occurred_at."""
    span = timedelta(days=days)
    best: list[_Row] = [target]
    for start in rows:
        if start.occurred_at > target.occurred_at or target.occurred_at - start.occurred_at > span:
            continue
        window = [
            r for r in rows if start.occurred_at <= r.occurred_at <= start.occurred_at + span
        ]
        if measure(window) > measure(best):
            best = window
    return best


def matches_for(
    incident: Incident,
    thresholds: AlertThresholds | None,
    *,
    history: _History | None = None,
) -> list[Match]:
    """Which rules the incident matches, with the incidents behind each match.
    ``history``: what ``_history`` read of the patient (read here when not given, or
    when it reached less far than the thresholds' widest window). ``thresholds`` may be
    None for an incident without a patient, which only the high-severity rule can
    match.

    Windows are measured in elapsed time (UTC): a form's time carries the local zone,
    whose wall clock gains or loses an hour across a clock change."""
    target = _Row(
        incident.pk,
        _utc(incident.occurred_at),
        incident.reporter_id,
        incident.unit_id,
        incident.severity,
    )
    found: list[Match] = []
    if incident.severity == Severity.HIGH:
        key = pattern_key(
            AlertRule.HIGH_SEVERITY, patient_id=incident.patient_id, incident_id=incident.pk
        )
        found.append(Match(AlertRule.HIGH_SEVERITY, key, [target]))
    if incident.patient_id is None:
        return found

    if history is None or history.reach < _widest_window(thresholds):
        # Not read yet, or read before the thresholds were known and too narrowly.
        reach = _widest_window(thresholds)
        rows = _around(incident, reach)
    else:
        reach, rows = history.reach, history.rows
    # The incident before a narrower history is still the one before a wider one that
    # holds nothing earlier than the target: nothing lies between them.
    before, before_read = (history.before, True) if history is not None else (None, False)
    if target.id not in {row.id for row in rows}:
        rows = list(rows)
        rows.append(target)
        rows.sort(key=lambda row: (row.occurred_at, row.id))

    repeat = _densest_window(rows, target, thresholds.repeat_days, len)
    if len(repeat) >= thresholds.repeat_count:
        found.append(
            Match(
                AlertRule.REPEAT_PATIENT,
                pattern_key(AlertRule.REPEAT_PATIENT, patient_id=incident.patient_id),
                repeat,
            )
        )

    def staff(window: list[_Row]) -> int:
        return len({row.reporter_id for row in window})

    several = _densest_window(rows, target, thresholds.staff_days, staff)
    if staff(several) >= thresholds.staff_count:
        found.append(
            Match(
                AlertRule.SEVERAL_STAFF,
                pattern_key(AlertRule.SEVERAL_STAFF, patient_id=incident.patient_id),
                several,
            )
        )

    # Escalation, by when things happened rather than the order they were reported: the
    # incident is more severe than the one before it, or (a late report) less severe
    # than the one after it.
    previous = _previous(rows, target, before=before)
    if previous is None and not before_read:
        previous = _beside(target, patient_id=incident.patient_id, after=False)
    following = _following(rows, target, patient_id=incident.patient_id, reach=reach)
    escalation: list[_Row] = []
    if previous is not None and target.severity > previous.severity:
        escalation += [previous, target]
    if following is not None and following.severity > target.severity:
        escalation += [target, following]
    if escalation:
        found.append(
            Match(
                AlertRule.ESCALATION,
                pattern_key(AlertRule.ESCALATION, patient_id=incident.patient_id),
                list(dict.fromkeys(escalation)),
            )
        )
    return found


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _widest_window(thresholds: AlertThresholds) -> timedelta:
    return timedelta(days=max(thresholds.repeat_days, thresholds.staff_days))


def _around(incident: Incident, reach: timedelta) -> list[_Row]:
    """The patient's incidents at most ``reach`` either side of ``incident``, sorted."""
    at = _utc(incident.occurred_at)
    return [
        _Row(*values)
        for values in Incident.objects.filter(
            patient_id=incident.patient_id,
            occurred_at__gte=at - reach,
            occurred_at__lte=at + reach,
        )
        .order_by("occurred_at", "id")
        .values_list("id", "occurred_at", "reporter_id", "unit_id", "severity")
    ]


def _previous(rows: list[_Row], target: _Row, *, before: _Row | None) -> _Row | None:
    """The patient's incident just before ``target``. ``rows`` hold every incident of the
    patient around the target, sorted: when one of them is earlier, the latest of those
    is the answer; otherwise ``before``, the latest incident before ``rows`` (None: none,
    or not read)."""
    earlier = [row for row in rows if (row.occurred_at, row.id) < (target.occurred_at, target.id)]
    if earlier:
        return earlier[-1]
    return before


def _following(
    rows: list[_Row], target: _Row, *, patient_id: int, reach: timedelta
) -> _Row | None:
    """The patient's incident just after ``target``, found among ``rows`` (which reach
    ``reach`` past it). Only a report of something more than ``reach`` before the
    latest time an incident can have (now, give or take a fast clock), with nothing in
    that time after it, costs another query."""
    later = [row for row in rows if (row.occurred_at, row.id) > (target.occurred_at, target.id)]
    if later:
        return later[0]
    if target.occurred_at + reach >= timezone.now() + local_time.CLOCK_SKEW:
        return None
    return _beside(target, patient_id=patient_id, after=True)


def _beside(target: _Row, *, patient_id: int, after: bool) -> _Row | None:
    """The patient's incident just before (or after) ``target`` in time, from the
    database: one index probe."""
    side = "gt" if after else "lt"
    values = (
        Incident.objects.filter(patient_id=patient_id)
        .filter(
            Q(**{f"occurred_at__{side}": target.occurred_at})
            | Q(occurred_at=target.occurred_at, **{f"id__{side}": target.id})
        )
        .order_by(*(("occurred_at", "id") if after else ("-occurred_at", "-id")))
        .values_list("id", "occurred_at", "reporter_id", "unit_id", "severity")
        .first()
    )
    return _Row(*values) if values is not None else None


def evaluate_incident(
    incident: Incident,
    *,
    request: HttpRequest | None = None,
    notify: bool = True,
    patient_locked: bool = False,
) -> list[Alert]:
    """Raise or extend the alerts a newly filed incident matches. Runs inside the filing
    transaction (a failure here fails the filing: they commit together); returns the
    alerts raised for the first time. ``notify=False`` skips the emails (loading demo
    data). ``patient_locked``: this transaction already holds the patient's lock (filing
    takes it as it reads the patient), so the rules need not take it again.

    The rules cost one round trip to the database for a patient's filing that matches
    nothing: one statement reading the thresholds, the patient's history and unresolved
    alerts (``_history``). A match adds the new links and one UPDATE of the summaries,
    and a new alert its INSERT; without the patient's lock held, add the lock. (A late
    report of something long ago, and the first filing after another process widened
    the thresholds, read a little more.) With ``notify``, the emails add theirs; the
    audit events are appended at once unless the caller defers them (filing does). The
    alerts returned carry their ids; their figures are in the database (refresh to
    read them)."""
    with transaction.atomic(savepoint=False):
        return _evaluate(incident, request=request, notify=notify, patient_locked=patient_locked)


@dataclass(frozen=True)
class _History:
    thresholds: AlertThresholds
    # The patient's incidents at most ``reach`` either side of the new one, sorted.
    rows: list[_Row]
    reach: timedelta
    # Their latest incident before those, if any (the escalation rule compares with it;
    # kept apart, so that the windows of the other rules see only ``rows``).
    before: _Row | None
    # The patient's unresolved alerts by pattern key, locked (id, key and status only).
    unresolved: dict[str, Alert]


class _Reach:
    """How far either side of a new incident the rules read its patient's incidents
    before they know the thresholds: the widest window the thresholds last had in this
    process. Only a hint: a read found too narrow for the thresholds it returns is made
    again, wider (after a manager widens a window, once per process)."""

    days = 90


def _history(incident: Incident) -> _History:
    """What the rules need of a patient with a history, in one statement (one round trip
    inside the filing): the thresholds, the patient's incidents around the new one and
    the latest one before those (escalation compares with it), and the patient's
    unresolved alerts for any rule, locked as they are read so that a
    supervisor resolving one waits for the filing (the new incident cannot join an
    alert resolved meanwhile). SQL that PostgreSQL and SQLite both run; SQLite has no
    row locks, and the filing's first write already keeps other writers out.

    The lock takes every unresolved alert of the patient, before the rules know which
    they match: a supervisor acting on one of them waits for the filing's commit (and
    the filing for theirs), a few milliseconds either way, where before only the
    matched alerts were locked. Locking after matching would cost a round trip again.

    The statement runs after the patient's lock is held, so it reads the thresholds as
    they are once no other filing about the patient (nor ``reevaluate``) is under way.
    It may itself wait for an alert's lock, and then reads the rest as it was before
    that wait (``_lock_patient``): harmless, as nothing that holds an alert's lock
    changes the patient's incidents or the thresholds."""
    reach = timedelta(days=_Reach.days)
    at = _utc(incident.occurred_at)
    keys = [pattern_key(rule, patient_id=incident.patient_id) for rule in AlertRule]
    quote = connection.ops.quote_name
    incidents, thresholds_table, alerts = (
        quote(model._meta.db_table) for model in (Incident, AlertThresholds, Alert)
    )
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    sql = (
        # Model names only; every value is a bound parameter.
        f"WITH held AS (SELECT id, pattern_key, status FROM {alerts} "  # noqa: S608  # nosec B608
        f"WHERE pattern_key IN ({', '.join(['%s'] * len(keys))}) AND NOT (status = %s){lock}) "
        "SELECT 0, id, occurred_at, reporter_id, unit_id, severity, NULL, NULL "
        f"FROM {incidents} WHERE patient_id = %s AND occurred_at >= %s AND occurred_at <= %s "
        "UNION ALL SELECT * FROM (SELECT 3 AS kind, id, occurred_at, reporter_id, unit_id, "
        f"severity, NULL AS pattern_key, NULL AS status FROM {incidents} "
        "WHERE patient_id = %s AND occurred_at < %s "
        "ORDER BY occurred_at DESC, id DESC LIMIT 1) before_window "
        "UNION ALL SELECT 1, repeat_count, NULL, repeat_days, staff_count, staff_days, "
        f"NULL, NULL FROM {thresholds_table} WHERE id = %s "
        "UNION ALL SELECT 2, id, NULL, NULL, NULL, NULL, pattern_key, status FROM held"
    )
    adapt = connection.ops.adapt_datetimefield_value
    params = [
        *keys,
        AlertStatus.RESOLVED.value,
        incident.patient_id,
        adapt(at - reach),
        adapt(at + reach),
        incident.patient_id,
        adapt(at - reach),
        1,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    # The database's own form of a datetime (text on SQLite) as the ORM would give it.
    column = Incident._meta.get_field("occurred_at").get_col(Incident._meta.db_table)
    converters = connection.ops.get_db_converters(column)
    rows: list[_Row] = []
    before: _Row | None = None
    thresholds: AlertThresholds | None = None
    unresolved: dict[str, Alert] = {}
    for kind, number, occurred_at, first, second, third, key, status in fetched:
        if kind in (0, 3):
            for convert in converters:
                occurred_at = convert(occurred_at, column, connection)
            row = _Row(number, _utc(occurred_at), first, second, third)
            if kind == 0:
                rows.append(row)
            else:
                before = row
        elif kind == 1:
            thresholds = AlertThresholds(
                pk=1,
                repeat_count=number,
                repeat_days=first,
                staff_count=second,
                staff_days=third,
            )
        else:
            unresolved[key] = Alert(pk=number, pattern_key=key, status=status)
    if thresholds is None:  # never saved: the defaults, stored
        thresholds = AlertThresholds.current()
    rows.sort(key=lambda row: (row.occurred_at, row.id))
    _Reach.days = _widest_window(thresholds).days
    # If ``reach`` was narrower than these thresholds' widest window (they changed in
    # another process), ``matches_for`` reads the history again.
    return _History(thresholds, rows, reach, before, unresolved)


def _lock_patient(patient_id: int) -> None:
    """Take the patient's lock. Filings about one patient (and ``reevaluate``, which
    takes the same locks in id order) take turns from here, so two at once cannot both
    decide that no alert exists yet.

    The thresholds are read by the next statement, not this one: a statement that waits
    for a lock still reads the other tables as they were when it started, and would miss
    thresholds changed while it waited."""
    list(Patient.objects.select_for_update().filter(pk=patient_id).values_list("pk"))


def _evaluate(
    incident: Incident, *, request: HttpRequest | None, notify: bool, patient_locked: bool = False
) -> list[Alert]:
    if incident.patient_id is None:
        # Only the high-severity rule applies, and it needs no thresholds.
        matches = matches_for(incident, None)
        if not matches:
            return []
        alerts = {
            alert.pattern_key: alert
            for alert in Alert.objects.select_for_update()
            .unresolved()
            .filter(pattern_key__in=[m.key for m in matches])
            .only("pk", "pattern_key", "status")
        }
    else:
        if not patient_locked:
            _lock_patient(incident.patient_id)
        history = _history(incident)
        matches = matches_for(incident, history.thresholds, history=history)
        if not matches:
            return []
        keys = {match.key for match in matches}
        alerts = {key: alert for key, alert in history.unresolved.items() if key in keys}
    # Alerts already there that this filing joins: an acknowledged one opens again, and
    # one may reach the filing's unit for the first time (both are emailed: queued now,
    # sent after commit).
    reopened = [a.pk for a in alerts.values() if a.status == AlertStatus.ACKNOWLEDGED]
    joined = [a.pk for a in alerts.values() if a.pk not in reopened]
    now = timezone.now()
    raised = _raise([m for m in matches if m.key not in alerts], incident, now=now)
    alerts.update({alert.pattern_key: alert for alert in raised})
    # One INSERT for every match's links and one UPDATE for the summaries, however many
    # rules matched: each query is a round trip inside the filing.
    added = _link(
        [(alerts[match.key].pk, row.id, row.unit_id) for match in matches for row in match.rows],
        now=now,
    )
    reached = _units_reached(added, joined=joined, incident=incident)
    new_ids = {alert.pk for alert in raised}
    _refresh_summaries(
        [alerts[match.key] for match in matches],
        now=now,
        reopen={alert.pk for alert in alerts.values()} - new_ids,
    )
    for alert in raised:
        audit.record(
            action=audit.Action.ALERT_RAISED,
            request=request,
            actor=incident.reporter,
            target=alert,
            unit=incident.unit,
        )
    if notify and (raised or reopened or joined):
        from incidents import notifications

        ids = [alert.pk for alert in raised]
        incident_id, unit_id = incident.pk, incident.unit_id

        # Queued in the filing's transaction, handed to the mail server after it.
        notifications.new_alerts(ids)
        notifications.alerts_grown(
            reopened=reopened,
            joined=joined,
            incident_id=incident_id,
            unit_id=unit_id,
            reached=reached,
        )
    return raised


def _link(links: list[tuple[int, int, int]], *, now: datetime) -> list[tuple[int, int, int]]:
    """Link incidents to alerts, given as (alert, incident, unit), in one INSERT that
    skips links already there and returns those it added (SQL that PostgreSQL and SQLite
    both run: ON CONFLICT DO NOTHING with RETURNING, SQLite since 3.35). The ORM's
    ``bulk_create(ignore_conflicts=True)`` cannot say which rows it added, and finding
    out cost another round trip."""
    links = list(dict.fromkeys(links))
    table = AlertIncident._meta.db_table
    sql = (
        # Model names only; every value is a bound parameter.
        f"INSERT INTO {table} (alert_id, incident_id, unit_id, added_at) "  # noqa: S608  # nosec B608
        f"VALUES {', '.join(['(%s, %s, %s, %s)'] * len(links))} "
        "ON CONFLICT (alert_id, incident_id) DO NOTHING "
        "RETURNING alert_id, incident_id, unit_id"
    )
    added_at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for link in links for value in (*link, added_at)])
        return [tuple(row) for row in cursor.fetchall()]


def _units_reached(
    added: list[tuple[int, int, int]], *, joined: list[int], incident: Incident
) -> dict[tuple[int, int], list[int]]:
    """Incidents of other units than the filing's that this filing linked to alerts
    already there (a late report's neighbour, a window that moved), by (alert, unit):
    their units may be new to the alert, and are told after commit. ``added``: the
    links the filing added, as (alert, incident, unit)."""
    reached: dict[tuple[int, int], list[int]] = {}
    for alert_id, incident_id, unit_id in added:
        if alert_id in joined and unit_id != incident.unit_id:
            reached.setdefault((alert_id, unit_id), []).append(incident_id)
    return reached


def _raise(matches: list[Match], incident: Incident, *, now: datetime) -> list[Alert]:
    """New alerts for patterns with none unresolved, in one INSERT. The caller holds
    the patient's lock, which ``reevaluate`` takes too, so nobody else can raise the
    same pattern meanwhile (the partial unique index would refuse it if they did)."""
    if not matches:
        return []
    return Alert.objects.bulk_create(
        Alert(
            rule=match.rule,
            patient_id=incident.patient_id,
            pattern_key=match.key,
            opened_at=now,
            last_matched_at=now,
        )
        for match in matches
    )


def _refresh_summaries(alerts: list[Alert], *, now: datetime | None, reopen: set[int]) -> None:
    """Recount each alert's incidents, staff, span and severity from its links and save
    the figures, in one UPDATE for all of them (SQL that PostgreSQL and SQLite both
    run; SQLite has UPDATE ... FROM since 3.33, and Django needs 3.37. The ORM cannot
    write it, and its per-field subqueries cost more to build than the query takes).
    ``now`` is when they last matched (None: unchanged). An acknowledged alert in
    ``reopen`` (by id) has had something new happen: it is open again."""
    if not alerts:
        return
    ids = [alert.pk for alert in alerts]
    # An empty IN () is not SQL; 0 is no row's id.
    reopen_ids = [pk for pk in ids if pk in reopen] or [0]

    def placeholders(values: list) -> str:
        return ", ".join(["%s"] * len(values))

    # Table names come from the models; every value is a parameter.
    table = Alert._meta.db_table
    sql = (
        # Model names only; every value is a bound parameter.
        f"UPDATE {table} SET incident_count = s.incidents, "  # noqa: S608  # nosec B608
        "staff_count = s.staff, span_start = s.span_start, span_end = s.span_end, "
        "severity = s.severity, last_matched_at = COALESCE(%s, last_matched_at), "
        f"status = CASE WHEN {table}.id IN ({placeholders(reopen_ids)}) "
        f"AND {table}.status = %s THEN %s ELSE {table}.status END "
        "FROM (SELECT l.alert_id, COUNT(DISTINCT l.incident_id) AS incidents, "
        "COUNT(DISTINCT i.reporter_id) AS staff, MIN(i.occurred_at) AS span_start, "
        "MAX(i.occurred_at) AS span_end, MAX(i.severity) AS severity "
        f"FROM {AlertIncident._meta.db_table} l "
        f"JOIN {Incident._meta.db_table} i ON i.id = l.incident_id "
        f"WHERE l.alert_id IN ({placeholders(ids)}) GROUP BY l.alert_id) s "
        f"WHERE {table}.id = s.alert_id"
    )
    params = [
        None if now is None else connection.ops.adapt_datetimefield_value(now),
        *reopen_ids,
        AlertStatus.ACKNOWLEDGED.value,
        AlertStatus.OPEN.value,
        *ids,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def recount_after_removal(alert_ids: list[int]) -> None:
    """Recount alerts that lost incidents (the retention purge), so that their figures
    and span describe what is left. When they last matched, and their status, stay."""
    _refresh_summaries([Alert(pk=pk) for pk in alert_ids], now=None, reopen=set())


def explain(alert: Alert, thresholds: AlertThresholds | None = None) -> str:
    """One sentence a supervisor can act on: the rule, the counts and the span."""
    thresholds = thresholds or AlertThresholds.current()
    span = ""
    if alert.span_start and alert.span_end:
        start = timezone.localtime(alert.span_start)
        end = timezone.localtime(alert.span_end)
        span = (
            f" on {end.day} {end:%b %Y}"
            if start.date() == end.date()
            else f" between {start.day} {start:%b %Y} and {end.day} {end:%b %Y}"
        )
    plural = "s" if alert.incident_count != 1 else ""
    if alert.rule == AlertRule.REPEAT_PATIENT:
        return (
            f"The same patient is in {alert.incident_count} incident{plural}{span}. "
            f"The rule: {thresholds.repeat_count} or more within {thresholds.repeat_days} days."
        )
    if alert.rule == AlertRule.SEVERAL_STAFF:
        return (
            f"{alert.staff_count} different staff reported the same patient in "
            f"{alert.incident_count} incident{plural}{span}. "
            f"The rule: {thresholds.staff_count} or more staff "
            f"within {thresholds.staff_days} days."
        )
    if alert.rule == AlertRule.ESCALATION:
        return (
            "An incident with this patient was more severe than the one before it: the "
            f"behaviour is escalating ({alert.incident_count} incident{plural}{span})."
        )
    return (
        f"A high-severity incident{span}: harassment, threats, stalking, physical contact, "
        "a reporter who feels unsafe, or security or police called."
    )


def reevaluate(*, now: datetime | None = None) -> int:
    """Apply the current thresholds to recent incidents: raise an alert for every
    patient whose incidents in the last ``repeat_days`` (or ``staff_days``) match rule
    (a) or (b), who has no unresolved alert for it, and who has an incident there that
    no alert of the rule has shown yet (a resolved alert is not raised again over the
    same incidents). The matching patients come from
    one aggregate query per rule, whatever the table size; the work after that grows
    only with the number of alerts raised. Returns how many were raised."""
    now = now or timezone.now()
    thresholds = AlertThresholds.current()
    raised = 0
    for rule, days, having in (
        (
            AlertRule.REPEAT_PATIENT,
            thresholds.repeat_days,
            Q(matched__gte=thresholds.repeat_count),
        ),
        (AlertRule.SEVERAL_STAFF, thresholds.staff_days, Q(staff__gte=thresholds.staff_count)),
    ):
        raised += _reevaluate_rule(rule, since=now - timedelta(days=days), having=having, now=now)
    return raised


@transaction.atomic
def _reevaluate_rule(rule: AlertRule, *, since: datetime, having: Q, now: datetime) -> int:
    window = Incident.objects.filter(patient__isnull=False, occurred_at__gte=since)
    # A patient whose every incident in the window is behind an alert of this rule
    # already, resolved or not, has nothing new to show: a supervisor has seen it all.
    seen = AlertIncident.objects.filter(alert__rule=rule, incident__occurred_at__gte=since).values(
        "incident_id"
    )
    candidates = (
        window.filter(patient__in=window.exclude(pk__in=seen).values("patient"))
        .values("patient")
        .annotate(matched=Count("*"), staff=Count("reporter", distinct=True))
        .filter(having)
        .values_list("patient", flat=True)
    )
    covered = Alert.objects.unresolved().filter(rule=rule).values_list("patient", flat=True)
    new_patients = list(candidates.exclude(patient__in=covered))
    if not new_patients:
        return 0
    # The patients' locks, in one order, as filing takes them: a filing about one of
    # them waits here, and one that got in first may have raised the alert already.
    list(
        Patient.objects.select_for_update()
        .filter(pk__in=new_patients)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    raised_meanwhile = set(covered.filter(patient__in=new_patients))
    new_patients = [p for p in new_patients if p not in raised_meanwhile]
    if not new_patients:
        return 0
    alerts = Alert.objects.bulk_create(
        Alert(
            rule=rule,
            patient_id=patient_id,
            pattern_key=pattern_key(rule, patient_id=patient_id),
            opened_at=now,
            last_matched_at=now,
        )
        for patient_id in new_patients
    )
    by_patient = {
        alert.patient_id: alert
        for alert in Alert.objects.filter(
            pattern_key__in=[a.pattern_key for a in alerts]
        ).unresolved()
    }
    AlertIncident.objects.bulk_create(
        (
            AlertIncident(alert=by_patient[patient_id], incident_id=incident_id, unit_id=unit_id)
            for incident_id, patient_id, unit_id in window.filter(
                patient__in=new_patients
            ).values_list("id", "patient", "unit")
        ),
        ignore_conflicts=True,
        batch_size=1000,
    )
    _refresh_summaries(list(by_patient.values()), now=now, reopen=set())
    for alert in by_patient.values():
        audit.record(action=audit.Action.ALERT_RAISED, target=alert)
    from incidents import notifications

    ids = [alert.pk for alert in by_patient.values()]
    notifications.new_alerts(ids)
    return len(by_patient)
