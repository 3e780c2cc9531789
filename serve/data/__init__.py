"""Question sources: task instances (Example) from BIG-bench, Hugging Face datasets and local files."""
