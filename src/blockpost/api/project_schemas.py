"""Semaphore's Project resource as JSON: what create/update accept and what reads return."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field

from blockpost import storable
from blockpost.api.request_model import RequestModel
from blockpost.db.models import Project
from blockpost.dispatch.jobenv import repo_names
from blockpost.services.projects import ROLE_NAMES, Member, ProjectFields

RunOn = Literal["branches", "tags", "pull_requests", "forked_pull_requests", "draft_pull_requests"]
Permission = Literal[
    "empty", "default_branch", "non_default_branch", "pull_request", "forked_pull_request", "tag"
]
IntegrationType = Literal["git", "github_token", "github_app", "bitbucket", "gitlab", "gitea"]
Visibility = Literal["private", "public"]
MAX_ITEMS = 100


def _blank_is_unset(value: Any) -> Any:
    # The sem CLI sends "" for fields it has no value for.
    return None if value == "" else value


Name = Annotated[str, Field(min_length=1, max_length=255)]
Names = Annotated[list[Name], Field(max_length=MAX_ITEMS)]


class WhitelistIn(RequestModel):
    branches: Names = []
    tags: Names = []


class ForkedPullRequestsIn(RequestModel):
    allowed_secrets: Names = []
    allowed_contributors: Names = []


class PipelineFileIn(RequestModel):
    path: str = Field(max_length=1024)
    level: Literal["pipeline", "block"]


class RepositoryStatusIn(RequestModel):
    pipeline_files: list[PipelineFileIn] = Field(default=[], max_length=MAX_ITEMS)


class RepositoryIn(RequestModel):
    url: str | None = Field(default=None, max_length=2048)
    run_on: list[RunOn] | None = Field(default=None, max_length=5)
    pipeline_file: Annotated[str | None, BeforeValidator(_blank_is_unset)] = Field(
        default=None, max_length=1024
    )
    whitelist: WhitelistIn | None = None
    forked_pull_requests: ForkedPullRequestsIn | None = None
    integration_type: Annotated[IntegrationType | None, BeforeValidator(_blank_is_unset)] = None
    poll_interval: int | None = Field(
        default=None,
        ge=0,
        le=86400,
        description="blockpost's: fetch the repository every N seconds and build new "
        "branch heads and tags as pushes (0: no polling; shown by GET .../webhook)",
    )
    status: RepositoryStatusIn | None = None
    status_token: str | None = Field(
        default=None,
        description="blockpost's: the token commit statuses are posted with; kept sealed and "
        'never shown; "" removes it',
    )


class SpecIn(RequestModel):
    visibility: Annotated[Visibility | None, BeforeValidator(_blank_is_unset)] = None
    repository: RepositoryIn | None = None
    custom_permissions: bool | None = None
    debug_permissions: list[Permission] | None = Field(default=None, max_length=6)
    attach_permissions: list[Permission] | None = Field(default=None, max_length=6)


class MetadataIn(RequestModel):
    name: str | None = Field(default=None, max_length=100)
    description: str | None = Field(default=None, max_length=10_000)


class ProjectIn(RequestModel):
    apiVersion: Literal["v1alpha"] = "v1alpha"  # noqa: N815  (Semaphore's key)
    kind: Literal["Project"] = "Project"
    metadata: MetadataIn = MetadataIn()
    spec: SpecIn = SpecIn()

    def fields(self) -> ProjectFields:
        repo = self.spec.repository or RepositoryIn()
        return ProjectFields(
            name=self.metadata.name,
            description=self.metadata.description,
            repository_url=repo.url,
            pipeline_file=repo.pipeline_file,
            run_on=list(dict.fromkeys(repo.run_on)) if repo.run_on is not None else None,
            visibility=self.spec.visibility,
            integration_type=repo.integration_type,
            status_pipeline_files=(
                [item.model_dump() for item in repo.status.pipeline_files] if repo.status else None
            ),
            status_token=repo.status_token,
            whitelist=repo.whitelist.model_dump() if repo.whitelist else None,
            forked_pull_requests=(
                repo.forked_pull_requests.model_dump() if repo.forked_pull_requests else None
            ),
            custom_permissions=self.spec.custom_permissions,
            debug_permissions=self.spec.debug_permissions,
            attach_permissions=self.spec.attach_permissions,
        )


class ProjectMetadataOut(BaseModel):
    name: str
    id: str
    description: str
    owner_id: str
    org_id: str


class PipelineFileOut(BaseModel):
    path: str
    level: str


class RepositoryStatusOut(BaseModel):
    pipeline_files: list[PipelineFileOut]


class WhitelistOut(BaseModel):
    branches: list[str]
    tags: list[str]


class ForkedPullRequestsOut(BaseModel):
    allowed_secrets: list[str]
    allowed_contributors: list[str]


class RepositoryOut(BaseModel):
    url: str
    name: str
    owner: str
    run_on: list[str]
    forked_pull_requests: ForkedPullRequestsOut
    pipeline_file: str
    status: RepositoryStatusOut
    whitelist: WhitelistOut
    integration_type: str


class ProjectSpecOut(BaseModel):
    visibility: str
    repository: RepositoryOut
    custom_permissions: bool
    debug_permissions: list[str]
    attach_permissions: list[str]


class ProjectOut(BaseModel):
    apiVersion: str = "v1alpha"  # noqa: N815
    kind: str = "Project"
    metadata: ProjectMetadataOut
    spec: ProjectSpecOut

    @classmethod
    def of(cls, project: Project, org_id: str) -> ProjectOut:
        name, slug = repo_names(project.repository_url)
        return cls(
            metadata=ProjectMetadataOut(
                name=project.name,
                id=project.id,
                description=project.description,
                owner_id=project.owner.uuid,
                org_id=org_id,
            ),
            spec=ProjectSpecOut(
                visibility=project.visibility,
                repository=RepositoryOut(
                    url=project.repository_url,
                    name=name,
                    owner=slug.rpartition("/")[0],
                    run_on=project.run_on,
                    forked_pull_requests=ForkedPullRequestsOut(
                        **{"allowed_secrets": [], "allowed_contributors": []}
                        | project.forked_pull_requests
                    ),
                    pipeline_file=project.pipeline_file,
                    status=RepositoryStatusOut(
                        pipeline_files=[
                            PipelineFileOut(**item) for item in project.status_pipeline_files
                        ]
                    ),
                    whitelist=WhitelistOut(**{"branches": [], "tags": []} | project.whitelist),
                    integration_type=project.integration_type,
                ),
                custom_permissions=project.custom_permissions,
                debug_permissions=project.debug_permissions,
                attach_permissions=project.attach_permissions,
            ),
        )


class MemberIn(RequestModel):
    user_id: int | None = Field(default=None, ge=1, le=storable.INT_MAX)
    username: str | None = Field(default=None, min_length=1, max_length=64)


class RoleIn(RequestModel):
    role_id: str = Field(min_length=1, max_length=64, description="`member` (or `Member`)")


class RoleBindingOut(BaseModel):
    role_id: str
    role_name: str
    source: str = "manually"


class MemberOut(BaseModel):
    """Semaphore's member: `id` is the user's uuid; our additions are user_id and username."""

    id: str
    subject_type: str = "user"
    name: str
    roles: list[RoleBindingOut]
    user_id: int
    username: str

    @classmethod
    def of(cls, member: Member) -> MemberOut:
        user = member.user
        role = RoleBindingOut(role_id=member.role, role_name=ROLE_NAMES[member.role])
        return cls(
            id=user.uuid,
            name=user.name or user.username,
            roles=[role],
            user_id=user.id,
            username=user.username,
        )


class MembersOut(BaseModel):
    members: list[MemberOut]
