"""Working request-body examples for the OpenAPI document, by (METHOD, path).

Ids below stand for objects that exist on a real server (a test creates them and swaps
these placeholders for their ids); every other value works as it stands.
"""

from __future__ import annotations

import base64
from typing import Any

PROJECT = "web-app"
PROJECT_ID = "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
PIPELINE_ID = "0c2d4e6f-8a0b-4c2d-9e4f-6a8b0c2d4e6f"
BRANCH = "main"
PASSWORD = "correct-horse-battery-staple"
MEMBER = "linus"
SECRET_NAME = "deploy-key"
UNIQUE_TOKEN = "c8a6f2b0-5d1e-4f3a-9b7c-1e2d3f4a5b6c"

PIPELINE_FILE = ".semaphore/semaphore.yml"
PIPELINE_YAML = """\
version: v1.0
name: Build
agent:
  machine:
    type: e1-standard-2
    os_image: ubuntu2004
blocks:
  - name: Test
    task:
      jobs:
        - name: Unit tests
          commands:
            - checkout
            - make test
"""
SCHEDULE_YAML = f"""\
apiVersion: v1.0
kind: Schedule
metadata:
  name: nightly
spec:
  project: {PROJECT}
  branch: {BRANCH}
  at: "0 3 * * *"
  pipeline_file: {PIPELINE_FILE}
"""
_AWS_CONFIG = base64.b64encode(b"[default]\nregion = eu-central-1\n").decode()
SECRET_DATA = {
    "env_vars": [{"name": "AWS_ACCESS_KEY_ID", "value": "AKIAIOSFODNN7EXAMPLE"}],
    "files": [{"path": "/home/semaphore/.aws/config", "content": _AWS_CONFIG}],
}
_MACHINE = {"type": "e1-standard-2", "os_image": "ubuntu2004"}

