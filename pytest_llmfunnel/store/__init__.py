"""What a run keeps on disk by content: the verdict cache, the lockfile, recorded outputs."""
