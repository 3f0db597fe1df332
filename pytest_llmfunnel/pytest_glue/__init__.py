"""The pytest side: collection, the session, the xdist bridge, and the end of a run."""
