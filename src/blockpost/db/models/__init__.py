"""ORM models, one module per aggregate; importing this package registers them all."""

from blockpost.db.models.projects import Project, ProjectMember
from blockpost.db.models.users import ApiToken, User, WebSession

__all__ = ["ApiToken", "Project", "ProjectMember", "User", "WebSession"]
