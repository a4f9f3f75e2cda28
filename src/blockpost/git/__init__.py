"""Reading project repositories: references, files at a commit, changed paths."""

from blockpost.git.mirror import Mirrors, Repository, sync_ref
from blockpost.git.refs import GitRef, parse_reference

__all__ = ["GitRef", "Mirrors", "Repository", "parse_reference", "sync_ref"]
