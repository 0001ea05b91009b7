"""Chain the audit trail: a hash on every event, then make the table append-only.

Three steps: add the columns, fill them for the events already recorded (in insertion
order, as boundaries.audit does for new ones), then add the constraints and the
PostgreSQL triggers that refuse UPDATE, DELETE and TRUNCATE.
"""

import django.utils.timezone
import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations, models

from boundaries.audit import GENESIS_HASH, event_hash


def chain_existing_events(apps, schema_editor):
    AuditEvent = apps.get_model("boundaries", "AuditEvent")
    previous = GENESIS_HASH
    for event in AuditEvent.objects.using(schema_editor.connection.alias).order_by("id"):
        event.previous_hash = previous
        event.hash = event_hash(event)
        event.save(update_fields=["previous_hash", "hash"])
        previous = event.hash


class Migration(migrations.Migration):

    dependencies = [
        ("boundaries", "0002_audit_event"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="previous_hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="occurred_at",
            field=models.DateTimeField(
                db_index=True, default=django.utils.timezone.now, editable=False
            ),
        ),
        migrations.RunPython(chain_existing_events, migrations.RunPython.noop, elidable=False),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.UniqueConstraint(fields=("previous_hash",), name="audit_chain_no_fork"),
        ),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.UniqueConstraint(fields=("hash",), name="audit_hash_unique"),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="auditevent",
            trigger=pgtrigger.compiler.Trigger(
                name="audit_append_only",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func="RAISE EXCEPTION 'pgtrigger: Cannot update or delete rows from % table', TG_TABLE_NAME;",
                    hash="7230eeb543debe0f9cf981b0e8faa33d3317b54c",
                    operation="UPDATE OR DELETE",
                    pgid="pgtrigger_audit_append_only_a3b0c",
                    table="boundaries_auditevent",
                    when="BEFORE",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="auditevent",
            trigger=pgtrigger.compiler.Trigger(
                name="audit_no_truncate",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func="RAISE EXCEPTION 'The audit trail is append-only: % cannot be truncated.', TG_TABLE_NAME; RETURN NULL;",
                    hash="4959e66e036ad8424120dc65fe9171d3292303a8",
                    level="STATEMENT",
                    operation="TRUNCATE",
                    pgid="pgtrigger_audit_no_truncate_ebaac",
                    table="boundaries_auditevent",
                    when="BEFORE",
                ),
            ),
        ),
    ]
