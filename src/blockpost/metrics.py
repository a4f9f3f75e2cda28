"""Prometheus metrics: counters and histograms fed as things happen, gauges read at scrape."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from blockpost.db.models import Agent, AgentType, Job, Pipeline

LATENCY_BUCKETS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """One registry per server process (tests build several apps in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.pickup = Histogram(
            "blockpost_job_pickup_seconds",
            "From a job being queued to an agent being told to run it.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.syncs = Counter(
            "blockpost_agent_syncs",
            "Agent syncs answered, by reported state.",
            ["state"],
            registry=r,
        )
        self.log_pushes = Counter("blockpost_log_pushes", "Log batches stored.", registry=r)
        self.log_bytes = Counter(
            "blockpost_log_bytes", "Bytes of log batches received.", registry=r
        )
        self.scheduler_lag = Histogram(
            "blockpost_scheduler_lag_seconds",
            "From a schedule's cron tick to its firing.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge(
            "blockpost_queue_depth", "Queued jobs by agent type.", ["agent_type"], registry=r
        )
        self.jobs = Gauge("blockpost_jobs", "Jobs by state.", ["state"], registry=r)
        self.pipelines = Gauge("blockpost_pipelines", "Pipelines by state.", ["state"], registry=r)
        self.agents = Gauge(
            "blockpost_agents",
            "Connected agents by type and state.",
            ["agent_type", "state"],
            registry=r,
        )

    async def exposition(self, session: AsyncSession) -> bytes:
        """The text format, with the gauges read from the database now."""
        await self._refresh(session)
        return generate_latest(self.registry)

    async def _refresh(self, session: AsyncSession) -> None:
        self.queue_depth.clear()
        queued = await session.execute(
            select(Job.agent_type, func.count())
            .where(Job.state == "queued")
            .group_by(Job.agent_type)
        )
        for agent_type, count in queued:
            self.queue_depth.labels(agent_type).set(count)
        self.jobs.clear()
        for state, count in await session.execute(
            select(Job.state, func.count()).group_by(Job.state)
        ):
            self.jobs.labels(state).set(count)
        self.pipelines.clear()
        for state, count in await session.execute(
            select(Pipeline.state, func.count()).group_by(Pipeline.state)
        ):
            self.pipelines.labels(state).set(count)
        self.agents.clear()
        busy = Agent.job_id.is_not(None)
        for name, is_busy, count in await session.execute(
            select(AgentType.name, busy, func.count())
            .join(Agent, Agent.agent_type_id == AgentType.id)
            .group_by(AgentType.name, busy)
        ):
            self.agents.labels(name, "busy" if is_busy else "idle").set(count)
