"""The judge endpoint: the OpenAI-compatible client, retries, limits and health."""
