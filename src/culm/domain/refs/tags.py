"""Tag rules: listing (filter, order, page), one tag, create (lightweight or annotated, `force` moves
an existing tag), delete. Annotated tag objects are written by `culm.git.tags`; the ref itself always
moves through `service` (compare-and-swap + outbox event)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from culm.core.errors import BadRequest, DuplicateRef, NoSuchCommit, NoSuchTag, ValidationError
from culm.core.paging import PageRequest
from culm.domain.refs import service
from culm.domain.refs.naming import (
    InvalidStartPoint,
    RefNameConflict,
    by_modification,
    filtered,
    full_ref,
    lookup_ref,
    page_of,
)
from culm.domain.repos.models import Repository
from culm.domain.users.models import User
from culm.git import branches as gitbranches
from culm.git import storage
from culm.git import tags as gittags
from culm.git.refs import ZERO
from culm.git.revisions import find_commit, open_repo
from culm.git.tags import TagRef

TAGS = "refs/tags/"
TYPES = ("ANNOTATED", "LIGHTWEIGHT")


def find(repo: Repository, req: PageRequest, filter_text: str | None = None,
         order_by: str | None = None) -> tuple[list[TagRef], bool]:
    """One page of tags; one git process lists them all."""
    items = gittags.list_tags(repo.id, by_modification(order_by))
    return page_of(filtered(items, lambda t: t.name, filter_text, False), req)


def _missing(repo: Repository, name: str) -> NoSuchTag:
    return NoSuchTag(f"Tag '{name}' does not exist in repository '{repo.name}'.", context="name")


def get(repo: Repository, name: str) -> TagRef:
    """The tag `name` (short or `refs/tags/...`); 404 NoSuchTagException otherwise."""
    ref = lookup_ref(name, TAGS)
    tag = gittags.get_tag(repo.id, ref) if ref else None
    if tag is None:
        raise _missing(repo, name)
    return tag


def create(session: Session, repo: Repository, actor: User | None, name: object, start_point: object,
           message: object = None, kind: object = None, force: bool = False,
           plugin_api: bool = False) -> TagRef:
    """Create tag `name` at `start_point` (a ref or a commit). ANNOTATED writes a tag object whose
    tagger is the acting user, now; LIGHTWEIGHT points the ref at the commit. Without `type`, a message
    makes it annotated. An existing tag is a 400 unless `force`, which moves it (compare-and-swap)."""
    ref = full_ref(name, TAGS, "tag")
    text = message if isinstance(message, str) else ""
    if message is not None and not isinstance(message, str):
        raise ValidationError("The tag message must be a string.", context="message")
    tag_type = (kind.strip().upper() if isinstance(kind, str) and kind.strip() else
                ("ANNOTATED" if text.strip() else "LIGHTWEIGHT"))
    if tag_type not in TYPES or not isinstance(kind, str | None):
        raise ValidationError(f"Invalid tag type '{kind}'; valid values are ANNOTATED and LIGHTWEIGHT.",
                              context="type")
    if not isinstance(start_point, str) or not start_point.strip():
        raise ValidationError("A startPoint is required.", context="startPoint")
    commit = find_commit(open_repo(repo.id), start_point)
    if commit is None:
        msg = f"Commit '{start_point}' does not exist in repository '{repo.name}'."
        raise (InvalidStartPoint if plugin_api else NoSuchCommit)(msg, context="startPoint")
    target = str(commit.id)
    existing = gittags.get_tag(repo.id, ref)
    if existing is not None and not force:
        raise DuplicateRef(f"Tag '{ref[len(TAGS):]}' already exists in repository '{repo.name}'", context="name")
    if existing is None:
        clash = gitbranches.overlapping(repo.id, ref)
        if clash is not None:
            raise RefNameConflict(f"Tag '{ref[len(TAGS):]}' cannot be created in repository '{repo.name}' "
                                  f"because it overlaps with the existing ref '{clash}'.", context="name")
    new = target
    tag_object = None
    if tag_type == "ANNOTATED":
        who_name = actor.display_name if actor is not None else "unknown"
        who_email = (actor.email or "") if actor is not None else ""
        new = tag_object = gittags.write_annotated(repo.id, ref[len(TAGS):], target, "commit", who_name,
                                                   who_email, text)
    if existing is not None and existing.target == new:
        return existing  # forced onto what it already is: nothing moves
    old = existing.target if existing is not None else ZERO
    service.apply(session, repo, actor.id if actor else None, ref, old, new, f"tag: {text or 'created via REST'}")
    return TagRef(ref, new, target, tag_object)


def delete(session: Session, repo: Repository, actor_id: int | None, name: str) -> None:
    """Delete tag `name`: 404 when it does not exist, 400 for an empty repository (as the spec says);
    the deletion is a compare-and-swap from the object read here."""
    ref = lookup_ref(name, TAGS)
    tag = gittags.get_tag(repo.id, ref) if ref else None
    if tag is None:
        if not storage.has_branches(repo.id) and not gittags.has_tags(repo.id):
            raise BadRequest(f"Repository '{repo.name}' is empty; it has no tags to delete.", context="name")
        raise _missing(repo, name)
    service.delete(session, repo, actor_id, tag.ref, tag.target)
