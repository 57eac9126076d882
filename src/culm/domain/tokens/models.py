from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from culm.domain.base import Base, now_ms


class AccessToken(Base):
    """An HTTP access token. Only the SHA-256 of its secret is kept; the raw token is shown once."""

    __tablename__ = "access_tokens"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(255))
    secret_hash: Mapped[str] = mapped_column(String(64))
    # USER, PROJECT or REPOSITORY; the token acts as `user_id`: the owner of a USER token, or the
    # token's own bot (type SERVICE, `bot-<id>`) for project and repository tokens, whose rights are
    # exactly the token's on `project_id` / `repository_id`.
    scope: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), nullable=True, index=True
    )
    repository_id: Mapped[int | None] = mapped_column(
        ForeignKey("repositories.id", ondelete="CASCADE"), nullable=True, index=True
    )
    # Space-separated permission names, e.g. "PROJECT_READ REPO_WRITE".
    permissions: Mapped[str] = mapped_column(String(255))
    created_date: Mapped[int] = mapped_column(BigInteger, default=now_ms)
    expiry_date: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_authenticated: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
