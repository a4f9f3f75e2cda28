"""A project's page: its workflows (filtered, paged), the Run form, its tasks and targets."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from blockpost.api.deps import CallerDep, EngineDep, SessionDep
from blockpost.api.pagination import Page, PageNumber
from blockpost.db.models import Project
from blockpost.engine import runs
from blockpost.errors import InvalidInput, NotFound, Unavailable
from blockpost.scheduler import schedules
from blockpost.services import deployment_targets, projects, workflow_pages
from blockpost.services.principal import Principal
from blockpost.web.forms import posted
from blockpost.web.render import page

router = APIRouter(prefix="/ui", include_in_schema=False)
PAGE_SIZE = 30
MOST_TASKS = 100
# Semaphore's TriggeredBy as people read it
TRIGGERS = {"hook": "push hook", "schedule": "schedule", "api": "API", "manual_run": "manual run"}


def _reference(text: str) -> str:
    """People type a branch name; the run service takes a full reference."""
    text = text.strip()
    return text if text.startswith("refs/") else f"refs/heads/{text}"


async def _project_page(
    request: Request,
    session: SessionDep,
    caller: Principal,
    project: Project,
    *,
    branch: str = "",
    result: str = "",
    page_number: int = 1,
    run_form: dict[str, str] | None = None,
    run_error: str = "",
    status: int = 200,
) -> Response:
    paging = Page(page_number, PAGE_SIZE)
    rows, total = await workflow_pages.project_workflows(
        session, project, branch, result, paging.offset, PAGE_SIZE
    )
    tasks, _ = await schedules.list_schedules(session, caller, project.id, 0, MOST_TASKS)
    targets = await deployment_targets.list_targets(session, caller, project.id)
    context = {
        "project": project,
        "rows": rows,
        "triggers": TRIGGERS,
        "branch": branch,
        "result": result,
        "results": workflow_pages.RESULTS,
        "page_number": page_number,
        "more": paging.has_more(total),
        "tasks": tasks,
        "targets": targets,
        "may_run": await projects.may_run(session, caller, project),
        "run_form": run_form or {"reference": "", "pipeline_file": ""},
        "run_error": run_error,
    }
    return page(request, "project.html", context, status)


@router.get("/projects/{project_ref}")
async def project_page(
    request: Request,
    project_ref: str,
    session: SessionDep,
    caller: CallerDep,
    branch: str = "",
    result: str = "",
    page_number: PageNumber = 1,
) -> Response:
    project = await projects.get_project(session, caller, project_ref)
    return await _project_page(
        request,
        session,
        caller,
        project,
        branch=branch.strip(),
        result=result,
        page_number=page_number,
    )


@router.post("/projects/{project_ref}/run")
async def run(
    request: Request, project_ref: str, session: SessionDep, caller: CallerDep, engine: EngineDep
) -> Response:
    """Starts a workflow as `POST /api/v1alpha/plumber-workflows` does; a reference or file
    the run refuses shows the form again with the reason (nothing started)."""
    form = await posted(request)
    project = await projects.runnable(session, caller, project_ref)
    fields = {"reference": form.get("reference"), "pipeline_file": form.get("pipeline_file")}
    try:
        if not fields["reference"].strip():
            raise InvalidInput("reference", "is required: a branch name or refs/heads/X, ...")
        run_request = runs.RunRequest(
            _reference(fields["reference"]), None, fields["pipeline_file"].strip() or None
        )
        workflow, _ = await runs.start_workflow(session, engine, caller, project, run_request)
    except (InvalidInput, Unavailable) as exc:
        status = 400 if isinstance(exc, InvalidInput) else 422
        return await _project_page(
            request,
            session,
            caller,
            project,
            run_form=fields,
            run_error=exc.message,
            status=status,
        )
    return RedirectResponse(f"/ui/workflows/{workflow.id}", status_code=303)


@router.post("/projects/{project_ref}/tasks/{task_id}/run")
async def run_task(
    project_ref: str,
    task_id: str,
    session: SessionDep,
    caller: CallerDep,
    engine: EngineDep,
) -> Response:
    """ "Run now", as `POST /api/v1alpha/schedules/{id}/run_now` without a body."""
    project = await projects.get_project(session, caller, project_ref)
    task = await schedules.manageable_schedule(session, caller, task_id)
    if task.project_id != project.id:
        raise NotFound(f"task {task_id!r} not found in project {project.name!r}")
    _, workflow = await schedules.run_now(session, engine, caller, task)
    return RedirectResponse(f"/ui/workflows/{workflow.id}", status_code=303)
