"""The starting taxonomy of request types and channels. Codes are stable: reports,
scripts and the severity rules refer to them. Administrators may add more later."""

from django.db import migrations

REQUEST_TYPES = [
    # code, name, description, base severity (1 low, 2 moderate, 3 high)
    ("personal-contact", "Asked for my personal number or contact details",
     "Phone number, personal email, address or social media handle.", 1),
    ("offered-number", "Offered or pressed their own number on me",
     "Wrote it down, left it with me, or insisted I take it.", 1),
    ("social-media", "Friend or follow request, or messages, on social media",
     "Personal social media or dating apps.", 1),
    ("meet-outside", "Asked to meet or socialise outside care",
     "A drink, a meal, a date, a visit, an event.", 1),
    ("gifts", "Offered gifts or money beyond a token thank-you",
     "Cash, vouchers, valuable or personal gifts.", 1),
    ("private-services", "Asked for private services",
     "Babysitting, private home nursing, paid help outside work.", 1),
    ("post-discharge-contact", "Kept contacting me personally after discharge",
     "Personal calls, messages or visits after care ended.", 2),
    ("romantic", "Romantic or sexual advances",
     "Comments, propositions or touching of a romantic or sexual kind.", 2),
    ("unwanted-attention", "Unwanted attention",
     "Repeated calls or messages, waiting around the ward, asking others about me.", 2),
    ("harassment", "Harassment, threats or verbal abuse",
     "Intimidation, threats, insults or abuse, in person or otherwise.", 3),
    ("stalking", "Stalking or following",
     "Following me, or finding out where I live or where my car is.", 3),
    ("physical", "Physical abuse or assault", "Any unwanted physical contact or violence.", 3),
]

CHANNELS = [
    ("in-person", "In person"),
    ("unit-phone", "Ward or unit phone"),
    ("personal-phone", "My personal phone or text"),
    ("social-media", "Social media or dating app"),
    ("email-portal", "Email or patient portal"),
    ("letter-gift", "Letter, card or gift"),
    ("other", "Other"),
]


def add_taxonomy(apps, schema_editor):
    RequestType = apps.get_model("incidents", "RequestType")
    Channel = apps.get_model("incidents", "Channel")
    for position, (code, name, description, severity) in enumerate(REQUEST_TYPES, start=1):
        RequestType.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "description": description,
                "base_severity": severity,
                "position": position * 10,
            },
        )
    for position, (code, name) in enumerate(CHANNELS, start=1):
        Channel.objects.update_or_create(
            code=code, defaults={"name": name, "position": position * 10}
        )


class Migration(migrations.Migration):
    dependencies = [("incidents", "0002_initial")]

    operations = [migrations.RunPython(add_taxonomy, migrations.RunPython.noop)]
