"""Helpers shared by the test modules (imported as ``tests.support.<module>``)."""
