"""The CI report of asset checks: a failing blocking check fails the build, naming the check and
the partition; a failing warning check does not; a check that never ran does."""

import io

import pytest
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    DagsterInstance,
    Definitions,
    StaticPartitionsDefinition,
    asset,
    asset_check,
)

from craft_dag.jobs.ci_checks import (
    FAILED,
    NOT_RUN,
    PASSED,
    WARNED,
    check_outcomes,
    markdown_report,
    report,
)

parts = StaticPartitionsDefinition(["cartoons", "holidays", "technic"])


@asset(partitions_def=parts)
def shelf(context: AssetExecutionContext) -> None:
    context.log.info(context.partition_key)


@asset_check(asset=shelf, partitions_def=parts, blocking=True)
def shelf_not_empty(context: AssetCheckExecutionContext) -> AssetCheckResult:
    ok = context.partition_key != "holidays"
    return AssetCheckResult(passed=ok, description=None if ok else "0 rows: no entities")


@asset_check(asset=shelf, partitions_def=parts)
def shelf_coverage(context: AssetCheckExecutionContext) -> AssetCheckResult:
    return AssetCheckResult(
        passed=context.partition_key == "cartoons",
        severity=AssetCheckSeverity.WARN,
        description="2 of 9 entities have images",
    )


DEFS = Definitions(assets=[shelf], asset_checks=[shelf_not_empty, shelf_coverage])


def outcomes_after(partitions: list[str]):
    instance = DagsterInstance.ephemeral()
    job = DEFS.resolve_implicit_global_asset_job_def()
    for key in partitions:
        job.execute_in_process(instance=instance, partition_key=key, raise_on_error=False)
    return check_outcomes(instance, DEFS.resolve_asset_graph())


def test_a_failed_blocking_check_fails_the_build_naming_check_and_partition(
    capsys: pytest.CaptureFixture[str],
) -> None:
    outcomes = outcomes_after(["cartoons", "holidays", "technic"])
    capsys.readouterr()  # the runs' own logs
    by = {(o.check, o.partition): o.status for o in outcomes}
    assert by == {
        ("shelf:shelf_coverage", "cartoons"): PASSED,
        ("shelf:shelf_coverage", "holidays"): WARNED,
        ("shelf:shelf_coverage", "technic"): WARNED,
        ("shelf:shelf_not_empty", "cartoons"): PASSED,
        ("shelf:shelf_not_empty", "holidays"): FAILED,
        ("shelf:shelf_not_empty", "technic"): PASSED,
    }
    out = io.StringIO()
    assert report(outcomes, out) == 1
    err = capsys.readouterr().err
    assert "blocking check shelf:shelf_not_empty failed on partition holidays: 0 rows" in err
    assert "shelf_coverage" not in err  # warnings are listed, they do not fail the build
    assert "shelf:shelf_coverage   1/3 passed; warned on holidays, technic" in out.getvalue()
    assert "| `shelf:shelf_not_empty` | holidays | yes | FAILED | 0 rows: no entities |" in (
        markdown_report(outcomes)
    )


def test_a_check_that_never_ran_fails_the_build(capsys: pytest.CaptureFixture[str]) -> None:
    outcomes = outcomes_after(["cartoons"])
    capsys.readouterr()
    assert {o.partition for o in outcomes if o.status == NOT_RUN} == {"holidays", "technic"}
    assert report(outcomes, io.StringIO()) == 1
    assert "blocking check shelf:shelf_not_empty never ran on partition technic" in (
        capsys.readouterr().err
    )


def test_all_green_passes() -> None:
    outcomes = [o for o in outcomes_after(["cartoons"]) if o.partition == "cartoons"]
    assert report(outcomes, io.StringIO()) == 0
    assert "Nothing failed or warned." in markdown_report(outcomes)
