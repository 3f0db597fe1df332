"""Output variants: which deserve an online experiment, from paired comparisons."""
