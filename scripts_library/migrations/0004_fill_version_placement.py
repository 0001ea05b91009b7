"""Step two of three: existing versions take their script's placement."""

from django.db import migrations


def copy_placement(apps, schema_editor):
    ScriptVersion = apps.get_model("scripts_library", "ScriptVersion")
    for version in ScriptVersion.objects.select_related("script").filter(category__isnull=True):
        script = version.script
        version.category_id = script.category_id
        version.stage = script.stage
        version.save(update_fields=["category", "stage"])
        version.request_types.set(script.request_types.all())
        version.channels.set(script.channels.all())


class Migration(migrations.Migration):

    dependencies = [("scripts_library", "0003_version_placement")]

    operations = [migrations.RunPython(copy_placement, migrations.RunPython.noop)]
