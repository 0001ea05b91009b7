"""Time the monthly summary PDF and measure its peak memory, in a process of its own.

    python -m tests.bench.pdf_probe --month 2026-10 [--unit U001] [--renders 2]

Builds the summary (the database queries) and renders the PDF ``--renders`` times in
this fresh process: the first render includes importing WeasyPrint, as a worker's
first PDF does. Prints JSON: seconds for each build and render, the PDF's size, and
the process's peak resident memory (which covers Django, the queries and WeasyPrint).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--month", required=True, help="YYYY-MM")
    parser.add_argument("--unit", default="", help="a unit's code; the organisation if empty")
    parser.add_argument("--renders", type=int, default=2)
    args = parser.parse_args()

    started = time.perf_counter()
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "boundaries.settings")
    django.setup()
    from boundaries.models import Unit
    from incidents import reports

    setup_seconds = time.perf_counter() - started
    unit = Unit.objects.get(code=args.unit) if args.unit else None
    month = reports.Month.parse(args.month)
    runs = []
    size = 0
    for _ in range(args.renders):
        began = time.perf_counter()
        summary = reports.monthly_summary(month=month, unit=unit, generated_by="Benchmark")
        built = time.perf_counter()
        pdf = reports.render_monthly_summary(summary)
        rendered = time.perf_counter()
        size = len(pdf)
        runs.append(
            {
                "build_seconds": round(built - began, 3),
                "render_seconds": round(rendered - built, 3),
                "total_seconds": round(rendered - began, 3),
                "incidents": summary.figures.incidents,
            }
        )
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "month": args.month,
                "unit": args.unit or None,
                "setup_seconds": round(setup_seconds, 3),
                "runs": runs,
                "pdf_bytes": size,
                "peak_rss_mb": round(peak_kib / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
