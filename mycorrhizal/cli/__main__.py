"""``python -m mycorrhizal.cli``: the same as the ``mycorrhizal`` command (and ``python -m mycorrhizal``)."""

from . import main

raise SystemExit(main())
