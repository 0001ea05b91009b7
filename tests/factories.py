"""Factories with invented data only: no real names, numbers or places."""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from boundaries.models import JobTitle, Membership, Role, Unit, User

TEST_PASSWORD = "correct-horse-battery-staple"


class UnitFactory(DjangoModelFactory):
    class Meta:
        model = Unit
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"UNIT-{n}")
    name = factory.Sequence(lambda n: f"Test Ward {n}")
    kind = Unit.Kind.WARD


class UserFactory(DjangoModelFactory):
    """A person; pass ``units=[...]`` to place them (the first is their main unit)."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"person{n}")
    first_name = factory.Iterator(["Ari", "Bo", "Cai", "Dee", "Eli", "Fen"])
    last_name = factory.Iterator(["Tremayne", "Polwarth", "Rosevear", "Nancarrow"])
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.invalid")
    role = Role.REPORTER
    job_title = JobTitle.NURSE
    password = factory.django.Password(TEST_PASSWORD)

    @factory.post_generation
    def units(self, create, extracted, **kwargs):
        if create and extracted:
            for position, unit in enumerate(extracted):
                Membership.objects.create(user=self, unit=unit, is_primary=position == 0)
