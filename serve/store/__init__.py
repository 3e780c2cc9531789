"""Models on disk: the registry, fetching weights, and the export-folder contract."""
