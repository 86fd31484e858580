"""The Kubernetes variant of the training launcher builds the pod dagster-k8s would create.

No cluster: the pod is built by dagster-k8s's own ``build_pod_body`` (which validates every field
against the Kubernetes client's models) from what the resource hands ``PipesK8sClient.run``, and
``run`` is checked to call the client with those arguments.
"""

from pathlib import Path
from typing import Any

import pytest
from dagster import Definitions
from dagster_k8s import PipesK8sClient
from dagster_k8s.pipes import build_pod_body

from craft_dag.assets.training import checkpoint
from craft_dag.catalog.pack import bundled_pack_path
from craft_dag.resources.training import K8sTrainingLauncherResource
from tests.orchestration.helpers import resources

POD_SPEC = {
    "containers": [
        {
            "resources": {"limits": {"nvidia.com/gpu": "8"}},
            "volumeMounts": [{"name": "shared", "mountPath": "/shared"}],
            "envFrom": [{"secretRef": {"name": "craft-s3-credentials"}}],
        }
    ],
    "volumes": [{"name": "shared", "persistentVolumeClaim": {"claimName": "craft-training"}}],
    "nodeSelector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
    "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
}


def launcher() -> K8sTrainingLauncherResource:
    return K8sTrainingLauncherResource(
        image="registry.example.com/craft-dag:0.1.0-cuda",
        namespace="craft",
        config_path="kandinsky3",
        nproc_per_node=8,
        output_root="/shared/training",
        python="python",
        env={"OMP_NUM_THREADS": "8"},
        pod_spec=POD_SPEC,
        pod_metadata={"labels": {"app": "craft-trainer"}},
    )


def command(res: K8sTrainingLauncherResource) -> list[str]:
    return res.command(
        dataset="s3://craft-data/craft/training_dataset/part-00000.parquet",
        storage="s3://craft-data/craft",
        output="/shared/training/run-1/output",
        prompts="/shared/training/run-1/prompts.json",
    )


def test_the_pod_runs_the_trainer_on_eight_gpus_with_the_pipes_environment() -> None:
    res = launcher()
    cmd = command(res)
    assert cmd[:6] == ["python", "-m", "torch.distributed.run", "--standalone",
                       "--nproc-per-node", "8"]  # fmt: skip
    args = res.pod_arguments(cmd)
    client = res.pipes_client()
    assert isinstance(client, PipesK8sClient)
    pipes_env = {"DAGSTER_PIPES_CONTEXT": "ctx", "DAGSTER_PIPES_MESSAGES": "msgs"}
    pod = build_pod_body(
        pod_name="craft-trainer-run-1",
        image=args["image"],
        command=args["command"],
        env_vars={**pipes_env, **client.env},
        base_pod_meta=args["base_pod_meta"],
        base_pod_spec=args["base_pod_spec"],
    )
    [container] = pod.spec.containers
    assert container.image == "registry.example.com/craft-dag:0.1.0-cuda"
    assert container.command == cmd
    assert container.resources.limits == {"nvidia.com/gpu": "8"}
    assert [(m.name, m.mount_path) for m in container.volume_mounts] == [("shared", "/shared")]
    assert container.env_from[0].secret_ref.name == "craft-s3-credentials"
    env = {e.name: e.value for e in container.env}
    assert env == {**pipes_env, "OMP_NUM_THREADS": "8"}
    assert pod.spec.restart_policy == "Never"
    assert pod.spec.volumes[0].persistent_volume_claim.claim_name == "craft-training"
    assert pod.spec.node_selector == POD_SPEC["nodeSelector"]
    assert pod.spec.tolerations[0].key == "nvidia.com/gpu"
    assert pod.metadata.labels["app"] == "craft-trainer"
    assert args["namespace"] == "craft"


def test_run_hands_the_pod_to_pipes_k8s_client(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_run(self: PipesK8sClient, **kwargs: Any) -> str:
        seen.update(kwargs, env=self.env)
        return "completed"

    monkeypatch.setattr(PipesK8sClient, "run", fake_run)
    res = launcher()
    cmd = command(res)
    context: Any = object()
    assert res.run(context, cmd, extras={"k": "v"}) == "completed"
    assert seen.pop("context") is context
    assert seen == {**res.pod_arguments(cmd), "extras": {"k": "v"}, "env": {"OMP_NUM_THREADS": "8"}}


def test_it_stands_in_for_the_local_launcher_in_definitions(tmp_path: Path) -> None:
    ru = bundled_pack_path("ru")
    defs = Definitions(
        assets=[checkpoint],
        resources={**resources(ru, str(tmp_path / "store")), "training_launcher": launcher()},
    )
    job = defs.resolve_implicit_global_asset_job_def()
    assert "training_launcher" in job.resource_defs
