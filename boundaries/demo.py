"""The demo organisation: units and one person for every role. Invented names only."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from boundaries import two_factor
from boundaries.access import SECOND_FACTOR_ROLES
from boundaries.models import JobTitle, Membership, Role, Unit, User

UNITS = [
    ("WARD-7", "Ward 7, Acute Medicine", Unit.Kind.WARD),
    ("WARD-12", "Ward 12, Orthopaedics", Unit.Kind.WARD),
    ("PHYSIO", "Outpatient Physiotherapy", Unit.Kind.CLINIC),
    ("ED", "Emergency Department", Unit.Kind.DEPARTMENT),
    ("MAT", "Maternity Unit", Unit.Kind.WARD),
]


@dataclass(frozen=True)
class DemoPerson:
    username: str
    first_name: str
    last_name: str
    role: Role
    job_title: JobTitle
    units: tuple[str, ...]  # the first is the main unit
    summary: str


PEOPLE = [
    DemoPerson(
        "nurse", "Robin", "Ashdown", Role.REPORTER, JobTitle.NURSE, ("WARD-7",), "reporter, Ward 7"
    ),
    DemoPerson(
        "nurse2",
        "Kit",
        "Penhallow",
        Role.REPORTER,
        JobTitle.NURSE,
        ("WARD-12",),
        "reporter in another unit, Ward 12",
    ),
    DemoPerson(
        "supervisor",
        "Sam",
        "Treloar",
        Role.SUPERVISOR,
        JobTitle.NURSE,
        ("WARD-7", "PHYSIO"),
        "supervisor of Ward 7 and Physiotherapy",
    ),
    DemoPerson(
        "supervisor2",
        "Jo",
        "Carvell",
        Role.SUPERVISOR,
        JobTitle.NURSE,
        ("WARD-12", "ED", "MAT"),
        "supervisor of Ward 12, ED and Maternity",
    ),
    DemoPerson(
        "manager", "Lee", "Ormsby", Role.MANAGER, JobTitle.OTHER, ("WARD-7",), "manager, all units"
    ),
    DemoPerson(
        "admin",
        "Pat",
        "Quillan",
        Role.ADMINISTRATOR,
        JobTitle.OTHER,
        (),
        "administrator (admin site)",
    ),
    # Colleagues who file the demo incidents.
    DemoPerson(
        "hca",
        "Ash",
        "Trevena",
        Role.REPORTER,
        JobTitle.HEALTHCARE_ASSISTANT,
        ("WARD-7",),
        "reporter, Ward 7",
    ),
    DemoPerson(
        "physio",
        "Morgan",
        "Keverne",
        Role.REPORTER,
        JobTitle.ALLIED_HEALTH,
        ("PHYSIO",),
        "reporter, Physiotherapy",
    ),
    DemoPerson(
        "doctor",
        "Nic",
        "Polglase",
        Role.REPORTER,
        JobTitle.DOCTOR,
        ("ED", "WARD-7"),
        "reporter, ED",
    ),
    DemoPerson(
        "midwife",
        "Ren",
        "Boscawen",
        Role.REPORTER,
        JobTitle.NURSE,
        ("MAT",),
        "reporter, Maternity",
    ),
]

# Demo accounts are recognisable by this address domain, which no real mailbox has.
DEMO_EMAIL_DOMAIN = "boundaries.invalid"

MAIN_DEMO_USERNAMES = ("nurse", "nurse2", "supervisor", "supervisor2", "manager", "admin")

SCRIPT_EDITORS = "Script editors"
SCRIPT_APPROVERS = "Script approvers"


@transaction.atomic
def seed_organisation(*, password: str) -> list[tuple[DemoPerson, bool]]:
    """Create the demo units and people if they are missing. Existing rows are left as
    they are, so running it twice changes nothing. Returns each person and whether they
    were created now."""
    units = {}
    for code, name, kind in UNITS:
        units[code], _ = Unit.objects.get_or_create(
            code=code, defaults={"name": name, "kind": kind}
        )

    editors, _ = Group.objects.get_or_create(name=SCRIPT_EDITORS)
    approvers, _ = Group.objects.get_or_create(name=SCRIPT_APPROVERS)
    editors.permissions.add(Permission.objects.get(codename="draft_script"))
    approvers.permissions.add(
        Permission.objects.get(codename="draft_script"),
        Permission.objects.get(codename="approve_script"),
    )

    results = []
    for person in PEOPLE:
        user = User.objects.filter(username=person.username).first()
        created = user is None
        if created:
            is_admin = person.role == Role.ADMINISTRATOR
            user = User.objects.create_user(
                username=person.username,
                password=password,
                email=f"{person.username}@{DEMO_EMAIL_DOMAIN}",
                first_name=person.first_name,
                last_name=person.last_name,
                role=person.role,
                job_title=person.job_title,
                is_staff=is_admin,
                is_superuser=is_admin,
            )
            for position, code in enumerate(person.units):
                Membership.objects.create(user=user, unit=units[code], is_primary=position == 0)
            if person.role == Role.SUPERVISOR:
                user.groups.add(editors)
            elif person.role == Role.MANAGER:
                user.groups.add(approvers)
        results.append((person, created))
    return results


@dataclass(frozen=True)
class DemoSecondFactor:
    username: str
    key: str
    otpauth_url: str
    backup_codes: list[str]


@transaction.atomic
def seed_second_factors() -> list[DemoSecondFactor]:
    """Give each demo person whose role signs in with a second factor an authenticator
    (made once: its key stays the same) and a fresh set of backup codes, so the codes
    printed by this run always work. Only demo accounts are touched."""
    results = []
    for person in PEOPLE:
        if person.role not in SECOND_FACTOR_ROLES:
            continue
        user = User.objects.filter(
            username=person.username, email__endswith=f"@{DEMO_EMAIL_DOMAIN}"
        ).first()
        if user is None:
            continue
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is None:
            device = TOTPDevice.objects.create(
                user=user, name=two_factor.AUTHENTICATOR_NAME, confirmed=True
            )
        results.append(
            DemoSecondFactor(
                username=user.username,
                key=two_factor.secret_for_typing(device),
                otpauth_url=device.config_url,
                backup_codes=two_factor.replace_backup_codes(user=user),
            )
        )
    return results
