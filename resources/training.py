"""The training launcher: builds the trainer's command line and runs it through Dagster Pipes."""

import sys
from collections.abc import Sequence
from typing import Any

from dagster import (
    AssetExecutionContext,
    ConfigurableResource,
    PipesClient,
    PipesClientCompletedInvocation,
    PipesSubprocessClient,
)
from pydantic import Field

from craft_dag.training.pipes import TRAINER_MODULE, trainer_command


class TrainingLauncherResource(ConfigurableResource):
    """Launches ``craft_dag.training.train`` on this host: one process, or N under torchrun.

    The seam for a cluster: the launcher builds the command (``command``), the Pipes client runs
    it (``pipes_client`` and ``run``). A cluster variant subclasses this and overrides
    ``pipes_client`` and ``run`` to start the same command elsewhere
    (``K8sTrainingLauncherResource``: a Kubernetes pod); the asset does not change.
    """

    config_path: str = Field(
        default="kandinsky3",
        description="The trainer's config: a YAML file or a shipped name (kandinsky3: the "
        "paper's two stages; tiny: the same at toy size, for CPU and the demo).",
    )
    nproc_per_node: int = Field(
        default=1,
        description="Processes on this host: 1 runs the trainer directly, more run torchrun.",
    )
    extra_args: list[str] = Field(
        default=[],
        description="Appended to every launch, e.g. ['--set', 'optim.lr=1e-5'].",
    )
    output_root: str = Field(
        default=".craft/training",
        description="Local folder for each run's output (metrics, checkpoints, final model), "
        "one sub-folder per Dagster run id.",
    )
    env: dict[str, str] = Field(
        default={},
        description="Extra environment for the trainer (OMP_NUM_THREADS, CUDA_VISIBLE_DEVICES, "
        "storage credentials through EnvVar).",
    )
    python: str = Field(
        default=sys.executable, description="The interpreter that runs the trainer."
    )
    trainer_module: str = Field(
        default=TRAINER_MODULE, description="The trainer's module (tests run a fake one)."
    )

    def command(
        self,
        *,
        dataset: str,
        storage: str,
        output: str,
        prompts: str,
        extra_args: Sequence[str] = (),
    ) -> list[str]:
        """The trainer's command line for one run."""
        return trainer_command(
            config=self.config_path,
            dataset=dataset,
            storage=storage,
            output=output,
            prompts=prompts,
            nproc_per_node=self.nproc_per_node,
            extra_args=[*self.extra_args, *extra_args],
            python=self.python,
            module=self.trainer_module,
        )

    def pipes_client(self) -> PipesClient:
        # Built per launch, not held as a field: a resource stays plain, serialisable config.
        return PipesSubprocessClient(env=dict(self.env))

    def run(
        self, context: AssetExecutionContext, command: Sequence[str], extras: dict | None = None
    ) -> PipesClientCompletedInvocation:
        """Run ``command`` in a Pipes session; raises when the trainer exits non-zero."""
        return self.pipes_client().run(context=context, command=list(command), extras=extras)


class K8sTrainingLauncherResource(TrainingLauncherResource):
    """Runs the same trainer command in its own Kubernetes pod, through dagster-k8s Pipes.

    ``PipesK8sClient`` creates the pod, passes the Pipes context in its environment, and reads
    the trainer's reports from the pod's log (rank 0 writes them to stderr), so logs and metrics
    reach the run as they do locally. One pod is one node: ``nproc_per_node`` processes under
    torchrun, e.g. 8 for an 8-GPU node. ``output_root`` must be a volume that this run's pod and
    the trainer's pod both mount at the same path (ReadWriteMany: NFS, EFS, Filestore), since
    the asset writes the prompts there and copies the final weights from there. Needs the
    ``cluster`` extra (dagster-k8s); docs/cluster.md has an example.
    """

    image: str = Field(
        description="The trainer's image: the code location's image with CUDA torch (and "
        "deepspeed for ZeRO), where ``python`` below runs the trainer module."
    )
    namespace: str = Field(
        default="", description="Where the pod runs; empty: the namespace this run is in."
    )
    pod_spec: dict[str, Any] = Field(
        default={},
        description="Kubernetes PodSpec fields the pod starts from (snake_case or camelCase): "
        "the first container's GPU limits and volume mounts, volumes, node selector, "
        "tolerations. Image, command and the Pipes environment are filled in.",
    )
    pod_metadata: dict[str, Any] = Field(
        default={}, description="ObjectMeta fields for the pod (labels, annotations)."
    )

    def pipes_client(self) -> PipesClient:
        from dagster_k8s import PipesK8sClient  # the cluster extra; not needed on a laptop

        return PipesK8sClient(env=dict(self.env))

    def pod_arguments(self, command: Sequence[str]) -> dict[str, Any]:
        """What ``run`` hands ``PipesK8sClient.run`` besides the context (tests read it)."""
        return {
            "image": self.image,
            "command": list(command),
            "namespace": self.namespace or None,
            "base_pod_spec": self.pod_spec or None,
            "base_pod_meta": self.pod_metadata or None,
        }

    def run(
        self, context: AssetExecutionContext, command: Sequence[str], extras: dict | None = None
    ) -> PipesClientCompletedInvocation:
        return self.pipes_client().run(  # type: ignore[call-arg]
            context=context, extras=extras, **self.pod_arguments(command)
        )
