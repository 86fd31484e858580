"""Every asset check, every partition, in CI: ``python -m craft_dag.jobs.ci_checks``.

Materialises the whole graph on the active profile (``tiny`` in CI) the way ``make demo`` does,
then reads back from the Dagster instance the latest evaluation of every asset check for every
partition it covers, prints one line per check, and exits non-zero when a blocking check failed
or a check never ran, naming the check and the partition. Failing warning checks are listed but
do not fail the build: on the sample set they are expected (it has images for a few entities
per category only).

``--report-only`` skips the materialisation and reports on the instance as it is, for a CI that
materialises in its own steps (a backfill, a scheduled run).
"""

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from dagster import AssetCheckKey, AssetCheckSeverity, DagsterInstance
from dagster._core.definitions.assets.graph.base_asset_graph import BaseAssetGraph
from dagster._core.event_api import PartitionKeyFilter
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

PASSED, FAILED, WARNED, NOT_RUN = "passed", "FAILED", "warned", "NOT RUN"


@dataclass(frozen=True)
class CheckOutcome:
    check: str  # asset:check_name
    partition: str | None
    blocking: bool
    status: str  # PASSED / FAILED / WARNED / NOT_RUN
    description: str = ""
    run_id: str = ""

    @property
    def fails_build(self) -> bool:
        return self.status == NOT_RUN or (self.status == FAILED and self.blocking)

    def message(self) -> str:
        kind = "blocking check" if self.blocking else "check"
        where = f"partition {self.partition}" if self.partition else "(unpartitioned)"
        what = "never ran" if self.status == NOT_RUN else "failed"
        text = f"{kind} {self.check} {what} on {where}"
        if self.description:
            text += f": {self.description}"
        if self.run_id:
            text += f" (run {self.run_id[:8]})"
        return text


def check_outcomes(instance: DagsterInstance, asset_graph: BaseAssetGraph) -> list[CheckOutcome]:
    """The latest evaluation of every check of ``asset_graph`` for each of its partitions."""
    outcomes = []
    storage = instance.event_log_storage
    for key in sorted(asset_graph.asset_check_keys):
        node = asset_graph.get(key)
        partitions_def = node.partitions_def
        partitions = partitions_def.get_partition_keys() if partitions_def else [None]
        blocking = asset_graph.get_check_spec(key).blocking
        for partition in partitions:
            latest = storage.get_latest_asset_check_execution_by_key(
                [key], partition_filter=PartitionKeyFilter(key=partition)
            ).get(key)
            outcomes.append(_outcome(key, partition, blocking, latest))
    return outcomes


def _outcome(key: AssetCheckKey, partition: str | None, blocking: bool, record) -> CheckOutcome:
    name = key.to_user_string()
    if record is None or record.status == AssetCheckExecutionRecordStatus.PLANNED:
        # PLANNED: the run planned it, then stopped before it (an upstream step failed).
        return CheckOutcome(
            name, partition, blocking, NOT_RUN, run_id=record.run_id if record else ""
        )
    evaluation = record.event.dagster_event.asset_check_evaluation_data
    if evaluation.passed:
        return CheckOutcome(name, partition, blocking, PASSED, run_id=record.run_id)
    status = FAILED if evaluation.severity == AssetCheckSeverity.ERROR else WARNED
    return CheckOutcome(
        name, partition, blocking, status, evaluation.description or "", record.run_id
    )


def summary_lines(outcomes: list[CheckOutcome]) -> list[str]:
    """One line per check (how many partitions passed, which warned), then each failure."""
    by_check: dict[str, list[CheckOutcome]] = {}
    for outcome in outcomes:
        by_check.setdefault(outcome.check, []).append(outcome)
    width = max((len(c) for c in by_check), default=0)
    lines = []
    for check, results in by_check.items():
        passed = sum(r.status == PASSED for r in results)
        warned = [r.partition or "-" for r in results if r.status == WARNED]
        failed = [r.partition or "-" for r in results if r.status in (FAILED, NOT_RUN)]
        line = f"{check:<{width}}  {passed}/{len(results)} passed"
        if warned:
            line += f"; warned on {_partitions(warned, len(results))}"
        if failed:
            line += f"; FAILED on {_partitions(failed, len(results))}"
        lines.append(line)
    return lines


def _partitions(names: list[str], of: int) -> str:
    return f"all {of} partitions" if len(names) == of > 1 else ", ".join(names)


def markdown_report(outcomes: list[CheckOutcome]) -> str:
    rows = [
        "| check | partition | blocking | result | details |",
        "| --- | --- | --- | --- | --- |",
    ]
    for o in outcomes:
        if o.status != PASSED:
            detail = o.description.replace("|", "\\|").replace("\n", " ")[:300]
            rows.append(
                f"| `{o.check}` | {o.partition or '-'} | {'yes' if o.blocking else 'no'} "
                f"| {o.status} | {detail} |"
            )
    passed = sum(o.status == PASSED for o in outcomes)
    head = f"## Asset checks\n\n{passed}/{len(outcomes)} check evaluations passed.\n\n"
    return head + ("\n".join(rows) if len(rows) > 2 else "Nothing failed or warned.") + "\n"


def report(outcomes: list[CheckOutcome], out=sys.stdout) -> int:
    """Print the summary and every build-failing outcome; 1 if the build must fail."""
    print("craft checks: the latest evaluation of every asset check, per partition", file=out)
    for line in summary_lines(outcomes):
        print(f"  {line}", file=out)
    failures = [o for o in outcomes if o.fails_build]
    for failure in failures:
        print(f"craft checks: {failure.message()}", file=sys.stderr)
    evaluated = sum(o.status != NOT_RUN for o in outcomes)
    print(
        f"craft checks: {evaluated}/{len(outcomes)} evaluations, "
        f"{sum(o.status == PASSED for o in outcomes)} passed, "
        f"{sum(o.status == WARNED for o in outcomes)} warned, "
        f"{len(failures)} failing the build",
        file=out,
    )
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m craft_dag.jobs.ci_checks")
    parser.add_argument("--report-only", action="store_true", help="do not materialise first")
    parser.add_argument("--markdown", type=Path, help="also write the report as Markdown here")
    args = parser.parse_args(argv)

    from craft_dag.definitions import defs

    demo_status = 0
    if not args.report_only:
        from craft_dag.jobs.demo import main as demo

        demo_status = demo()  # non-zero when a run failed; the report below says which check
    outcomes = check_outcomes(DagsterInstance.get(), defs.resolve_asset_graph())
    status = report(outcomes)
    markdown = markdown_report(outcomes)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(markdown, encoding="utf-8")
    if os.environ.get("GITHUB_STEP_SUMMARY"):  # a GitHub Actions job's summary page
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as f:
            f.write(markdown)
    if demo_status and not status:
        print("craft checks: a run failed outside any check (see above)", file=sys.stderr)
        return demo_status
    return status


if __name__ == "__main__":
    sys.exit(main())
