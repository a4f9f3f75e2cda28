"""Backups: `blockpost backup FILE` while the server runs, `blockpost restore FILE` elsewhere."""

from blockpost.backup.run import create_backup, restore_backup

__all__ = ["create_backup", "restore_backup"]
