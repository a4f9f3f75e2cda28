"""Self-hosted agent types (with their registration token) and the agents registered to them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from blockpost.db.base import Base, Timestamps, UUIDColumn
from blockpost.timefmt import utcnow


class AgentType(Timestamps, Base):
    __tablename__ = "agent_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    assignment_origin: Mapped[str] = mapped_column(String(40), default="assignment_origin_agent")
    release_after: Mapped[int] = mapped_column(
        default=0
    )  # seconds a disconnected name stays reserved


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    agent_type_id: Mapped[int] = mapped_column(
        ForeignKey("agent_types.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    version: Mapped[str] = mapped_column(String(64), default="")
    os: Mapped[str] = mapped_column(String(255), default="")
    arch: Mapped[str] = mapped_column(String(64), default="")
    hostname: Mapped[str] = mapped_column(String(255), default="")
    pid: Mapped[int] = mapped_column(default=0)
    ip_address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    single_job: Mapped[bool] = mapped_column(default=False)
    idle_timeout: Mapped[int] = mapped_column(default=0)
    interruption_grace_period: Mapped[int] = mapped_column(default=0)
    # Whether it may be given container jobs (`agent.containers`); the official agent says
    # nothing and has a docker compose executor, so an agent is capable unless it says not.
    can_run_containers: Mapped[bool] = mapped_column(default=True)
    # "registered" while connected; "disconnected" keeps the name reserved for release_after.
    state: Mapped[str] = mapped_column(String(16), default="registered")
    connected_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sync_at: Mapped[datetime | None]
    last_sync_state: Mapped[str] = mapped_column(String(32), default="")
    last_state_change_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The job this agent was given; no foreign key, jobs point back at agents.
    job_id: Mapped[str | None] = mapped_column(UUIDColumn)
    disabled_at: Mapped[datetime | None]
    interrupted_at: Mapped[datetime | None]
    disconnected_at: Mapped[datetime | None]

    agent_type: Mapped[AgentType] = relationship(lazy="joined")
