"""The base of the project's management commands: an operator's mistake with the database
(not running, a wrong DATABASE_URL, never migrated) is one line and exit status 1, not a
traceback. A database error on a database that answers and is up to date is a bug, and
is left as it is."""

from __future__ import annotations

from contextlib import suppress

from django.core.management.base import BaseCommand, CommandError
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    OperationalError,
    ProgrammingError,
    connections,
)
from django.db.migrations.executor import MigrationExecutor


class DatabaseCommand(BaseCommand):
    """A command that says what is wrong with the database when that is what stopped it."""

    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except Exception as error:
            if not isinstance(error, database_errors()):
                raise
            problem = database_problem()
            if problem is None:
                raise
            raise CommandError(problem) from None


def database_errors() -> tuple[type[Exception], ...]:
    """Django's errors for a database that cannot be reached or lacks a table, and the
    driver's own that escape Django's wrapping: on PostgreSQL, a query on a missing table
    through a server-side cursor ends in InvalidCursorName as the cursor is closed."""
    driver = connections[DEFAULT_DB_ALIAS].Database
    return (OperationalError, ProgrammingError, driver.OperationalError, driver.ProgrammingError)


def database_problem() -> str | None:
    """What an operator must do about the database after a command met an error from it,
    or None when it answers and every migration is applied (then the error is a bug)."""
    connection = connections[DEFAULT_DB_ALIAS]
    if not connection.in_atomic_block:
        # Start afresh, so that a connection the server dropped is tried again.
        with suppress(DatabaseError):
            connection.close()
    try:
        connection.ensure_connection()
    except OperationalError as unreachable:
        # The driver's first line ("... port 5432 failed: Connection refused"), never
        # the address with its password.
        reason = next(iter(str(unreachable).strip().splitlines()), "")
        return (
            f"The database cannot be reached ({reason or type(unreachable).__name__}): "
            "check DATABASE_URL and that the server is running."
        )
    try:
        executor = MigrationExecutor(connection)
        unapplied = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError:
        # Cannot tell (a transaction the error aborted, say): the original error stands.
        return None
    if unapplied:
        return "The database is not set up, or not up to date: run manage.py migrate."
    return None
