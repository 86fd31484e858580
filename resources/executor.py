"""Where the work inside a category runs: in this process (the default) or on Ray, by shard."""

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from dagster import ConfigurableResource, MetadataValue
from pydantic import Field

from craft_dag.curation.score import Scorers
from craft_dag.parallel.captioning import ShardedCaptions
from craft_dag.parallel.engines import Engine, InProcessEngine, RayEngine
from craft_dag.parallel.shards import ShardReport
from craft_dag.parallel.translation import ShardedTranslations
from craft_dag.resources.storage import StorageResource


class ExecutorResource(ConfigurableResource):
    """The engine for a category's shards.

    ``in-process`` (the default: the demo and most tests, no Ray) or ``ray``: with no
    ``address`` a local Ray starts on this machine's cores; with one (``EnvVar("CRAFT_RAY_ADDRESS")``
    in the definitions: ``ray://head:10001``, or the KubeRay head service) the shards run on that
    cluster. Ray is joined with ``ray.init`` directly rather than through dagster-ray's
    ``LocalRay``: ``LocalRay`` ignores an address, and its KubeRay resources create a cluster per
    step, while here one long-lived cluster serves every partition (docs/cluster.md).
    """

    engine: Literal["in-process", "ray"] = Field(default="in-process")
    address: str | None = Field(default=None, description="Ray cluster address; None: local.")
    num_shards: int = Field(
        default=8, ge=1, description="Shards per category (fixed: a key's shard never moves)."
    )
    num_cpus: int | None = Field(default=None, description="Local Ray only: cores to use.")
    num_gpus: float = Field(default=0.0, ge=0, description="GPUs per model shard.")
    object_store_memory: int | None = Field(default=None, description="Local Ray only: bytes.")

    @property
    def sharded(self) -> bool:
        return self.engine == "ray"

    def build(self) -> Engine:
        if self.engine == "ray":
            return RayEngine(
                address=self.address,
                num_cpus=self.num_cpus,
                num_gpus=self.num_gpus,
                object_store_memory=self.object_store_memory,
            )
        return InProcessEngine()

    def captions(
        self,
        captioner: ConfigurableResource,
        storage: StorageResource,
        category: str,
        names: Mapping[str, Sequence[str]],
        category_name: str,
        log: Callable[[str], None],
    ) -> ShardedCaptions | None:
        """The ``auto_captions`` hook when sharded (the captioner built on each worker)."""
        if not self.sharded:
            return None
        setup = BuiltOnWorker.of(captioner, "captioner")
        return ShardedCaptions(
            storage.client(), category, self.build(), setup, setup.describe(), names,
            category_name, captioner.settings(), captioner.batch_size, self.num_shards,
            storage.storage_options(), log,
        )  # fmt: skip

    def translations(
        self,
        translator: ConfigurableResource,
        storage: StorageResource,
        category: str,
        matcher: Any,
        source: str,
        target: str,
        log: Callable[[str], None],
    ) -> ShardedTranslations | None:
        """The ``translate_rows`` hook when sharded (the translator built on each worker)."""
        if not self.sharded:
            return None
        setup = BuiltOnWorker.of(translator, "translator", source, target)
        return ShardedTranslations(
            storage.client(), category, self.build(), setup, setup.describe(),
            translator.settings(), matcher, self.num_shards, storage.storage_options(), log,
        )  # fmt: skip


def shard_metadata(report: ShardReport) -> dict[str, Any]:
    """A materialisation's shard counts and timings, and each failed shard's error."""
    return {**report.summary(), "shard_failures": MetadataValue.json(report.failures())}


_BUILT: dict[str, Scorers] = {}


@dataclass(frozen=True)
class ShardScorers:
    """Builds the curation scorers on a Ray worker, once per worker process.

    The built scorers hold a Tesseract handle and torch models that do not pickle (and are big
    to ship); the resource's plain settings do, so each worker builds its own and keeps them
    for the next shard it runs.
    """

    settings: dict[str, Any]
    language: str

    def __call__(self) -> Scorers:
        from craft_dag.resources.curation import CurationScorersResource

        key = json.dumps([self.settings, self.language], sort_keys=True, default=str)
        if key not in _BUILT:
            resource = CurationScorersResource(**self.settings)
            _BUILT[key] = resource.scorers(self.language, warn=lambda _: None)
        return _BUILT[key]

    @classmethod
    def of(cls, resource: ConfigurableResource, language: str) -> "ShardScorers":
        return cls({k: getattr(resource, k) for k in type(resource).model_fields}, language)


_MODELS: dict[str, Any] = {}


@dataclass(frozen=True)
class BuiltOnWorker:
    """Calls ``resource.<method>(*args)`` on a Ray worker, once per worker process.

    A model (a captioner, a translator) does not pickle, and is big to ship; the resource's
    plain settings do. Each worker (a Ray Data actor) rebuilds the resource from them and
    builds its own model, kept for every shard that process runs.
    """

    resource: type
    settings: dict[str, Any]
    method: str
    args: tuple = ()

    def __call__(self) -> Any:
        key = json.dumps(
            [self.resource.__qualname__, self.settings, self.method, self.args],
            sort_keys=True,
            default=str,
        )
        if key not in _MODELS:
            built = self.resource(**self.settings)
            _MODELS[key] = getattr(built, self.method)(*self.args)
        return _MODELS[key]

    @classmethod
    def of(cls, resource: ConfigurableResource, method: str, *args: Any) -> "BuiltOnWorker":
        settings = {k: getattr(resource, k) for k in type(resource).model_fields}
        return cls(type(resource), settings, method, tuple(args))

    def describe(self) -> str:
        """What is built, for the parts' fingerprints (the settings, never secrets' values)."""
        shown = {k: v for k, v in self.settings.items() if "key" not in k and "token" not in k}
        return json.dumps([self.resource.__name__, shown, self.method, self.args], default=str)
