"""Every route the `sem` CLI's client code calls exists on blockpost.

The table is the CLI's `api/client/*.go` read call by call: the URL each builds (its
`ResourceNamePlural`, API version and action suffix, query strings included, the double
slash of `troubleshoot/pipeline/` too) and the method it sends. A route that exists answers
anything but 405 or our "no such endpoint" 404, even for ids that name nothing.

Not here, because they need SSH into the job's machine, which blockpost does not offer:
`jobs/{id}/debug_ssh_key`, `jobs/{id}/debug`, `jobs/project_debug/{project}` (`sem debug`,
`attach`, `port-forward`)."""

from __future__ import annotations

import httpx

ID = "6c1a5e04-9e0c-4b53-9e55-1f2a3b4c5d6e"
TOKEN = "2d3c8f7e-0a4b-4c6d-8e9f-1a2b3c4d5e6f"
A, BETA, V1 = "/api/v1alpha", "/api/v1beta", "/api/v1"

CLI_CALLS = [
    # agent_types_v1_alpha.go
    ("GET", f"{A}/self_hosted_agent_types"),
    ("GET", f"{A}/self_hosted_agent_types/s1-x"),
    ("DELETE", f"{A}/self_hosted_agent_types/s1-x"),
    ("POST", f"{A}/self_hosted_agent_types"),
    ("PATCH", f"{A}/self_hosted_agent_types/s1-x"),
    # agent_v1_alpha.go
    ("GET", f"{A}/agents?agent_type=s1-x&page_size=200"),
    ("GET", f"{A}/agents/some-agent"),
    # dashbaards_v1_alpha.go
    ("GET", f"{A}/dashboards"),
    ("GET", f"{A}/dashboards/ops"),
    ("DELETE", f"{A}/dashboards/ops"),
    ("POST", f"{A}/dashboards"),
    ("PATCH", f"{A}/dashboards/{ID}"),
    # deployment_targets_v1_alpha.go
    ("GET", f"{A}/deployment_targets/{ID}"),
    ("GET", f"{A}/deployment_targets/{ID}?include_secrets=true"),
    ("GET", f"{A}/deployment_targets/{ID}/history"),
    ("GET", f"{A}/deployment_targets?project_id={ID}"),
    ("GET", f"{A}/deployment_targets?project_id={ID}&target_name=prod"),
    ("DELETE", f"{A}/deployment_targets/{ID}?unique_token={TOKEN}"),
    ("POST", f"{A}/deployment_targets"),
    ("PATCH", f"{A}/deployment_targets/{ID}"),
    ("PATCH", f"{A}/deployment_targets/{ID}/activate"),
    ("PATCH", f"{A}/deployment_targets/{ID}/deactivate"),
    # jobs_v1_alpha.go
    ("GET", f"{A}/jobs?states=RUNNING&states=QUEUED"),
    ("GET", f"{A}/jobs/{ID}"),
    ("POST", f"{A}/jobs"),
    ("POST", f"{A}/jobs/{ID}/stop"),
    # logs_v1_alpha.go
    ("GET", f"{A}/logs/{ID}"),
    # notifications_v1_alpha.go
    ("GET", f"{A}/notifications?page_size=100"),
    ("GET", f"{A}/notifications/builds"),
    ("DELETE", f"{A}/notifications/builds"),
    ("POST", f"{A}/notifications"),
    ("PATCH", f"{A}/notifications/{ID}"),
    # pipelines_v1_alpha.go
    ("GET", f"{A}/pipelines/{ID}?detailed=true"),
    ("PATCH", f"{A}/pipelines/{ID}"),
    ("POST", f"{A}/pipelines/{ID}/partial_rebuild?request_token={TOKEN}"),
    ("GET", f"{A}/pipelines?project_id={ID}&wf_id={ID}"),
    ("GET", f"{A}/pipelines?project_id={ID}"),
    ("GET", f"{A}/pipelines?created_after=1&created_before=2&page=1&project_id={ID}"),
    # project_secrets_v1.go
    ("GET", f"{V1}/projects/{ID}/secrets"),
    ("GET", f"{V1}/projects/{ID}/secrets/aws"),
    ("DELETE", f"{V1}/projects/{ID}/secrets/aws"),
    ("POST", f"{V1}/projects/{ID}/secrets"),
    ("PATCH", f"{V1}/projects/{ID}/secrets/aws"),
    # projects_v1_alpha.go
    ("GET", f"{A}/projects?page=1"),
    ("GET", f"{A}/projects/web"),
    ("DELETE", f"{A}/projects/web"),
    ("POST", f"{A}/projects"),
    ("PATCH", f"{A}/projects/{ID}"),
    # secrets_v1_beta.go
    ("GET", f"{BETA}/secrets"),
    ("GET", f"{BETA}/secrets/aws"),
    ("DELETE", f"{BETA}/secrets/aws"),
    ("POST", f"{BETA}/secrets"),
    ("PATCH", f"{BETA}/secrets/aws"),
    # tasks_v1_alpha.go
    ("GET", f"{A}/tasks?page=1&project_id={ID}"),
    ("GET", f"{A}/tasks/{ID}"),
    ("POST", f"{A}/tasks/{ID}/run_now"),
    # troubleshoot_v1_alpha.go
    ("GET", f"{A}/troubleshoot/workflow/{ID}"),
    ("GET", f"{A}/troubleshoot/job/{ID}"),
    ("GET", f"{A}/troubleshoot/pipeline//{ID}"),
    # workflows_v1_alpha.go
    ("GET", f"{A}/plumber-workflows?project_id={ID}"),
    ("GET", f"{A}/plumber-workflows?created_after=1&project_id={ID}"),
    ("POST", f"{A}/plumber-workflows"),
    ("POST", f"{A}/plumber-workflows/{ID}/terminate?request_token={TOKEN}"),
    ("POST", f"{A}/plumber-workflows/{ID}/reschedule?request_token={TOKEN}"),
]


async def test_every_route_the_sem_cli_calls_exists(admin: httpx.AsyncClient) -> None:
    missing = []
    for method, url in CLI_CALLS:
        response = await admin.request(method, url, content=b"{}" if method != "GET" else None)
        if response.status_code in (405, 500) or response.json() == {"message": "no such endpoint"}:
            missing.append(f"{method} {url}: {response.status_code} {response.text}")
    assert missing == []
