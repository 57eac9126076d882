from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from culm.domain.base import Base


class SystemSetting(Base):
    """One server-wide setting (e.g. the default branch for new repositories), shared by every node."""

    __tablename__ = "system_settings"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
