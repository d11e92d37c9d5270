"""``python -m reliant``: the ``reliant`` command line."""

from reliant.cli import main

raise SystemExit(main())
