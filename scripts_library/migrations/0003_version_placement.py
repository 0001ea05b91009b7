"""Each version records where it is to be offered (category, stage, situations, channels),
so that a change of placement is approved like a change of words. Step one of three:
the columns arrive nullable."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('incidents', '0001_initial'),
        ('scripts_library', '0002_categories'),
    ]

    operations = [
        migrations.AddField(
            model_name='scriptversion',
            name='category',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='versions', to='scripts_library.category'),
        ),
        migrations.AddField(
            model_name='scriptversion',
            name='stage',
            field=models.CharField(choices=[('first', 'First response'), ('again', 'If they ask again'), ('escalates', 'If it escalates')], default='first', max_length=12),
        ),
        migrations.AddField(
            model_name='scriptversion',
            name='channels',
            field=models.ManyToManyField(blank=True, related_name='script_versions', to='incidents.channel'),
        ),
        migrations.AddField(
            model_name='scriptversion',
            name='request_types',
            field=models.ManyToManyField(blank=True, related_name='script_versions', to='incidents.requesttype'),
        ),
    ]
