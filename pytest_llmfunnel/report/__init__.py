"""Reports: the terminal summary, the pull-request Markdown, JSON results and JUnit."""
