"""``python -m desktop``: the same entry point as the ``tokendesk`` command."""

from desktop.cli import main

raise SystemExit(main())
