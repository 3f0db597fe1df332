"""The human-review slice, label files, and the judge's calibration against people."""
