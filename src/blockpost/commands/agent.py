"""`blockpost agent`: check the command line, then run an agent until it is told to stop."""

from __future__ import annotations

import argparse
import os
import sys

from blockpost.agent.main import AgentOptions, run_agent
from blockpost.agent.sandbox import (
    AGENT_TOKEN_VARIABLE,
    SandboxMode,
    SandboxUnavailable,
    check_jobs_dir,
    isolation_for,
)
from blockpost.tls import check_readable


def _agent_token(args: argparse.Namespace) -> str:
    """From --token, --token-file or BLOCKPOST_AGENT_TOKEN, which jobs never inherit."""
    from_env = os.environ.pop(AGENT_TOKEN_VARIABLE, "")
    if args.token:
        return str(args.token)
    if args.token_file:
        return str(args.token_file.read_text().strip())
    return from_env


def run_agent_command(args: argparse.Namespace) -> int:
    try:
        token = _agent_token(args)
    except OSError as exc:
        print(f"blockpost agent: cannot read --token-file: {exc}", file=sys.stderr)
        return 2
    if not token:
        print(
            f"blockpost agent: no registration token: give --token-file FILE or set "
            f"{AGENT_TOKEN_VARIABLE}",
            file=sys.stderr,
        )
        return 2
    options = AgentOptions(
        url=args.url,
        token=token,
        name=args.name,
        disconnect_after_job=args.disconnect_after_job,
        idle_timeout=args.disconnect_after_idle_timeout,
        pass_env=tuple(name for name in args.pass_env if name != AGENT_TOKEN_VARIABLE),
        local_repositories=args.local_repositories,
        server_name=args.tls_server_name,
    )
    if args.ca_file:
        try:
            options.ca_file = check_readable(args.ca_file)
        except ValueError as exc:
            print(f"blockpost agent: --ca-file {args.ca_file}: {exc}", file=sys.stderr)
            return 2
    if args.jobs_dir:
        options.jobs_dir = args.jobs_dir
    try:
        options.isolation, described = isolation_for(
            SandboxMode(args.sandbox), args.job_user, (*args.hide, options.jobs_dir)
        )
        check_jobs_dir(options.jobs_dir, options.isolation)
    except (SandboxUnavailable, OSError) as exc:
        print(f"blockpost agent: {exc}", file=sys.stderr)
        return 2
    return run_agent(options, described)
