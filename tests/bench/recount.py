"""Recount the pattern alerts from scratch and compare them with the stored ones.

    python -m tests.bench.recount        (settings, DATABASE_URL, from the environment)

The rules are applied here again, independently of incidents/alerts.py, to every
incident in the order it was filed. Filing order comes from the audit trail: the
"incident created" events are appended in commit order, and filings about one patient
take turns (the patient's row is locked), so for each patient the trail's order is the
order in which its incidents were evaluated, and each evaluation saw exactly the
incidents before it. The rules, at the stored thresholds:

- high severity: every high-severity incident joins its patient's alert (or raises one
  of its own when there is no patient);
- repeat patient: an incident in a window of ``repeat_days`` holding at least
  ``repeat_count`` of the patient's incidents links the densest such window containing
  it (the earliest of equals);
- several staff: the same with different reporters, ``staff_count`` in ``staff_days``;
- escalation: an incident more severe than the patient's incident just before it, or
  less severe than the one just after it (by time, among those filed before it), links
  the two.

This holds while no alert is resolved (a resolved alert ends its pattern and the next
match raises a new one), which is the case in the soak test. Prints a JSON summary and
exits 1 on any difference.
"""

from __future__ import annotations

import json
import os
import sys
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

HIGH = 3


@dataclass(frozen=True)
class Filed:
    id: int
    patient_id: int | None
    reporter_id: int
    occurred_at: datetime
    severity: int


def _densest(rows: list[Filed], target: Filed, days: int, measure) -> list[Filed]:
    """The rows of the ``days`` window that contains ``target`` and scores highest on
    ``measure``, trying windows that start at each row not after the target."""
    span = timedelta(days=days)
    best = [target]
    for start in sorted(rows, key=lambda row: (row.occurred_at, row.id)):
        if not (start.occurred_at <= target.occurred_at <= start.occurred_at + span):
            continue
        window = [
            row for row in rows if start.occurred_at <= row.occurred_at <= start.occurred_at + span
        ]
        if measure(window) > measure(best):
            best = window
    return best


def expected_links(filed: list[Filed], thresholds) -> dict[str, set[int]]:
    """Pattern key to the incidents its alert should link, from incidents in filing
    order."""
    links: dict[str, set[int]] = defaultdict(set)
    before: dict[int, list[Filed]] = defaultdict(list)
    for incident in filed:
        if incident.severity == HIGH:
            key = (
                f"high_severity:patient:{incident.patient_id}"
                if incident.patient_id is not None
                else f"high_severity:incident:{incident.id}"
            )
            links[key].add(incident.id)
        if incident.patient_id is None:
            continue
        rows = [*before[incident.patient_id], incident]
        repeat = _densest(rows, incident, thresholds.repeat_days, len)
        if len(repeat) >= thresholds.repeat_count:
            links[f"repeat_patient:patient:{incident.patient_id}"].update(r.id for r in repeat)

        def staff(window: list[Filed]) -> int:
            return len({row.reporter_id for row in window})

        several = _densest(rows, incident, thresholds.staff_days, staff)
        if staff(several) >= thresholds.staff_count:
            links[f"several_staff:patient:{incident.patient_id}"].update(r.id for r in several)
        earlier = [
            row
            for row in before[incident.patient_id]
            if (row.occurred_at, row.id) < (incident.occurred_at, incident.id)
        ]
        later = [
            row
            for row in before[incident.patient_id]
            if (row.occurred_at, row.id) > (incident.occurred_at, incident.id)
        ]
        key = f"escalation:patient:{incident.patient_id}"
        if earlier:
            previous = max(earlier, key=lambda row: (row.occurred_at, row.id))
            if incident.severity > previous.severity:
                links[key].update({previous.id, incident.id})
        if later:
            following = min(later, key=lambda row: (row.occurred_at, row.id))
            if following.severity > incident.severity:
                links[key].update({incident.id, following.id})
        before[incident.patient_id].append(incident)
    return dict(links)


def recount() -> dict:
    """Compare the stored alerts with a recount; returns the differences and counts."""
    from boundaries.models import AuditEvent
    from incidents.models import Alert, AlertThresholds, Incident

    thresholds = AlertThresholds.current()
    incidents = {
        row.id: row
        for row in (
            Filed(*values)
            for values in Incident.objects.values_list(
                "id", "patient_id", "reporter_id", "occurred_at", "severity"
            )
        )
    }
    order = [
        int(object_id)
        for object_id in AuditEvent.objects.filter(
            action="incident.created", object_type="incidents.incident"
        )
        .order_by("id")
        .values_list("object_id", flat=True)
    ]
    unaudited = sorted(set(incidents) - set(order))
    expected = expected_links([incidents[pk] for pk in order if pk in incidents], thresholds)

    stored: dict[str, set[int]] = {}
    problems: list[str] = []
    for alert in Alert.objects.prefetch_related("links"):
        linked = {link.incident_id for link in alert.links.all()}
        if alert.pattern_key in stored:
            problems.append(f"two alerts for {alert.pattern_key}")
        stored[alert.pattern_key] = linked
        reporters = {incidents[pk].reporter_id for pk in linked if pk in incidents}
        if alert.incident_count != len(linked) or alert.staff_count != len(reporters):
            problems.append(f"{alert.pattern_key}: its counts do not match its incidents")
    missing = sorted(set(expected) - set(stored))
    extra = sorted(set(stored) - set(expected))
    different = sorted(key for key in set(expected) & set(stored) if expected[key] != stored[key])
    problems += [f"missing alert {key}" for key in missing]
    problems += [f"alert that should not exist: {key}" for key in extra]
    problems += [f"{key}: links {sorted(stored[key] ^ expected[key])} differ" for key in different]
    if unaudited:
        problems.append(f"incidents with no 'incident created' event: {unaudited[:10]}")
    return {
        "incidents": len(incidents),
        "alerts_expected": len(expected),
        "alerts_stored": len(stored),
        "links_expected": sum(len(v) for v in expected.values()),
        "links_stored": sum(len(v) for v in stored.values()),
        "by_rule": {
            rule: sum(1 for key in stored if key.startswith(f"{rule}:"))
            for rule in ("high_severity", "repeat_patient", "several_staff", "escalation")
        },
        "problems": problems,
    }


def main() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "boundaries.settings")
    django.setup()
    result = recount()
    print(json.dumps(result))
    sys.exit(1 if result["problems"] else 0)


if __name__ == "__main__":
    main()
