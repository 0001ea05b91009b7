"""One JSON object per log line, so that a value a user typed cannot forge a new line."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

# Attributes every LogRecord has; anything else was passed through ``extra=``.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# PostgreSQL's error details quote the values of the row concerned ("Key (reference)=
# (...) already exists", "Failing row contains (...)"): a patient reference, a
# description. The error itself and its constraint's name stay in the log.
_DATABASE_DETAIL = re.compile(r"^DETAIL:.*$", re.MULTILINE)
WITHHELD_DETAIL = "DETAIL:  (withheld from the log: it may quote the row's values)"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": _DATABASE_DETAIL.sub(WITHHELD_DETAIL, record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and key != "request":
                entry[key] = value if isinstance(value, (int, float, bool)) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # json.dumps escapes newlines and control characters: one record, one line.
        return json.dumps(entry, ensure_ascii=True)

    def formatException(self, ei) -> str:
        return _DATABASE_DETAIL.sub(WITHHELD_DETAIL, super().formatException(ei))
