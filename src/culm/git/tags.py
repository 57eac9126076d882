"""Reading tags (one `git for-each-ref` per listing) and writing annotated tag objects (`git mktag`).

Writing the tag object never moves a ref: the ref is then created through the compare-and-swap and
outbox path of `culm.domain.refs.service`, like every other server-side ref change.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pygit2

from culm.git.command import GitError, run
from culm.git.revisions import open_repo, text
from culm.git.storage import repo_dir

TAGS = "refs/tags/"
# %(*objectname) is the object an annotated tag points at (empty for a lightweight tag).
_FORMAT = "--format=%(objectname)%00%(objecttype)%00%(*objectname)%00%(*objecttype)%00%(refname)"


@dataclass(frozen=True)
class TagRef:
    ref: str  # full name, refs/tags/...
    target: str  # what the ref points at: the tag object (annotated) or the object itself (lightweight)
    commit: str  # the commit it peels to (the peeled object id when that is not a commit)
    tag_object: str | None  # the annotated tag object's id, None for a lightweight tag

    @property
    def name(self) -> str:
        return self.ref[len(TAGS):]


def _parse(out: bytes) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for line in out.split(b"\n"):
        parts = line.split(b"\x00")
        if len(parts) == 5 and parts[-1]:
            oid, kind, peeled, peeled_kind, ref = (text(p) for p in parts)
            rows.append((oid, kind, peeled, peeled_kind, ref))
    return rows


def _tag_ref(repo: pygit2.Repository | None, oid: str, kind: str, peeled: str, peeled_kind: str,
             ref: str) -> TagRef:
    if kind != "tag":
        return TagRef(ref, oid, oid, None)
    commit = peeled
    if peeled_kind == "tag" and repo is not None:  # a tag of a tag: peel all the way down
        try:
            commit = str(repo.get(oid).peel(None).id)  # type: ignore[union-attr]
        except (pygit2.GitError, ValueError, KeyError, AttributeError, TypeError):
            commit = peeled
    return TagRef(ref, oid, commit, oid)


def list_tags(repo_id: int, by_modification: bool) -> list[TagRef]:
    """Every tag, newest first (tagger date, or the commit date of a lightweight tag) or by name."""
    sort = ["--sort=-creatordate"] if by_modification else ["--sort=refname"]
    proc = run(repo_dir(repo_id), "for-each-ref", *sort, _FORMAT, TAGS)
    rows = _parse(proc.stdout)
    repo = open_repo(repo_id) if any(r[3] == "tag" for r in rows) else None
    return [_tag_ref(repo, *row) for row in rows]


def has_tags(repo_id: int) -> bool:
    return bool(run(repo_dir(repo_id), "for-each-ref", "--count=1", "--format=%(refname)", TAGS).stdout.strip())


def get_tag(repo_id: int, ref: str) -> TagRef | None:
    """The tag `ref` (full name, already validated as a ref name), or None."""
    proc = run(repo_dir(repo_id), "for-each-ref", _FORMAT, ref, check=False)
    for row in _parse(proc.stdout):
        if row[4] == ref:
            return _tag_ref(open_repo(repo_id) if row[3] == "tag" else None, *row)
    return None


def _clean(value: str) -> str:
    """Tagger names and e-mails may not carry the characters that delimit them in a tag header."""
    return "".join(c for c in value if c not in "<>\n\r\x00").strip()


def write_annotated(repo_id: int, name: str, target: str, target_type: str, tagger_name: str,
                    tagger_email: str, message: str, when: float | None = None) -> str:
    """Write an annotated tag object for `target` and return its id; no ref is touched."""
    seconds = int(time.time() if when is None else when)
    body = message.replace("\x00", "").rstrip("\n")
    header = (f"object {target}\ntype {target_type}\ntag {name}\n"
              f"tagger {_clean(tagger_name) or 'unknown'} <{_clean(tagger_email)}> {seconds} +0000\n")
    content = header + (f"\n{body}\n" if body else "")
    try:
        proc = run(repo_dir(repo_id), "mktag", input=content.encode("utf-8"))
    except GitError as exc:  # only an internal mistake can get here: inputs were validated
        raise RuntimeError("could not write the tag object") from exc
    return proc.stdout.decode().strip()
