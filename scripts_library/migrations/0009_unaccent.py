"""The unaccent extension on PostgreSQL, so that search finds "café" typed "cafe".

A trusted extension since PostgreSQL 13: the database's owner may create it. Nothing on
SQLite, where search folds accents in Python.
"""

from django.db import migrations


def create_unaccent(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS unaccent")


class Migration(migrations.Migration):
    dependencies = [("scripts_library", "0008_version_writers")]

    operations = [migrations.RunPython(create_unaccent, migrations.RunPython.noop)]
