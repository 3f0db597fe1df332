"""One gate across CI shards: ``llmfunnel gate`` merges the shards' JSON results."""
