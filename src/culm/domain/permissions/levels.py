"""Permission names and their order. Higher implies lower, and global -> project -> repository."""

from __future__ import annotations

GLOBAL = ["LICENSED_USER", "PROJECT_CREATE", "ADMIN", "SYS_ADMIN"]
PROJECT = ["PROJECT_READ", "PROJECT_WRITE", "PROJECT_ADMIN"]
REPO = ["REPO_READ", "REPO_WRITE", "REPO_ADMIN"]

NONE = 0
READ, WRITE, ADMIN = 1, 2, 3

GLOBAL_LEVEL = {name: i + 1 for i, name in enumerate(GLOBAL)}
PROJECT_LEVEL = {name: i + 1 for i, name in enumerate(PROJECT)}
REPO_LEVEL = {name: i + 1 for i, name in enumerate(REPO)}
# PROJECT_VIEW sits below PROJECT_READ: it lets you see the project exists (a repo inside is readable).
PROJECT_VIEW = "PROJECT_VIEW"

G_LICENSED, G_PROJECT_CREATE, G_ADMIN, G_SYS_ADMIN = 1, 2, 3, 4


def level_of(permission: str) -> int:
    """Resource level (1-3) of a project or repository permission name."""
    return PROJECT_LEVEL.get(permission) or REPO_LEVEL.get(permission) or 0
