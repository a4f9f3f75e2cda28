"""ORM models, one module per aggregate; importing this package registers them all."""

from blockpost.db.models.agents import Agent, AgentType
from blockpost.db.models.jobs import Job, JobLogChunk
from blockpost.db.models.projects import Project, ProjectMember
from blockpost.db.models.users import ApiToken, User, WebSession

__all__ = [
    "Agent",
    "AgentType",
    "ApiToken",
    "Job",
    "JobLogChunk",
    "Project",
    "ProjectMember",
    "User",
    "WebSession",
]
