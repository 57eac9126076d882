"""Global, project and plan variables kept as rows (scope GLOBAL owner 0, PROJECT owner project id, PLAN owner
plan id). Values of password-like variables are shown masked everywhere the REST API returns them."""

from __future__ import annotations

import re

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from culm.domain.bamboo.models import BambooPlan, BambooVariable
from culm.domain.bamboo.service import Invalid, NotFound
from culm.domain.bamboo.variables import MASK
from culm.domain.bamboo.variables import is_secret as is_password

NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,255}$")
MAX_VALUE = 64 * 1024


def shown(row: BambooVariable) -> str:
    return MASK if is_password(row.name) else row.value


def check(name: object, value: object) -> tuple[str, str]:
    """Bamboo's rules: a name of letters, digits, `_ . -`; a non-empty value."""
    if not isinstance(name, str) or not NAME.fullmatch(name):  # match() would let a trailing newline through
        raise Invalid("Variable name is invalid: use 1-255 letters, digits, '_', '.' or '-'.")
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"Variable {name}: the value must not be empty.")
    if len(value) > MAX_VALUE or "\x00" in value:
        raise Invalid(f"Variable {name}: the value is too long or contains NUL characters.")
    return name, value


def rows(session: Session, scope: str, owner_id: int) -> list[BambooVariable]:
    return list(session.scalars(select(BambooVariable).where(BambooVariable.scope == scope,
                                                             BambooVariable.owner_id == owner_id)
                                .order_by(BambooVariable.name)))


def find(session: Session, scope: str, owner_id: int, name: str) -> BambooVariable:
    row = session.scalar(select(BambooVariable).where(BambooVariable.scope == scope,
                                                      BambooVariable.owner_id == owner_id,
                                                      BambooVariable.name == name))
    if row is None:
        raise NotFound(f"Variable {name} not found")
    return row


def by_id(session: Session, raw_id: str) -> BambooVariable:
    row = session.get(BambooVariable, int(raw_id)) if raw_id.isdigit() and len(raw_id) < 12 else None
    if row is None or row.scope != "GLOBAL":
        raise NotFound(f"Global variable {raw_id} not found")
    return row


def create(session: Session, scope: str, owner_id: int, name: object, value: object) -> BambooVariable:
    name, value = check(name, value)
    exists = session.scalar(select(BambooVariable.id).where(BambooVariable.scope == scope,
                                                            BambooVariable.owner_id == owner_id,
                                                            BambooVariable.name == name))
    if exists is not None:
        raise Invalid(f"Variable {name} already exists.")
    row = BambooVariable(scope=scope, owner_id=owner_id, name=name, value=value)
    session.add(row)
    session.flush()
    mirror(session, row)
    return row


def update(session: Session, row: BambooVariable, name: object, value: object) -> None:
    """A body naming another variable is refused; a missing name keeps this one's."""
    if name is None:
        name = row.name
    name, value = check(name, value)
    if name != row.name:
        raise Invalid(f"Variable name {name} does not match {row.name}; rename is not supported.")
    row.value = value
    session.flush()
    mirror(session, row)


def remove(session: Session, row: BambooVariable) -> None:
    session.delete(row)
    session.flush()
    mirror(session, row)


def mirror(session: Session, row: BambooVariable) -> None:
    """A plan's spec keeps its variables in step with the rows, so whatever reads either (the plan's
    variableContext, Specs export, the build engine) sees the same values."""
    if row.scope != "PLAN":
        return
    plan = session.get(BambooPlan, row.owner_id)
    if plan is not None:
        values = {r.name: r.value for r in rows(session, "PLAN", plan.id)}
        plan.spec = {**(plan.spec or {}), "variables": values}


def upsert(session: Session, scope: str, owner_id: int, name: object, value: object) -> tuple[BambooVariable, bool]:
    name, value = check(name, value)
    try:
        row = find(session, scope, owner_id, name)
    except NotFound:
        return create(session, scope, owner_id, name, value), True
    update(session, row, name, value)
    return row, False


def replace_spec_variables(session: Session, plan: BambooPlan, variables: dict[str, str]) -> None:
    """A specs import rewrites the plan's variables (specs are the source of truth for their plans)."""
    session.execute(delete(BambooVariable).where(BambooVariable.scope == "PLAN", BambooVariable.owner_id == plan.id))
    for name, value in variables.items():
        session.add(BambooVariable(scope="PLAN", owner_id=plan.id, name=name, value=value))
    session.flush()


def copy_plan_variables(session: Session, source: BambooPlan, target: BambooPlan) -> None:
    for row in rows(session, "PLAN", source.id):
        session.add(BambooVariable(scope="PLAN", owner_id=target.id, name=row.name, value=row.value))
    session.flush()


def delete_owner(session: Session, scope: str, owner_id: int) -> None:
    session.execute(delete(BambooVariable).where(BambooVariable.scope == scope, BambooVariable.owner_id == owner_id))
