"""Use cases shared by the UI, the API, the CLI and the jobs. No Flask request objects here."""
