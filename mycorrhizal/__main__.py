"""``python -m mycorrhizal``: the same as the ``mycorrhizal`` command."""

from .cli import main

raise SystemExit(main())
