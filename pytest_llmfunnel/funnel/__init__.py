"""The funnel: stages over a batch of cases, the judge prompts and the offline judge."""
