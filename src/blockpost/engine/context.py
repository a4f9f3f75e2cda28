"""What the engine needs from the server: database, wake-ups, sealer, git mirrors."""

from __future__ import annotations

from dataclasses import dataclass

from blockpost.config import Settings
from blockpost.crypto import Sealer
from blockpost.db.engine import Database
from blockpost.dispatch.embedded import EmbeddedUsers
from blockpost.dispatch.wakeup import Wakeups
from blockpost.git import Mirrors


@dataclass(frozen=True)
class EngineContext:
    db: Database
    wakeups: Wakeups
    sealer: Sealer
    mirrors: Mirrors
    hosted_agent_type: str
    embedded_users: EmbeddedUsers | None = None

    @classmethod
    def from_settings(cls, settings: Settings, db: Database, wakeups: Wakeups) -> EngineContext:
        assert settings.secret_key, "prepare_data_dir() gives every server a secret key"
        sealer = Sealer(settings.secret_key)
        return cls(
            db=db,
            wakeups=wakeups,
            sealer=sealer,
            mirrors=Mirrors(
                settings.data_dir / "repositories",
                settings.git_timeout_seconds,
                sealer,
                settings.allow_local_repositories,
            ),
            hosted_agent_type=settings.hosted_agent_type,
            embedded_users=settings.embedded_policy,
        )
