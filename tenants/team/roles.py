"""Who may do what in a shop. A route declares the permission it needs; the role a member
holds decides whether they have it. An owner may do everything; a bookkeeper sees
everything and retries failed documents, and changes nothing else."""

from __future__ import annotations

from typing import Final, Literal, TypeGuard, get_args

Role = Literal["owner", "bookkeeper"]
Permission = Literal["view", "retry", "manage"]

ROLES: Final[tuple[Role, ...]] = get_args(Role)
PERMISSIONS: Final[tuple[Permission, ...]] = get_args(Permission)

_GRANTED: Final[dict[Role, frozenset[Permission]]] = {
    "owner": frozenset({"view", "retry", "manage"}),
    "bookkeeper": frozenset({"view", "retry"}),
}


def allows(role: str, permission: Permission) -> bool:
    """Whether a member holding `role` has `permission`; an unknown role has none."""
    return role in _GRANTED and permission in _GRANTED[role]


def is_role(value: str) -> TypeGuard[Role]:
    return value in ROLES
