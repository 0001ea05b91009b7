"""Time ``incidents.alerts.evaluate_incident`` on its own, as filing runs it.

    python -m tests.bench.evaluation --filings 500      (settings from the environment)

Each filing inserts an incident about a patient who already has a history (half of
them frequent attenders, the heaviest histories in the database among them), times the
evaluation of the pattern rules for it, and rolls the transaction back, so the
database is left as it was. As in filing, the rules run inside ``audit.deferred()``:
an alert they raise is appended to the audit trail with the filing's own event, in
the filing's one INSERT, after the timing stops. Prints a JSON summary: milliseconds
at p50, p90, p99, max.
"""

from __future__ import annotations

import argparse
import json
import random
import time
import uuid
from datetime import timedelta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--filings", type=int, default=500)
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args()

    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "boundaries.settings")
    django.setup()
    from django.db import connection, transaction
    from django.utils import timezone

    from boundaries import audit
    from boundaries.models import Unit, User
    from incidents import alerts
    from incidents.models import (
        Channel,
        Incident,
        OtherParty,
        Patient,
        PersonResponse,
        RequestType,
    )
    from incidents.services import review_due
    from tests.bench.stack import percentile

    rng = random.Random(args.seed)
    with connection.cursor() as cursor:
        # Patients by how many incidents they have: the heaviest first.
        cursor.execute(
            "SELECT patient_id, min(unit_id), min(reporter_id), count(*) AS n "
            "FROM incidents_incident WHERE patient_id IS NOT NULL "
            "GROUP BY patient_id ORDER BY n DESC, patient_id"
        )
        patients = cursor.fetchall()
    frequent = patients[: max(1, len(patients) // 100)]
    others = patients[len(frequent) :]
    # The filing service hands over the incident with its reporter and unit loaded.
    people = User.objects.in_bulk({row[2] for row in patients})
    units = Unit.objects.in_bulk()
    request_types = list(RequestType.objects.all())
    channel = Channel.objects.get(code="in-person")
    alerts.AlertThresholds.current()

    samples: list[float] = []
    # The part of each evaluation spent waiting for PostgreSQL (the rest is Python).
    database_samples: list[float] = []
    round_trips: list[int] = []
    floor_samples: list[float] = []
    raised = 0
    for number in range(args.filings):
        pool = frequent if number % 2 == 0 else others
        # The very heaviest histories every so often: the worst case stays in view.
        patient_id, unit_id, reporter_id, _ = (
            patients[number % 10] if number % 25 == 0 else rng.choice(pool)
        )
        request_type = rng.choice(request_types)
        severity = max(request_type.base_severity, rng.choice([1, 1, 1, 2, 2, 3]))
        now = timezone.now()
        with transaction.atomic():
            # As filing does: the patient is locked as it is read, before the incident
            # is written (outside the timing: the rules no longer take that lock).
            list(Patient.objects.select_for_update().filter(pk=patient_id).values_list("pk"))
            incident = Incident.objects.create(
                occurred_at=now - timedelta(minutes=rng.randint(5, 600)),
                unit=units[unit_id],
                location="Bay 3",
                reporter=people[reporter_id],
                other_party=OtherParty.PATIENT,
                patient_id=patient_id,
                request_type=request_type,
                channel=channel,
                description="Timing the pattern rules.",
                words_used="I'm sorry, I can't share my personal details.",
                person_response=PersonResponse.ACCEPTED,
                severity=severity,
                submission_token=uuid.uuid4(),
                submitted_at=now,
                review_due_at=review_due(submitted_at=now, severity=severity),
            )
            in_database = [0.0, 0]

            def timed(execute, sql, params, many, context, spent=in_database):
                began = time.perf_counter()
                try:
                    return execute(sql, params, many, context)
                finally:
                    spent[0] += time.perf_counter() - began
                    spent[1] += 1

            # As in filing: the events the rules record (a raised alert) join the
            # filing's one append to the audit trail, after the rules have run.
            with audit.deferred():
                started = time.perf_counter()
                with connection.execute_wrapper(timed):
                    raised += len(
                        alerts.evaluate_incident(incident, notify=False, patient_locked=True)
                    )
                samples.append((time.perf_counter() - started) * 1000)
                database_samples.append(in_database[0] * 1000)
                round_trips.append(in_database[1])
            # The cheapest round trip, in the same conditions: what any query costs here
            # before PostgreSQL does any work (on an idle virtual machine, mostly the
            # time to wake the process on the other side).
            began = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            floor_samples.append((time.perf_counter() - began) * 1000)
            transaction.set_rollback(True)
    result = {
        "filings": len(samples),
        "alerts_raised": raised,
        "p50_ms": round(percentile(samples, 0.50), 3),
        "p90_ms": round(percentile(samples, 0.90), 3),
        "p99_ms": round(percentile(samples, 0.99), 3),
        "max_ms": round(max(samples), 3),
        "mean_ms": round(sum(samples) / len(samples), 3),
        "database_p50_ms": round(percentile(database_samples, 0.50), 3),
        "database_p99_ms": round(percentile(database_samples, 0.99), 3),
        "round_trips_p50": percentile(round_trips, 0.50),
        "round_trips_max": max(round_trips),
        "select_1_p50_ms": round(percentile(floor_samples, 0.50), 3),
        "select_1_p99_ms": round(percentile(floor_samples, 0.99), 3),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
