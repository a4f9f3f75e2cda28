"""ORM models, one module per aggregate; importing this package registers them all."""

from blockpost.db.models.agents import Agent, AgentType
from blockpost.db.models.artifacts import ArtifactRetentionPolicy
from blockpost.db.models.audit import AuditEvent
from blockpost.db.models.cache import CacheEntry
from blockpost.db.models.dashboards import Dashboard
from blockpost.db.models.hooks import HookDelivery, ProjectHook
from blockpost.db.models.jobs import Job, JobLogChunk
from blockpost.db.models.notifications import Notification, NotificationDelivery
from blockpost.db.models.projects import Project, ProjectMember
from blockpost.db.models.promotions import (
    Deployment,
    DeploymentTarget,
    Promotion,
    TargetRequest,
)
from blockpost.db.models.schedules import Schedule, ScheduleTrigger
from blockpost.db.models.secrets import Secret
from blockpost.db.models.test_results import JUnitCase, JUnitReport, JUnitSuite
from blockpost.db.models.users import ApiToken, User, WebSession
from blockpost.db.models.workflows import Block, Pipeline, Workflow

__all__ = [
    "Agent",
    "AgentType",
    "ApiToken",
    "ArtifactRetentionPolicy",
    "AuditEvent",
    "Block",
    "CacheEntry",
    "Dashboard",
    "Deployment",
    "DeploymentTarget",
    "HookDelivery",
    "JUnitCase",
    "JUnitReport",
    "JUnitSuite",
    "Job",
    "JobLogChunk",
    "Notification",
    "NotificationDelivery",
    "Pipeline",
    "Project",
    "ProjectHook",
    "ProjectMember",
    "Promotion",
    "Schedule",
    "ScheduleTrigger",
    "Secret",
    "TargetRequest",
    "User",
    "WebSession",
    "Workflow",
]
