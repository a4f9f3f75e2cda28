"""Semaphore's Project resource as JSON: what create/update accept and what reads return."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from blockpost import storable
from blockpost.db.models import Project
from blockpost.services.projects import ProjectFields

RunOn = Literal["branches", "tags", "pull_requests", "forked_pull_requests", "draft_pull_requests"]
Permission = Literal[
    "empty", "default_branch", "non_default_branch", "pull_request", "forked_pull_request", "tag"
]
IntegrationType = Literal["git", "github_token", "github_app", "bitbucket", "gitlab"]
Visibility = Literal["private", "public"]
MAX_ITEMS = 100


def _blank_is_unset(value: Any) -> Any:
    # The sem CLI sends "" for fields it has no value for.
    return None if value == "" else value


Name = Annotated[str, Field(min_length=1, max_length=255)]
Names = Annotated[list[Name], Field(max_length=MAX_ITEMS)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WhitelistIn(_In):
    branches: Names = []
    tags: Names = []


class ForkedPullRequestsIn(_In):
    allowed_secrets: Names = []
    allowed_contributors: Names = []


class PipelineFileIn(_In):
    path: str = Field(max_length=1024)
    level: str = Field(max_length=32)


class RepositoryStatusIn(_In):
    pipeline_files: list[PipelineFileIn] = Field(default=[], max_length=MAX_ITEMS)


class RepositoryIn(_In):
    url: str | None = Field(default=None, max_length=2048)
    run_on: list[RunOn] | None = Field(default=None, max_length=5)
    pipeline_file: Annotated[str | None, BeforeValidator(_blank_is_unset)] = Field(
        default=None, max_length=1024
    )
    whitelist: WhitelistIn | None = None
    forked_pull_requests: ForkedPullRequestsIn | None = None
    integration_type: Annotated[IntegrationType | None, BeforeValidator(_blank_is_unset)] = None
    status: RepositoryStatusIn | None = Field(
        default=None, description="Read-only (derived from pipeline_file); accepted and ignored."
    )


class SpecIn(_In):
    visibility: Annotated[Visibility | None, BeforeValidator(_blank_is_unset)] = None
    repository: RepositoryIn | None = None
    custom_permissions: bool | None = None
    debug_permissions: list[Permission] | None = Field(default=None, max_length=6)
    attach_permissions: list[Permission] | None = Field(default=None, max_length=6)


class MetadataIn(_In):
    name: str | None = Field(default=None, max_length=100)
    description: str | None = Field(default=None, max_length=10_000)
    id: str | None = Field(default=None, max_length=64, description="Read-only; ignored.")
    owner_id: str | None = Field(default=None, max_length=64, description="Read-only; ignored.")


class ProjectIn(_In):
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
    def of(cls, project: Project) -> ProjectOut:
        return cls(
            metadata=ProjectMetadataOut(
                name=project.name,
                id=project.id,
                description=project.description,
                owner_id=project.owner.uuid,
            ),
            spec=ProjectSpecOut(
                visibility=project.visibility,
                repository=RepositoryOut(
                    url=project.repository_url,
                    run_on=project.run_on,
                    forked_pull_requests=ForkedPullRequestsOut(
                        **{"allowed_secrets": [], "allowed_contributors": []}
                        | project.forked_pull_requests
                    ),
                    pipeline_file=project.pipeline_file,
                    status=RepositoryStatusOut(
                        pipeline_files=[
                            PipelineFileOut(path=project.pipeline_file, level="pipeline")
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


class MemberIn(_In):
    user_id: int | None = Field(default=None, ge=1, le=storable.INT_MAX)
    username: str | None = Field(default=None, min_length=1, max_length=64)


class MemberOut(BaseModel):
    user_id: int
    uuid: str
    username: str
    name: str
    role: Literal["owner", "member"]
