"""The library's personas: the shared supervisor drafts (as a "Script editors" member),
the shared manager approves (a "Script approvers" member), and a second approving
manager decides on what the first one wrote. other_unit_supervisor holds no library
permission, and stands for staff whose role fits but who were never granted it."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission

from boundaries.demo import SCRIPT_APPROVERS, SCRIPT_EDITORS
from boundaries.models import Role
from scripts_library.services import load_library
from tests.conftest import client_for
from tests.factories import UserFactory


def _group(name: str, *codenames: str) -> Group:
    group, _ = Group.objects.get_or_create(name=name)
    group.permissions.add(*Permission.objects.filter(codename__in=codenames))
    return group


def editors() -> Group:
    return _group(SCRIPT_EDITORS, "draft_script")


def approvers() -> Group:
    return _group(SCRIPT_APPROVERS, "draft_script", "approve_script")


@pytest.fixture
def supervisor(supervisor):
    supervisor.groups.add(editors())
    return supervisor


@pytest.fixture
def manager(manager):
    manager.groups.add(approvers())
    return manager


@pytest.fixture
def second_manager(unit):
    person = UserFactory(username="manager2", role=Role.MANAGER, units=[unit])
    person.groups.add(approvers())
    return person


@pytest.fixture
def second_manager_client(second_manager):
    return client_for(second_manager)


@pytest.fixture
def library(db):
    """The organisation's starting library, loaded as load_scripts does."""
    return load_library()
