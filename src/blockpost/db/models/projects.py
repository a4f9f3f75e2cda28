"""Projects (a git repository plus settings) and their members."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from blockpost.db.base import Base, Timestamps, UUIDColumn, new_uuid
from blockpost.db.models.users import User
from blockpost.timefmt import utcnow


class Project(Timestamps, Base):
    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(UUIDColumn, primary_key=True, default=new_uuid)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    visibility: Mapped[str] = mapped_column(String(16), default="private")
    repository_url: Mapped[str] = mapped_column(String(2048))
    pipeline_file: Mapped[str] = mapped_column(String(1024))
    integration_type: Mapped[str] = mapped_column(String(32))
    run_on: Mapped[list[str]] = mapped_column(JSON, default=list)
    whitelist: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    forked_pull_requests: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    custom_permissions: Mapped[bool] = mapped_column(default=False)
    debug_permissions: Mapped[list[str]] = mapped_column(JSON, default=list)
    attach_permissions: Mapped[list[str]] = mapped_column(JSON, default=list)
    # numbers workflows 1, 2, ...: bumped in the statement that creates one
    workflow_count: Mapped[int] = mapped_column(default=0)
    # the project's integer id in the task-launch API (/api/project/{number}/tasks)
    number: Mapped[int] = mapped_column(unique=True)
    # spec.repository.status.pipeline_files: [{path, level}], the files that post commit
    # statuses (level "pipeline" or "block"). Defaults on the server's side: inserts written
    # for older revisions (the migration tests') leave them out.
    status_pipeline_files: Mapped[list[dict[str, str]]] = mapped_column(
        JSON, server_default=text("'[]'")
    )
    # the token commit statuses are posted with, sealed; "" for none (nothing is posted)
    status_token: Mapped[str] = mapped_column(Text, server_default=text("''"))
    # Private repositories (git/credentials.py): the deploy key's private half in OpenSSH
    # format, sealed, and its public line; an HTTPS {username, token}, sealed. "" for none.
    deploy_key: Mapped[str] = mapped_column(Text, server_default=text("''"))
    deploy_key_public: Mapped[str] = mapped_column(Text, server_default=text("''"))
    https_credential: Mapped[str] = mapped_column(Text, server_default=text("''"))

    owner: Mapped[User] = relationship(lazy="joined")


class ProjectMember(Base):
    __tablename__ = "project_members"

    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
