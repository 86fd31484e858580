"""The training set: per-category shards, the fan-in manifest over all of them, a dataset card.

Its parts live in their own modules and are importable from here too:
``craft_dag.training.shards`` (one shard per category, ``training_shards/<category>``),
``craft_dag.training.manifest`` (``training_dataset``, the union of the shards, and its card)
and ``craft_dag.training.bar_chart`` (the card's plots).
"""

from craft_dag.training.bar_chart import bar_chart_png as bar_chart_png
from craft_dag.training.manifest import CARD_NAME as CARD_NAME
from craft_dag.training.manifest import TRAINING_DATASET as TRAINING_DATASET
from craft_dag.training.manifest import Manifest as Manifest
from craft_dag.training.manifest import build_manifest as build_manifest
from craft_dag.training.manifest import summarise_dataset as summarise_dataset
from craft_dag.training.manifest import write_manifest as write_manifest
from craft_dag.training.shards import PARAMS_KEY as PARAMS_KEY
from craft_dag.training.shards import SHARD_SCHEMA as SHARD_SCHEMA
from craft_dag.training.shards import TOO_SMALL as TOO_SMALL
from craft_dag.training.shards import TRAINING_SHARDS as TRAINING_SHARDS
from craft_dag.training.shards import IncompleteDatasetError as IncompleteDatasetError
from craft_dag.training.shards import ShardResult as ShardResult
from craft_dag.training.shards import build_shards as build_shards
from craft_dag.training.shards import load_shards as load_shards
from craft_dag.training.shards import sample_id as sample_id
from craft_dag.training.shards import shard_category as shard_category
from craft_dag.training.shards import shard_params as shard_params
