"""The run ledger: one JSON line per eval test and variant of every run, and what it tells.

* :mod:`.entries` — the two kinds of line (an offline run, an online outcome), validated;
* :mod:`.files` — appending one run's lines atomically, reading and merging several files;
* :mod:`.provenance` — the commit, branch, run id and time of a run;
* :mod:`.build` — a session's records and decisions as ledger entries;
* :mod:`.trend` — each metric over commits (``llmfunnel ledger show``, the report section);
* :mod:`.calibrate` and :mod:`.rank_correlation` — how well the offline funnel predicted
  the online experiments;
* :mod:`.mlflow_log` — the same run logged to an MLflow tracking server (optional extra);
* :mod:`.commands` — the ``llmfunnel ledger`` commands.
"""
