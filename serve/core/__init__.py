"""Shared contracts and plumbing every floor uses: errors, paths, configs, records, answers, the student format."""
