"""Collecting artifact files inside a job's working directory, and packing/unpacking them as tar.

Patterns come from the plan (written by whoever may edit the specs), so nothing may reach outside the working
directory: absolute paths, `..` and symlinks resolving outside are refused (ArtifactRefused), never followed."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path


class ArtifactRefused(Exception):
    """The artifact definition or a matched file points outside the working directory."""


def inside(root: Path, relative: str, what: str) -> Path:
    """`root/relative` if it stays inside root (after resolving symlinks), else ArtifactRefused."""
    if relative.startswith("/") or relative.startswith("\\") or "\x00" in relative:
        raise ArtifactRefused(f"{what} '{relative}' is an absolute path")
    if ".." in Path(relative).parts:
        raise ArtifactRefused(f"{what} '{relative}' goes outside the working directory")
    real_root = root.resolve()
    target = (root / relative).resolve() if relative else real_root
    if target != real_root and real_root not in target.parents:
        raise ArtifactRefused(f"{what} '{relative}' resolves outside the working directory")
    return target


def collect(workdir: Path, location: str, pattern: str) -> tuple[Path, list[Path]]:
    """The base folder and the files matching `pattern` (Ant-style globs, `**` for any depth) under it."""
    base = inside(workdir, location or "", "artifact location")
    real_root = workdir.resolve()
    if not pattern or pattern.startswith("/") or ".." in Path(pattern).parts:
        raise ArtifactRefused(f"artifact pattern '{pattern}' must be relative to the working directory")
    if not base.is_dir():
        return base, []
    files: list[Path] = []
    seen: set[Path] = set()
    for match in sorted(base.glob(pattern)):
        candidates = [match]
        if match.is_dir() and not match.is_symlink():
            candidates = sorted(p for p in match.rglob("*") if p.is_file() or p.is_symlink())
        for path in candidates:
            real = path.resolve()
            if real != real_root and real_root not in real.parents:
                raise ArtifactRefused(f"'{path.relative_to(base)}' is a link to outside the working directory")
            if real.is_file() and path not in seen:
                seen.add(path)
                files.append(path)
    return base, files


def pack(base: Path, files: list[Path], tar_path: Path) -> tuple[int, int]:
    """Write the files (contents, never links) to a tar; returns (total size, file count)."""
    size = 0
    with tarfile.open(tar_path, "w") as tar:
        for path in files:
            real = path.resolve()
            info = tar.gettarinfo(str(real), arcname=str(path.relative_to(base)))
            info.mode = 0o755 if os.access(real, os.X_OK) else 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            with real.open("rb") as f:
                tar.addfile(info, f)
            size += info.size
    return size, len(files)


def unpack(tar_path: Path, dest: Path) -> tuple[int, int]:
    """Extract regular files and folders only, each inside `dest`; links, devices and escapes are refused."""
    dest.mkdir(parents=True, exist_ok=True)
    real_dest = dest.resolve()
    size = count = 0
    with tarfile.open(tar_path, "r:*") as tar:
        for member in tar:
            name = member.name
            if name.startswith("/") or ".." in Path(name).parts:
                raise ArtifactRefused(f"archive entry '{name}' goes outside the destination")
            target = (dest / name).resolve()
            if target != real_dest and real_dest not in target.parents:
                raise ArtifactRefused(f"archive entry '{name}' goes outside the destination")
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            if not member.isfile():
                raise ArtifactRefused(f"archive entry '{name}' is not a regular file")
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None
            with source, target.open("wb") as out:
                while chunk := source.read(1 << 16):
                    out.write(chunk)
            os.chmod(target, 0o755 if member.mode & 0o111 else 0o644)
            size += member.size
            count += 1
    return size, count


def pack_dir(root: Path, tar_path: Path) -> None:
    """A stored artifact folder as a tar (for a later job's download)."""
    with tarfile.open(tar_path, "w") as tar:
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                tar.add(str(path), arcname=str(path.relative_to(root)), recursive=False)
