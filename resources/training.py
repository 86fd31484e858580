"""The training launcher: builds the trainer's command line and runs it through Dagster Pipes."""

import sys
from collections.abc import Sequence

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
    it (``pipes_client`` and ``run``). A cluster variant (a Kubernetes or ECS Pipes client, in
    the operations issue) subclasses this and overrides ``pipes_client`` and ``run`` to start
    the same command in a pod or task, with its multi-node rendezvous; the asset does not change.
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
