"""The ``scotd`` console script: the verb table and the small verbs that only dispatch or list."""
