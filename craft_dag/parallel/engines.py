"""Where shards run: in this process (the default) or on a local or remote Ray cluster.

Both engines take the same ``ShardTask`` list and yield a ``ShardResult`` per shard as it
finishes, so the caller logs progress as it happens. ``run`` is for stages without a model
(fetching, CPU scoring): on Ray, one task per shard. ``run_pooled`` is for model stages
(captions, translations): on Ray, Ray Data ``map_batches`` over a fixed actor pool, each actor
building the model once. A shard that raises, or whose worker dies (Ray reports
``WorkerCrashedError`` and is told not to retry), is a failed result, never an exception out
of the engine: the partition goes on with the others.
"""

import functools
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from craft_dag.parallel.shards import (
    ShardOutcome,
    ShardReport,
    ShardResult,
    ShardTask,
    _why,
    run_local,
)


class Engine(Protocol):
    name: str

    def run(self, tasks: Sequence[ShardTask], *, gpu: bool = True) -> Iterator[ShardResult]:
        """Run ``tasks``; ``gpu=False`` for a stage with no model (fetching) on a GPU cluster."""
        ...

    def run_pooled(
        self, tasks: Sequence[ShardTask], setup: Callable[[], Any], *, gpu: bool = True
    ) -> Iterator[ShardResult]:
        """Run model shards: ``setup()`` builds the model once per worker, each task's ``fn`` is
        called as ``fn(model, arg)``."""
        ...

    def slots(self) -> int:
        """How many shards run at once: per-host fetch limits are shared out among them."""
        ...


@dataclass(frozen=True)
class InProcessEngine:
    name: str = "in-process"

    def run(self, tasks: Sequence[ShardTask], *, gpu: bool = True) -> Iterator[ShardResult]:
        return run_local(tasks)

    def run_pooled(
        self, tasks: Sequence[ShardTask], setup: Callable[[], Any], *, gpu: bool = True
    ) -> Iterator[ShardResult]:
        if not tasks:  # every shard reused: no model is loaded
            return
        try:
            model = setup()
        except Exception as exc:  # no model: every shard fails with the reason
            for task in tasks:
                yield ShardResult(task.shard, task.items, 0.0, error=_why(exc))
            return
        yield from run_local([_bound(t, model) for t in tasks])

    def slots(self) -> int:
        return 1


def _bound(task: ShardTask, model: Any) -> ShardTask:
    return ShardTask(task.shard, task.items, functools.partial(task.fn, model), task.arg)


class _PooledShards:
    """A Ray Data actor: builds the model once, then runs one shard per batch row.

    A shard that raises is returned as its error (the row's ``error``), so one bad shard never
    fails the dataset; the value goes back pickled (its type is the stage's own).
    """

    def __init__(self, setup: Callable[[], Any]) -> None:
        import ray

        self.node = ray.get_runtime_context().get_node_id()
        self.model = setup()

    def __call__(self, batch: Any) -> Any:  # pyarrow.Table in, pyarrow.Table out
        import pyarrow as pa
        from ray import cloudpickle

        out: dict[str, list] = {"index": [], "seconds": [], "value": [], "error": [], "node": []}
        for index, payload in zip(
            batch.column("index").to_pylist(), batch.column("payload").to_pylist(), strict=True
        ):
            fn, arg = cloudpickle.loads(payload)
            started = time.perf_counter()
            value, error = None, ""
            try:
                value = fn(self.model, arg)
            except Exception as exc:
                error = _why(exc)
            out["index"].append(index)
            out["seconds"].append(time.perf_counter() - started)
            out["value"].append(cloudpickle.dumps(value))
            out["error"].append(error)
            out["node"].append(self.node)
        return pa.table(out)


def _timed_on_node(fn: Any, arg: Any) -> tuple[float, Any, str]:
    """Run one shard on a Ray worker: its seconds, its value and the id of the node it ran on."""
    import ray

    started = time.perf_counter()
    value = fn(arg)
    return time.perf_counter() - started, value, ray.get_runtime_context().get_node_id()


