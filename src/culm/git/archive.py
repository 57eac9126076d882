"""Archives of a commit's tree, streamed from `git archive` (zip, tar, tar.gz/tgz via git's own gzip)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from culm.core.errors import ValidationError
from culm.git import command

FORMATS = {"zip": "zip", "tar": "tar", "tar.gz": "tar.gz", "tgz": "tgz"}
CHUNK = 64 * 1024


def check_format(value: str | None) -> str:
    fmt = (value or "zip").lower()
    if fmt not in FORMATS:
        raise ValidationError(f"The archive format '{value}' is not supported. Supported formats are: "
                              "zip, tar, tar.gz and tgz.", context="format")
    return fmt


def check_prefix(value: str | None) -> str:
    """The prefix as a directory ending in `/` ('' for none); it must stay inside the archive."""
    if not value:
        return ""
    prefix = value if value.endswith("/") else value + "/"
    parts = prefix[:-1].split("/")
    if prefix.startswith("/") or "\x00" in prefix or "\\" in prefix or any(p in ("", ".", "..") for p in parts):
        raise ValidationError(f"The prefix '{value}' is not valid.", context="prefix")
    return prefix


def stream(git_dir: Path, commit: str, fmt: str, prefix: str, raw_paths: list[bytes]) -> Iterator[bytes]:
    """The archive's bytes in chunks. `commit` is a full commit id and `raw_paths` exist in its tree
    (checked by the caller), so git cannot fail part-way for a client's reason. Closing the iterator
    ends the git process."""
    args = ["--literal-pathspecs", "archive", f"--format={FORMATS[fmt]}"]
    if prefix:
        args.append(f"--prefix={prefix}")
    args += [commit, "--", *(os.fsdecode(p) for p in raw_paths)]
    return command.stream(git_dir, *args, chunk=CHUNK)
