"""Step three of three: every version has a category; the states and stages the code
knows are the only ones the database accepts, and decisions are recorded."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('scripts_library', '0004_fill_version_placement'),
    ]

    operations = [
        migrations.AlterField(
            model_name='scriptversion',
            name='category',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='versions', to='scripts_library.category'),
        ),
        migrations.AddConstraint(
            model_name='script',
            constraint=models.CheckConstraint(condition=models.Q(('status__in', ['draft', 'approved', 'retired'])), name='script_status_valid'),
        ),
        migrations.AddConstraint(
            model_name='script',
            constraint=models.CheckConstraint(condition=models.Q(('stage__in', ['first', 'again', 'escalates'])), name='script_stage_valid'),
        ),
        migrations.AddConstraint(
            model_name='scriptversion',
            constraint=models.CheckConstraint(condition=models.Q(('state__in', ['draft', 'proposed', 'approved', 'superseded', 'rejected', 'retired'])), name='script_version_state_valid'),
        ),
        migrations.AddConstraint(
            model_name='scriptversion',
            constraint=models.CheckConstraint(condition=models.Q(('stage__in', ['first', 'again', 'escalates'])), name='script_version_stage_valid'),
        ),
        migrations.AddConstraint(
            model_name='scriptversion',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('state__in', ['approved', 'superseded', 'retired']), _negated=True), ('author__isnull', True), ('decided_by__isnull', False), _connector='OR'), name='script_version_approval_recorded', violation_error_message='An approved version records who approved it.'),
        ),
        migrations.AddConstraint(
            model_name='scriptversion',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('state__in', ['approved', 'superseded', 'retired', 'rejected']), _negated=True), ('decided_at__isnull', False), _connector='OR'), name='script_version_decision_dated'),
        ),
        migrations.AddConstraint(
            model_name='scriptversion',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('state', 'proposed'), _negated=True), ('proposed_at__isnull', False), _connector='OR'), name='script_version_proposal_dated'),
        ),
        migrations.AddConstraint(
            model_name='scriptversion',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('state', 'rejected'), _negated=True), models.Q(('decided_by__isnull', False), models.Q(('decision_note', ''), _negated=True)), _connector='OR'), name='script_version_rejection_explained', violation_error_message='Say why the version was sent back.'),
        ),
    ]
