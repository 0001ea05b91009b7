"""Who may change the library. Two things must hold: the role (supervisors and managers
draft, managers decide) and the permission an administrator grants through a group
("Script editors", "Script approvers"), so that not every manager is an approver."""

from __future__ import annotations

from typing import TYPE_CHECKING

from boundaries.access import has_role
from boundaries.models import Role

if TYPE_CHECKING:
    from boundaries.models import User

DRAFT_PERMISSION = "scripts_library.draft_script"
APPROVE_PERMISSION = "scripts_library.approve_script"
DRAFTING_ROLES = (Role.SUPERVISOR, Role.MANAGER)
APPROVING_ROLES = (Role.MANAGER,)


def may_draft(user: User) -> bool:
    """Write new scripts and new versions, and propose them for approval."""
    return has_role(user, *DRAFTING_ROLES) and user.has_perm(DRAFT_PERMISSION)


def may_approve(user: User) -> bool:
    """Approve, send back and retire. Approving one's own words is refused separately."""
    return has_role(user, *APPROVING_ROLES) and user.has_perm(APPROVE_PERMISSION)


def may_manage(user: User) -> bool:
    """Open the library's own pages (drafts, proposals, use): anyone who drafts or
    decides. An approver need not also be an editor to see what awaits them."""
    return may_draft(user) or may_approve(user)
