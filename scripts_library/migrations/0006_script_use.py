"""Running counts of each script's use per unit, filled from the incidents already filed."""

import django.db.models.deletion
import django.db.models.expressions
from django.db import migrations, models


RESPONSES = ("accepted", "asked_again", "escalated")


def count_existing_uses(apps, schema_editor):
    """One aggregate query over the incidents, then one INSERT per thousand rows."""
    Incident = apps.get_model("incidents", "Incident")
    ScriptUse = apps.get_model("scripts_library", "ScriptUse")
    tallies = (
        Incident.objects.filter(script_version__isnull=False)
        .order_by()
        .values("unit", "script_version__script")
        .annotate(
            used=models.Count("pk"),
            **{
                value: models.Count("pk", filter=models.Q(person_response=value))
                for value in RESPONSES
            },
        )
    )
    ScriptUse.objects.bulk_create(
        (
            ScriptUse(
                script_id=tally["script_version__script"],
                unit_id=tally["unit"],
                used=tally["used"],
                **{value: tally[value] for value in RESPONSES},
            )
            for tally in tallies.iterator()
        ),
        batch_size=1000,
    )


class Migration(migrations.Migration):

    dependencies = [
        ('boundaries', '0003_audit_chain'),
        ('scripts_library', '0005_version_placement_required'),
        ('incidents', '0006_performance_indexes'),
    ]

    operations = [
        migrations.CreateModel(
            name='ScriptUse',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('used', models.PositiveIntegerField(default=0)),
                ('accepted', models.PositiveIntegerField(default=0)),
                ('asked_again', models.PositiveIntegerField(default=0)),
                ('escalated', models.PositiveIntegerField(default=0)),
                ('script', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='uses', to='scripts_library.script')),
                ('unit', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='boundaries.unit')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('script', 'unit'), name='script_use_once_per_unit'), models.CheckConstraint(condition=models.Q(('used', django.db.models.expressions.CombinedExpression(django.db.models.expressions.CombinedExpression(models.F('accepted'), '+', models.F('asked_again')), '+', models.F('escalated')))), name='script_use_responses_add_up')],
            },
        ),
        migrations.RunPython(count_existing_uses, migrations.RunPython.noop, elidable=True),
    ]
