"""Entry point for `python -m blockpost`."""

from blockpost.cli import main

raise SystemExit(main())
