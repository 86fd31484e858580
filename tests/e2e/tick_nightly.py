"""One night, as the daemon would run it, against the instance of DAGSTER_HOME: a tick of the
pack sensor (its observations recorded), then a tick of the shipped nightly schedule. Prints
what the schedule asked for as JSON. Run in a subprocess: the code location reads CRAFT_PACK
at import time."""

import json
import sys
import warnings

from dagster import BetaWarning, DagsterInstance, PreviewWarning

warnings.filterwarnings("ignore", category=BetaWarning)
warnings.filterwarnings("ignore", category=PreviewWarning)

from dagster import build_schedule_context, build_sensor_context  # noqa: E402

from craft_dag.definitions import defs  # noqa: E402
from craft_dag.jobs.schedules import nightly_incremental  # noqa: E402
from craft_dag.jobs.sensors import pack_sensor  # noqa: E402


def main() -> int:
    repository = defs.get_repository_def()
    with DagsterInstance.get() as instance:
        sensed = pack_sensor.evaluate_tick(
            build_sensor_context(
                instance=instance, repository_def=repository, resources=defs.resources
            )
        )
        for event in sensed.asset_events:
            instance.report_runless_asset_event(event)
        with build_schedule_context(instance=instance, repository_def=repository) as context:
            tick = nightly_incremental.evaluate_tick(context)
    print(
        json.dumps(
            {
                "observed": sorted(
                    f"{e.asset_key.to_user_string()}/{e.partition}" for e in sensed.asset_events
                ),
                "skip": tick.skip_message,
                "runs": {
                    r.partition_key: sorted(k.to_user_string() for k in r.asset_selection or [])
                    for r in tick.run_requests
                },
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
