"""The files under deploy/ parse, load with the classes they name, and agree with each other.

No cluster is contacted: the Kubernetes run launcher is built from the shipped config with a
kubeconfig file pointing nowhere, the accelerate configs go through accelerate's own launcher
code with the process start replaced, and values.yaml (the Helm chart's values) is compared with
the cluster dagster.yaml it mirrors.
"""

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config
from dagster._serdes import ConfigurableClassData

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
CLUSTER_YAML = DEPLOY / "cluster" / "dagster.yaml"
VALUES_YAML = DEPLOY / "cluster" / "values.yaml"
ACCELERATE = DEPLOY / "training" / "accelerate"
HOSTFILE = DEPLOY / "training" / "hostfile"

DEPLOY_FILES = sorted(
    p.relative_to(REPO).as_posix()
    for p in DEPLOY.rglob("*")
    if p.suffix in {".yaml", ".yml", ".json"}
)


def cluster_config() -> dict[str, Any]:
    return yaml.safe_load(CLUSTER_YAML.read_text())


@pytest.mark.parametrize("name", DEPLOY_FILES)
def test_every_deploy_file_parses(name: str) -> None:
    text = (REPO / name).read_text()
    docs = [json.loads(text)] if name.endswith(".json") else list(yaml.safe_load_all(text))
    assert docs and all(isinstance(d, dict) and d for d in docs)


