"""pytest glue (placeholder while the plugin is built)."""
