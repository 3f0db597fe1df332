"""Eval datasets: reading JSONL, CSV and YAML files into validated cases."""
