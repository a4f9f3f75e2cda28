"""How a job's shell is started: its environment, its directory, the sandbox's view."""

from __future__ import annotations

from pathlib import Path

from blockpost.agent.runner import home_path
from blockpost.agent.sandbox import Isolation, JobUser
from blockpost.agent.workspace import Workspace, base_environment
from blockpost.config import Settings


def test_the_jobs_dir_defaults_to_beside_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "state")
    assert settings.effective_jobs_dir == tmp_path / "blockpost-jobs"
    assert Settings(data_dir=tmp_path, jobs_dir=tmp_path / "j").effective_jobs_dir == (
        tmp_path / "j"
    )


def test_a_jobs_environment_is_the_base_and_what_the_operator_passes(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path, "job-1", None)
    agent_env = {
        "PATH": "/usr/bin:/bin",
        "BLOCKPOST_ADMIN_PASSWORD": "secret",
        "BLOCKPOST_DATABASE_URL": "postgresql+asyncpg://u:p@db/x",
        "BLOCKPOST_AGENT_TOKEN": "token",
        "HTTP_PROXY": "http://proxy:3128",
    }
    env = base_environment(workspace, None, ["HTTP_PROXY", "NOT_SET"], agent_env)
    assert set(env) == {"PATH", "HOME", "LANG", "TERM", "USER", "SHELL", "TMPDIR", "HTTP_PROXY"}
    assert env["HOME"] == str(tmp_path / "job-1" / "home")
    assert env["TMPDIR"] == str(tmp_path / "job-1" / "tmp")
    assert env["PATH"] == "/usr/bin:/bin"


def test_a_workspace_is_private_and_removed_even_with_read_only_parts(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path, "job-2", None)
    workspace.create()
    assert workspace.root.stat().st_mode & 0o777 == 0o700
    assert (workspace.control / "checkout.sh").exists()
    stuck = workspace.home / "read-only" / "inner"
    stuck.mkdir(parents=True)
    (stuck / "file").write_text("x")
    stuck.chmod(0o500)
    stuck.parent.chmod(0o500)
    workspace.remove()
    assert not workspace.root.exists()


def test_without_a_sandbox_the_shell_starts_as_is() -> None:
    assert Isolation().command(["bash"], Path("/jobs/1")) == ["bash"]
    assert Isolation().popen() == {}
    user = JobUser("nobody", 65534, 65534)
    assert Isolation(user=user).popen() == {"user": 65534, "group": 65534, "extra_groups": []}


def test_the_sandbox_hides_the_data_dir_even_inside_a_readable_repository(tmp_path: Path) -> None:
    repository = tmp_path / "repo"
    data_dir = repository / ".blockpost"
    data_dir.mkdir(parents=True)
    workspace = tmp_path / "jobs" / "job-3"
    isolation = Isolation(sandbox=True, hide=(data_dir, tmp_path / "jobs"))
    args = isolation.command(["bash"], workspace, (repository,))
    joined = " ".join(args)
    assert args[0] == "bwrap"
    assert args[-1] == "bash"
    assert f"--ro-bind {repository} {repository}" in joined
    assert f"--tmpfs {data_dir}" in joined
    assert joined.index(f"--ro-bind {repository}") < joined.index(f"--tmpfs {data_dir}")
    # the jobs dir is not under anything shown: nothing to cover, and it is not named
    assert f"--tmpfs {tmp_path / 'jobs'}" not in joined
    assert f"--bind {workspace} {workspace}" in joined
    assert "--unshare-all" in args
    assert not {"/root", "/home", "/var"} & set(args)


def test_root_sandboxes_switch_to_the_job_user_inside() -> None:
    user = JobUser("nobody", 65534, 65534)
    args = Isolation(sandbox=True, user=user).command(["bash"], Path("/jobs/4"))
    assert Isolation(sandbox=True, user=user).popen() == {}
    assert "--unshare-all" not in args  # a user namespace would map no one to switch to
    at = args.index("setpriv")
    assert args[at : at + 4] == ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    assert args[at - 6 : at] == [
        "--cap-drop",
        "ALL",
        "--cap-add",
        "CAP_SETUID",
        "--cap-add",
        "CAP_SETGID",
    ]


def test_payload_file_paths_land_in_home_and_are_quoted() -> None:
    assert home_path(".ssh/id_rsa") == '"$HOME"/.ssh/id_rsa'
    assert home_path("~/.ssh/id_rsa") == '"$HOME"/.ssh/id_rsa'
    assert home_path("/etc/x") == "/etc/x"
    assert home_path("a b; rm -rf /") == "\"$HOME\"/'a b; rm -rf /'"
