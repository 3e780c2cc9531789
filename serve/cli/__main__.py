"""``python -m serve.cli``: the same as the ``scotd`` console script."""

from serve.cli.verbs import main

raise SystemExit(main())