def test_the_cluster_instance_validates_against_dagsters_schema(tmp_path: Path) -> None:
    (tmp_path / "dagster.yaml").write_text(CLUSTER_YAML.read_text())
    config, custom_class = dagster_instance_config(str(tmp_path))
    assert custom_class is None
    assert set(config["storage"]) == {"postgres"}
    assert config["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"
    assert config["telemetry"] == {"enabled": False}


def rehydrate(section: dict[str, Any], **overrides: Any) -> Any:
    """Import the class a section names and build it from its config, as the instance does."""
    config = {**section.get("config", {}), **overrides}
    return ConfigurableClassData(
        section["module"], section["class"], yaml.safe_dump(config)
    ).rehydrate(as_type=object)


def test_the_k8s_run_launcher_loads_from_the_shipped_config(tmp_path: Path) -> None:
    from dagster_k8s import K8sRunLauncher

    # In a pod it reads the service account (load_incluster_config); here a kubeconfig that
    # names a cluster nobody calls. Only these two keys differ from the shipped file.
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    section = cluster_config()["run_launcher"]
    assert section["config"]["load_incluster_config"] is True
    launcher = rehydrate(section, load_incluster_config=False, kubeconfig_file=str(kubeconfig))
    assert isinstance(launcher, K8sRunLauncher)
    assert launcher.job_namespace == "craft"
    assert launcher.instance_config_map == "craft-dagster-instance"
    assert launcher.postgres_password_secret == "craft-dagster-postgresql-secret"
    assert launcher.env_config_maps == ["craft-env"]
    assert launcher.env_secrets == ["craft-s3-credentials"]
    assert launcher.fail_pod_on_run_failure is True


def test_the_run_coordinator_and_compute_logs_load(monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster_aws.s3.compute_log_manager import S3ComputeLogManager

    config = cluster_config()
    coordinator = rehydrate(config["run_coordinator"])
    assert isinstance(coordinator, QueuedRunCoordinator)
    queue = coordinator.get_run_queue_config()
    assert queue.max_concurrent_runs == 24
    limits = {limit["key"]: limit for limit in queue.tag_concurrency_limits}
    assert limits["craft/gpu"] == {"key": "craft/gpu", "value": "true", "limit": 2}

    monkeypatch.setenv("CRAFT_COMPUTE_LOG_BUCKET", "craft-logs")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    logs = rehydrate(config["compute_logs"])
    assert isinstance(logs, S3ComputeLogManager)
    assert logs._s3_bucket == "craft-logs"
    assert logs._s3_prefix == "craft/compute-logs"


def test_the_psycopg2_scheme_picks_the_installed_driver() -> None:
    """SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; dagster-postgres ships psycopg2."""
    import sqlalchemy

    engine = sqlalchemy.create_engine("postgresql+psycopg2://u:p@127.0.0.1:1/db")
    assert engine.dialect.driver == "psycopg2"


# -- the Helm values mirror the instance ---------------------------------------------------------


def test_helm_values_mirror_the_cluster_instance() -> None:
    values = yaml.safe_load(VALUES_YAML.read_text())
    config = cluster_config()
    pg = values["postgresql"]
    assert pg["enabled"] is False  # an external, managed Postgres
    assert pg["postgresqlScheme"] == config["storage"]["postgres"]["postgres_db"]["scheme"]
    assert values["generatePostgresqlPasswordSecret"] is False
    assert (
        values["global"]["postgresqlSecretName"]
        == config["run_launcher"]["config"]["postgres_password_secret"]
    )

    [code] = values["dagster-user-deployments"]["deployments"]
    assert code["dagsterApiGrpcArgs"] == ["-m", "craft_dag.definitions"]
    env = {e["name"]: e.get("value") for e in code["env"]}
    assert env["CRAFT_PROFILE"] == "full"
    assert env["CRAFT_STORAGE_URI"].startswith("s3://")
    # Its container context goes to every run pod and wins over the run launcher's settings:
    # resources here would size the run pods, whatever runLauncher says.
    assert code["includeConfigInLaunchedRuns"] == {"enabled": True}
    assert "resources" not in code

    launcher = values["runLauncher"]
    assert launcher["type"] == config["run_launcher"]["class"] == "K8sRunLauncher"
    k8s = launcher["config"]["k8sRunLauncher"]
    shipped = config["run_launcher"]["config"]
    assert k8s["jobNamespace"] == shipped["job_namespace"]
    assert [m["name"] for m in k8s["envConfigMaps"]] == shipped["env_config_maps"]
    assert [s["name"] for s in k8s["envSecrets"]] == shipped["env_secrets"]
    assert k8s["resources"] == shipped["resources"]

    queued = values["dagsterDaemon"]["runCoordinator"]
    assert queued["enabled"] is True and queued["type"] == "QueuedRunCoordinator"
    coordinator = config["run_coordinator"]["config"]
    assert queued["config"]["queuedRunCoordinator"] == {
        "maxConcurrentRuns": coordinator["max_concurrent_runs"],
        "tagConcurrencyLimits": coordinator["tag_concurrency_limits"],
    }

    logs = values["computeLogManager"]
    assert logs["type"] == config["compute_logs"]["class"]
    s3 = logs["config"]["s3ComputeLogManager"]
    assert s3["prefix"] == config["compute_logs"]["config"]["prefix"]
    assert s3["uploadInterval"] == config["compute_logs"]["config"]["upload_interval"]
    assert values["telemetry"]["enabled"] is False
    assert values["dagsterDaemon"]["runMonitoring"]["enabled"] is True
    assert values["additionalInstanceConfig"]["run_retries"] == config["run_retries"]


# -- the accelerate configs ---------------------------------------------------------------------


def accelerate_configs() -> list[str]:
    return sorted(p.name for p in ACCELERATE.glob("*.yaml"))


def hostfile_slots() -> list[int]:
    lines = [ln.split() for ln in HOSTFILE.read_text().splitlines()]
    return [int(w[1].removeprefix("slots=")) for w in lines if w and not w[0].startswith("#")]


@pytest.mark.parametrize("name", accelerate_configs())
def test_accelerate_config_loads_and_names_the_matching_zero_json(name: str) -> None:
    from accelerate.commands.config.config_args import ClusterConfig
    from accelerate.utils import DistributedType

    config = ClusterConfig.from_yaml_file(str(ACCELERATE / name))
    assert config.distributed_type == DistributedType.DEEPSPEED
    ds_json = REPO / config.deepspeed_config["deepspeed_config_file"]
    stage = json.loads(ds_json.read_text())["zero_optimization"]["stage"]
    assert ds_json.name == f"zero{stage}.json"
    assert name.startswith(f"zero{stage}")
    assert f"distributed.zero_stage={stage}" in (ACCELERATE / name).read_text()
    # Two nodes of eight, as the hostfile has them.
    slots = hostfile_slots()
    assert config.num_machines == len(slots)
    assert config.num_processes == sum(slots)


@pytest.fixture
def launches(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, Any]]:
    """``accelerate launch`` as far as starting processes, which is replaced by a recorder."""
    pytest.importorskip("deepspeed")  # accelerate's DeepSpeed launcher checks for it
    import subprocess

    import torch.distributed.run

    seen: list[dict[str, Any]] = []

    def fake_torchrun(args: Any) -> None:
        seen.append({"torchrun": vars(args), "env": dict(os.environ)})

    class FakePopen:
        returncode = 0

        def __init__(self, cmd: list[str], env: dict[str, str] | None = None) -> None:
            seen.append({"cmd": cmd, "env": env or {}})

        def wait(self) -> int:
            return 0

    monkeypatch.setattr(torch.distributed.run, "run", fake_torchrun)
    monkeypatch.setattr(subprocess, "Popen", FakePopen)
    # The DeepSpeed launcher path writes .deepspeed_env into the working folder.
    monkeypatch.chdir(tmp_path)
    return seen


def accelerate_launch(config: str, *extra: str) -> None:
    from accelerate.commands.launch import launch_command, launch_command_parser

    args = launch_command_parser().parse_args(
        [
            "--config_file", str(ACCELERATE / config), *extra,
            "-m", "craft_dag.training.train", "--config", "kandinsky3",
        ]
    )  # fmt: skip
    launch_command(args)


@pytest.mark.parametrize("config", ["zero2.yaml", "zero3.yaml"])
def test_accelerate_standard_launcher_runs_torchrun_per_node(
    launches: list[dict[str, Any]], config: str
) -> None:
    # Rank 1: accelerate checks that the main port is free only on rank 0.
    accelerate_launch(config, "--machine_rank", "1")
    [launch] = launches
    run = launch["torchrun"]
    assert (run["nnodes"], run["nproc_per_node"], run["node_rank"]) == ("2", "8", 1)
    assert run["rdzv_endpoint"] == "node-0:29500"
    assert run["rdzv_backend"] == "static"  # the CLI default wins over the config file
    assert run["module"] is True and run["training_script"] == "craft_dag.training.train"
    assert run["training_script_args"] == ["--config", "kandinsky3"]
    stage = config.removesuffix(".yaml")
    assert launch["env"]["ACCELERATE_DEEPSPEED_CONFIG_FILE"].endswith(f"{stage}.json")

    launches.clear()
    accelerate_launch(config, "--machine_rank", "1", "--rdzv_backend", "c10d")
    assert launches[0]["torchrun"]["rdzv_backend"] == "c10d"


def test_accelerate_hostfile_config_runs_the_deepspeed_launcher(
    launches: list[dict[str, Any]],
) -> None:
    accelerate_launch("zero3-hostfile.yaml", "--machine_rank", "1")  # no local port check
    [launch] = launches
    cmd = launch["cmd"]
    assert cmd[:3] == ["deepspeed", "--hostfile", "deploy/training/hostfile"]
    assert "--no_local_rank" in cmd  # the trainer reads LOCAL_RANK from the environment
    assert cmd[cmd.index("--num_gpus") + 1] == "8"
    assert cmd[cmd.index("--master_addr") + 1] == "node-0"
    assert cmd[-4:] == ["--module", "craft_dag.training.train", "--config", "kandinsky3"]
    assert launch["env"]["ACCELERATE_DEEPSPEED_CONFIG_FILE"].endswith("zero3.json")


# -- the GPU run tags ---------------------------------------------------------------------------


def test_gpu_run_tags_parse_with_dagster_k8s() -> None:
    """deploy/cluster/gpu-run-tags.json: what docs/cluster.md tells an operator to tag runs with."""
    from dagster_k8s.job import USER_DEFINED_K8S_CONFIG_KEY, get_user_defined_k8s_config

    spec = json.loads((DEPLOY / "cluster" / "gpu-run-tags.json").read_text())
    # Run tags are strings: the Kubernetes part travels as JSON text.
    tags = {k: v if isinstance(v, str) else json.dumps(v) for k, v in spec.items()}
    assert set(tags) == {"craft/gpu", USER_DEFINED_K8S_CONFIG_KEY}
    k8s = get_user_defined_k8s_config(tags)
    assert k8s.container_config["resources"]["limits"]["nvidia.com/gpu"] == "8"
    assert k8s.pod_spec_config["volumes"][0]["empty_dir"]["medium"] == "Memory"
    # Every field is a real Kubernetes field: dagster-k8s's own model conversion accepts them.
    import kubernetes
    from dagster_k8s.models import k8s_model_from_dict

    pod = k8s_model_from_dict(
        kubernetes.client.V1PodSpec,
        {"containers": [{"name": "dagster", **k8s.container_config}], **k8s.pod_spec_config},
    )
    assert pod.volumes[0].empty_dir.medium == "Memory"
    assert pod.containers[0].volume_mounts[0].mount_path == "/dev/shm"
    assert pod.tolerations[0].key == "nvidia.com/gpu"
    # The tag the queue limits GPU runs by.
    limits = cluster_config()["run_coordinator"]["config"]["tag_concurrency_limits"]
    assert {"key": "craft/gpu", "value": tags["craft/gpu"], "limit": 2} in limits


def test_the_ray_cluster_has_cpu_and_gpu_workers_and_the_pinned_ray() -> None:
    """The KubeRay manifest: CPU and GPU worker groups, Ray as pinned, and values point at it."""
    manifest = yaml.safe_load((DEPLOY / "cluster" / "ray-cluster.yaml").read_text())
    assert manifest["apiVersion"] == "ray.io/v1" and manifest["kind"] == "RayCluster"
    pins = dict(
        line.split("==")
        for line in (REPO / "constraints.txt").read_text().splitlines()
        if "==" in line
    )
    assert manifest["spec"]["rayVersion"] == pins["ray"]
    groups = {g["groupName"]: g for g in manifest["spec"]["workerGroupSpecs"]}
    assert set(groups) == {"cpu", "gpu"}
    gpu = groups["gpu"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert gpu["nvidia.com/gpu"] == groups["gpu"]["rayStartParams"]["num-gpus"]
    name = manifest["metadata"]["name"]
    env = {
        e["name"]: e.get("value")
        for e in yaml.safe_load(VALUES_YAML.read_text())["dagster-user-deployments"]["deployments"][
            0
        ]["env"]
    }
    assert env["CRAFT_EXECUTOR"] == "ray"
    # KubeRay names the head service <cluster>-head-svc; 10001 is the Ray client port.
    assert env["CRAFT_RAY_ADDRESS"] == f"ray://{name}-head-svc:10001"
