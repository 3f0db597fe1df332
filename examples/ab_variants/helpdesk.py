"""What the helpdesk A/B test compares, shared by the test module and conftest.py."""

from __future__ import annotations

CONTROL = "control"  # the old prompt: column output_control
TREATMENT = "treatment"  # the new prompt: column output_treatment
VARIANTS = (CONTROL, TREATMENT)

HELPFULNESS_RUBRIC = """\
Which answer helps the employee more? A better answer answers the whole
question, states only what the policy in the context says, and is friendly
and clear. Length alone is not a reason to prefer an answer."""