REQUEST_EXAMPLES: dict[tuple[str, str], Any] = {
    ("POST", "/api/auth/login"): {"auth": "ada", "password": PASSWORD},
    ("POST", "/api/users"): {
        "username": "grace",
        "password": "a-long-passphrase-42",
        "name": "Grace Hopper",
        "email": "grace@example.com",
        "admin": False,
    },
    ("POST", "/api/v1alpha/projects"): {
        "apiVersion": "v1alpha",
        "kind": "Project",
        "metadata": {"name": "api-server", "description": "The public API"},
        "spec": {
            "visibility": "private",
            "repository": {
                "url": "https://git.example.com/team/api-server.git",
                "run_on": ["branches", "tags"],
                "pipeline_file": PIPELINE_FILE,
            },
        },
    },
    ("PUT", "/api/v1alpha/projects/{project}"): {
        "apiVersion": "v1alpha",
        "kind": "Project",
        "metadata": {"name": PROJECT, "description": "The shop's web front end"},
        "spec": {"visibility": "public"},
    },
    ("PATCH", "/api/v1alpha/projects/{project}"): {
        "metadata": {"description": "The shop's web front end"}
    },
    ("POST", "/api/v1alpha/projects/{project}/members"): {"username": MEMBER},
    ("PUT", "/api/v1alpha/projects/{project}/members/{subject_id}/role"): {"role_id": "member"},
    ("PUT", "/api/v1alpha/projects/{project}/https_credential"): {
        "username": "ci-bot",
        "token": "glpat-0123456789abcdefghij",
    },
    ("PUT", "/api/v1alpha/projects/{project}/known_hosts"): {
        "known_hosts": "github.com ssh-ed25519 "
        "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"
    },
    ("POST", "/api/v1alpha/plumber-workflows"): {
        "project_id": PROJECT_ID,
        "reference": f"refs/heads/{BRANCH}",
        "pipeline_file": PIPELINE_FILE,
    },
    ("PATCH", "/api/v1alpha/pipelines/{ppl_id}"): {"terminate_request": True},
    ("POST", "/api/v1alpha/jobs"): {
        "apiVersion": "v1alpha",
        "kind": "Job",
        "metadata": {"name": "Database migration"},
        "spec": {
            "project_id": PROJECT_ID,
            "agent": {"machine": _MACHINE},
            "env_vars": [{"name": "RAILS_ENV", "value": "production"}],
            "commands": ["checkout", "make migrate"],
        },
    },
    ("POST", "/api/v1alpha/yaml"): {"yaml_definition": PIPELINE_YAML},
    ("POST", "/api/v1alpha/promotions"): {
        "pipeline_id": PIPELINE_ID,
        "name": "Production",
        "override": True,
    },
    ("POST", "/api/v1alpha/deployment_targets"): {
        "project_id": PROJECT_ID,
        "name": "production",
        "unique_token": UNIQUE_TOKEN,
        "description": "The live shop",
        "url": "https://shop.example.com",
        "subject_rules": [{"type": "ANY"}],
        "object_rules": [{"type": "BRANCH", "match_mode": "EXACT", "pattern": BRANCH}],
        "env_vars": [{"name": "DEPLOY_ENV", "value": "production"}],
    },
    ("PATCH", "/api/v1alpha/deployment_targets/{target_id}"): {
        "description": "The live shop, eu-central-1",
        "url": "https://shop.example.com",
    },
    ("POST", "/api/v1alpha/schedules"): {"yml_definition": SCHEDULE_YAML},
    ("POST", "/api/v1alpha/schedules/{schedule_id}/run_now"): {
        "branch": BRANCH,
        "pipeline_file": PIPELINE_FILE,
        "parameters": {},
    },
    ("POST", "/api/project/{project}/tasks"): {"template_id": 1},
    ("POST", "/api/v1alpha/notifications"): {
        "apiVersion": "v1alpha",
        "kind": "Notification",
        "metadata": {"name": "web-app-releases"},
        "spec": {
            "rules": [
                {
                    "name": "Failed releases to #deploys",
                    "filter": {
                        "projects": [PROJECT],
                        "branches": [BRANCH, "release-*"],
                        "results": ["failed"],
                    },
                    "notify": {
                        "slack": {
                            "endpoint": "https://hooks.slack.com/services/T000/B000/XXXX",
                            "channels": ["#deploys"],
                        },
                        "webhook": {"endpoint": "https://hooks.example.com/semaphore"},
                    },
                }
            ]
        },
    },
    ("PATCH", "/api/v1alpha/notifications/{id_or_name}"): {
        "spec": {
            "rules": [
                {
                    "name": "Every result to #builds",
                    "filter": {"projects": [PROJECT]},
                    "notify": {
                        "slack": {
                            "endpoint": "https://hooks.slack.com/services/T000/B000/XXXX",
                            "channels": ["#builds"],
                        }
                    },
                }
            ]
        }
    },
    ("POST", "/api/v1alpha/dashboards"): {
        "apiVersion": "v1alpha",
        "kind": "Dashboard",
        "metadata": {"name": "release-health"},
        "spec": {
            "widgets": [
                {
                    "name": "Main branch",
                    "type": "list_pipelines",
                    "filters": {"project_id": PROJECT_ID, "branch": BRANCH},
                }
            ]
        },
    },
    ("PATCH", "/api/v1alpha/dashboards/{id_or_name}"): {
        "metadata": {"title": "Release health (web app)"},
        "spec": {
            "widgets": [
                {
                    "name": "Workflows on main",
                    "type": "list_workflows",
                    "filters": {"project_id": PROJECT_ID, "branch": BRANCH},
                }
            ]
        },
    },
    ("POST", "/api/v1alpha/artifacts_retention_policies"): {
        "project_id": PROJECT_ID,
        "project_level_retention_policies": [{"selector": "/**/*", "age": "3 months"}],
        "workflow_level_retention_policies": [{"selector": "/**/*", "age": "2 weeks"}],
        "job_level_retention_policies": [{"selector": "/**/*.log", "age": "1 week"}],
    },
    ("POST", "/api/v1beta/secrets"): {
        "apiVersion": "v1beta",
        "kind": "Secret",
        "metadata": {"name": "aws-credentials"},
        "data": SECRET_DATA,
    },
    ("PUT", "/api/v1beta/secrets/{name}"): {
        "apiVersion": "v1beta",
        "kind": "Secret",
        "metadata": {"name": SECRET_NAME},
        "data": {"env_vars": [{"name": "DEPLOY_KEY", "value": "rotated-2026-01"}], "files": []},
    },
    ("POST", "/api/v1beta/projects/{project}/secrets"): {
        "apiVersion": "v1",
        "kind": "ProjectSecret",
        "metadata": {"name": "aws-credentials"},
        "data": SECRET_DATA,
    },
    ("PUT", "/api/v1beta/projects/{project}/secrets/{name}"): {
        "apiVersion": "v1",
        "kind": "ProjectSecret",
        "metadata": {"name": SECRET_NAME},
        "data": {"env_vars": [{"name": "DEPLOY_KEY", "value": "rotated-2026-01"}], "files": []},
    },
    ("POST", "/api/v1alpha/self_hosted_agent_types"): {
        "apiVersion": "v1alpha",
        "kind": "SelfHostedAgentType",
        "metadata": {"name": "s1-linux-arm"},
        "spec": {"agent_name_settings": {"assignment_origin": "assignment_origin_agent"}},
    },
    ("PATCH", "/api/v1alpha/self_hosted_agent_types/{name}"): {
        "spec": {
            "agent_name_settings": {
                "assignment_origin": "assignment_origin_agent",
                "release_after": 60,
            }
        }
    },
    ("POST", "/api/v1alpha/self_hosted_agent_types/{name}/disable_all"): {"only_idle": True},
    ("POST", "/api/v1/self_hosted_agents/register"): {
        "name": "build-host-1",
        "version": "v2.2.6",
        "pid": 1402,
        "os": "Ubuntu 22.04",
        "arch": "x86_64",
        "hostname": "build-host-1",
        "single_job": False,
        "idle_timeout": 0,
        "interruption_grace_period": 0,
    },
    ("POST", "/api/v1/self_hosted_agents/sync"): {
        "state": "waiting-for-jobs",
        "job_id": "",
        "job_result": "",
        "interrupted_at": 0,
    },
}
# The same bodies where a route answers at a second path or method.
for _put, _alias in (
    (("POST", "/api/v1alpha/schedules"), ("POST", "/api/v1alpha/tasks")),
    (
        ("POST", "/api/v1alpha/schedules/{schedule_id}/run_now"),
        ("POST", "/api/v1alpha/tasks/{schedule_id}/run_now"),
    ),
    (
        ("PATCH", "/api/v1alpha/notifications/{id_or_name}"),
        ("PUT", "/api/v1alpha/notifications/{id_or_name}"),
    ),
    (
        ("PATCH", "/api/v1alpha/dashboards/{id_or_name}"),
        ("PUT", "/api/v1alpha/dashboards/{id_or_name}"),
    ),
    (("PUT", "/api/v1beta/secrets/{name}"), ("PATCH", "/api/v1beta/secrets/{name}")),
    (
        ("PUT", "/api/v1beta/projects/{project}/secrets/{name}"),
        ("PATCH", "/api/v1beta/projects/{project}/secrets/{name}"),
    ),
    (
        ("PUT", "/api/v1beta/projects/{project}/secrets/{name}"),
        ("PATCH", "/api/v1/projects/{project}/secrets/{name}"),
    ),
):
    REQUEST_EXAMPLES[_alias] = REQUEST_EXAMPLES[_put]
# Another name, so that both project secret examples can be sent to one server.
REQUEST_EXAMPLES["POST", "/api/v1/projects/{project}/secrets"] = {
    **REQUEST_EXAMPLES["POST", "/api/v1beta/projects/{project}/secrets"],
    "metadata": {"name": "registry-login"},
}
