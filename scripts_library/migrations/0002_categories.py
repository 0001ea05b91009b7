"""The nine approaches to declining, as described in the project's domain brief."""

from django.db import migrations

CATEGORIES = [
    ("policy", "Policy-based",
     "Point to the rule that staff do not share personal details, so the refusal is not personal."),
    ("empathetic-firm", "Empathetic but firm",
     "Thank them for the warmth, then hold the line: keeping it professional keeps care good."),
    ("redirect-to-care", "Redirect to care",
     "Decline in one sentence, then turn straight back to their health or plan."),
    ("official-channels", "Official channels",
     "Offer the ward line or the patient portal for anything about their care."),
    ("broken-record", "Persistence (broken record)",
     "Repeat the same short refusal calmly, with no new reasons and no debate."),
    ("escalation", "Ending the interaction and escalation",
     "Stop the conversation and bring in the supervisor or security when it escalates."),
    ("social-media", "Social media",
     "Do not connect on personal accounts; offer the organisation's official page instead."),
    ("their-number", "When the patient gives their number",
     "Do not keep or use it: hand it back or dispose of it, and tell your line manager."),
    ("gifts-favours", "Gifts and favours",
     "Decline with thanks whatever policy does not allow."),
]


def add_categories(apps, schema_editor):
    Category = apps.get_model("scripts_library", "Category")
    for position, (code, name, summary) in enumerate(CATEGORIES, start=1):
        Category.objects.update_or_create(
            code=code, defaults={"name": name, "summary": summary, "position": position * 10}
        )


class Migration(migrations.Migration):
    dependencies = [("scripts_library", "0001_initial")]

    operations = [migrations.RunPython(add_categories, migrations.RunPython.noop)]
