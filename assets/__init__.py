"""Dagster assets and asset checks: thin layers that read, call craft_dag, write and report."""
