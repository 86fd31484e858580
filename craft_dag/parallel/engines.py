"""Where shards run: in this process (the default) or as Ray tasks on a local or remote cluster.

Both engines take the same ``ShardTask`` list and yield a ``ShardResult`` per shard as it
finishes, so the caller logs progress as it happens. A shard that raises, or whose worker dies
(Ray reports ``WorkerCrashedError`` and is told not to retry), is a failed result, never an
exception out of ``run``: the partition goes on with the others.
"""

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from craft_dag.parallel.shards import ShardResult, ShardTask, _why, run_local


class Engine(Protocol):
    name: str

    def run(self, tasks: Sequence[ShardTask]) -> Iterator[ShardResult]: ...


@dataclass(frozen=True)
class InProcessEngine:
    name: str = "in-process"

    def run(self, tasks: Sequence[ShardTask]) -> Iterator[ShardResult]:
        return run_local(tasks)


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

    def run(self, tasks: Sequence[ShardTask]) -> Iterator[ShardResult]:
        import ray

        self.ensure()
        remote = ray.remote(
            num_cpus=1, num_gpus=self.num_gpus, max_retries=0, scheduling_strategy="SPREAD"
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