@dataclass(frozen=True)
class RayEngine:
    """Shards as Ray tasks, one CPU each (``num_gpus`` where the stage runs a model on a GPU).

    ``address`` None starts a local Ray on this machine's cores (``num_cpus`` to limit it);
    ``"auto"``, ``"127.0.0.1:6379"`` or ``"ray://head:10001"`` joins a running cluster.
    ``max_retries=0``: a shard whose worker was killed is reported failed and redone by the
    next materialisation, which reuses every part that was written. Shards are scheduled
    ``SPREAD`` over the nodes: they are of one size, so spreading them balances the nodes
    (Ray's default packs tasks onto the first node with room). Each result names its node.
    """

    address: str | None = None
    num_cpus: int | None = None
    num_gpus: float = 0.0
    object_store_memory: int | None = None
    name: str = "ray"

    def ensure(self) -> None:
        import ray

        if ray.is_initialized():
            return
        kwargs: dict[str, Any] = {"ignore_reinit_error": True, "log_to_driver": False}
        if self.address:
            kwargs["address"] = self.address
        else:
            kwargs["num_cpus"] = self.num_cpus
            kwargs["include_dashboard"] = False
            if self.object_store_memory:
                kwargs["object_store_memory"] = self.object_store_memory
        ray.init(**kwargs)

    def slots(self) -> int:
        import ray

        self.ensure()
        return max(1, int(ray.cluster_resources().get("CPU", 1)))

    def run_pooled(
        self, tasks: Sequence[ShardTask], setup: Callable[[], Any], *, gpu: bool = True
    ) -> Iterator[ShardResult]:
        """Model shards through Ray Data: ``map_batches`` over a fixed actor pool, one actor per
        free CPU (or per ``num_gpus`` of GPU), each building the model once; one shard per
        block, so results stream back shard by shard as they finish."""
        import ray
        from ray import cloudpickle

        if not tasks:
            return
        self.ensure()
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        if gpu and self.num_gpus:
            gpus = ray.cluster_resources().get("GPU", 0)
            size = max(1, int(gpus // self.num_gpus))
        else:
            size = self.slots()
        items = [
            {"index": i, "payload": cloudpickle.dumps((t.fn, t.arg))} for i, t in enumerate(tasks)
        ]
        results = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
            _PooledShards,
            fn_constructor_kwargs={"setup": setup},
            batch_size=1,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=min(size, len(tasks))),
            num_cpus=1,
            num_gpus=self.num_gpus if gpu and self.num_gpus else None,
        )
        started = time.perf_counter()
        seen: set[int] = set()
        try:
            for row in results.iter_rows():
                task = tasks[row["index"]]
                seen.add(row["index"])
                value = cloudpickle.loads(row["value"])
                yield ShardResult(
                    task.shard, task.items, row["seconds"], value, row["error"], row["node"]
                )
        except Exception as exc:  # the pipeline itself failed (e.g. no actor could start)
            for i, task in enumerate(tasks):
                if i not in seen:
                    yield ShardResult(
                        task.shard, task.items, time.perf_counter() - started, error=_why(exc)
                    )

    def run(self, tasks: Sequence[ShardTask], *, gpu: bool = True) -> Iterator[ShardResult]:
        import ray

        self.ensure()
        remote = ray.remote(
            num_cpus=1,
            num_gpus=self.num_gpus if gpu else 0,
            max_retries=0,
            scheduling_strategy="SPREAD",
        )(_timed_on_node)
        pending = {remote.remote(t.fn, t.arg): t for t in tasks}
        started = time.perf_counter()
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                task = pending.pop(ref)
                try:
                    seconds, value, node = ray.get(ref)
                except Exception as exc:  # task error or a dead worker: this shard failed
                    cause = getattr(exc, "cause", None) or exc
                    yield ShardResult(
                        task.shard, task.items, time.perf_counter() - started, error=_why(cause)
                    )
                    continue
                yield ShardResult(task.shard, task.items, seconds, value, node=node)


def drive(
    engine: Engine,
    tasks: Sequence[ShardTask],
    report: ShardReport,
    log: Callable[[str], None],
    *,
    unit: str,
    gpu: bool = True,
    setup: Callable[[], Any] | None = None,
) -> dict[int, Any]:
    """Run ``tasks`` on ``engine`` (pooled with a model built by ``setup``, when given), log
    each shard as it ends, record it in ``report``; the values of the shards that succeeded."""
    values: dict[int, Any] = {}
    results = (
        engine.run(tasks, gpu=gpu) if setup is None else engine.run_pooled(tasks, setup, gpu=gpu)
    )
    for n, res in enumerate(results, 1):
        status = "failed" if res.error else "done"
        report.outcomes.append(
            ShardOutcome(res.shard, status, res.items, res.seconds, res.error, res.node)
        )
        on = f" on node {res.node[:8]}" if res.node else ""
        line = (
            f"shard {res.shard} {status} ({res.items} {unit}, {res.seconds:.2f} s{on}) "
            f"[{n}/{len(tasks)}]"
        )
        log(f"{line}: {res.error}" if res.error else line)
        if not res.error:
            values[res.shard] = res.value
    report.outcomes.sort(key=lambda o: o.shard)
    return values
