"""Partitions, jobs, schedules and the demo runner: how craft_dag's assets are driven."""
