"""Captions and translations by shard (in process): the in-process rows, reuse, a failed shard.

Captions are compared under greedy decoding: the transformers backend seeds its sampler once
per batch, and a shard batches other images together than the whole category does, so sampled
captions are reproducible per shard layout but not equal to the in-process ones (vLLM seeds
each request, so its captions do not depend on batching).
"""

from pathlib import Path

import pytest

from craft_dag.captioning.caption_category import CAPTIONS, caption_category
from craft_dag.captioning.captioner import GenerationSettings
from craft_dag.captioning.choose import HUMAN_CAPTIONS
from craft_dag.captioning.summary import entity_names
from craft_dag.catalog.pack import load_pack
from craft_dag.curation.filtering import FILTERED
from craft_dag.parallel.captioning import CAPTION_PARTS, ShardedCaptions
from craft_dag.parallel.engines import InProcessEngine
from craft_dag.parallel.translation import ShardedTranslations
from craft_dag.resources.captioning import CaptionerResource, TranslatorResource
from craft_dag.resources.executor import BuiltOnWorker
from craft_dag.storage import Storage
from craft_dag.translation.glossary import GlossaryMatcher
from craft_dag.translation.quality import quality_signals
from craft_dag.translation.translate_category import TRANSLATED, translate_category
from tests.orchestration.test_captioning_assets import (  # noqa: F401  (reviewed: a fixture)
    CATEGORY,
    CLEAN,
    CLEAN_2,
    names_of,
    reviewed,
)

SHARDS = 3
GREEDY = GenerationSettings(max_new_tokens=12, temperature=0)


@pytest.fixture
def store(reviewed) -> Storage:  # noqa: F811
    """The reviewed category, with a person's caption for every filtered image in a CSV."""
    _, store, _ = reviewed
    names = names_of(store)
    lines = ["image_id,entity_id,caption,author"]
    for n, r in enumerate(store.read_table(FILTERED, CATEGORY).to_pylist()):
        text = (CLEAN if n % 2 else CLEAN_2).format(name=names[r["entity_id"]])
        lines.append(f'{r["image_id"]},{r["entity_id"]},"{text}",Ольга')
    store.write_file((HUMAN_CAPTIONS, CATEGORY, "all.csv"), ("\n".join(lines) + "\n").encode())
    return store


def _caption(
    store: Storage, pack_dir: Path, *, sharded: ShardedCaptions | None = None, policy="auto"
):
    pack = load_pack(pack_dir)
    return caption_category(
        store,
        CATEGORY,
        names=entity_names(store.read_table("entities", CATEGORY).to_pylist()),
        category_name=pack.category(CATEGORY).english_name,
        source_language=pack.meta.source_language,
        policy=policy,
        captioner=None if sharded else CaptionerResource().captioner(),
        settings=GREEDY,
        rules=pack.caption_rules,
        batch_size=4,
        auto_captions=sharded,
    )


def _sharded_captions(store: Storage, pack_dir: Path, setup=None) -> ShardedCaptions:
    pack = load_pack(pack_dir)
    setup = setup or BuiltOnWorker.of(CaptionerResource(), "captioner")
    return ShardedCaptions(
        store, CATEGORY, InProcessEngine(), setup, "tiny",
        entity_names(store.read_table("entities", CATEGORY).to_pylist()),
        pack.category(CATEGORY).english_name, GREEDY, 4, SHARDS,
    )  # fmt: skip


def _translate(store: Storage, pack_dir: Path, *, sharded: ShardedTranslations | None = None):
    pack = load_pack(pack_dir)
    source, target = pack.meta.source_language, pack.meta.target_language
    resource = TranslatorResource(num_beams=1)
    return translate_category(
        store,
        CATEGORY,
        translator=None if sharded else resource.translator(source, target),
        settings=resource.settings(),
        matcher=GlossaryMatcher.for_pack(pack),
        target_language=target,
        signals=lambda s, t: quality_signals(s, t, target_language=target),
        translate_rows=sharded,
    )


def _sharded_translations(store: Storage, pack_dir: Path) -> ShardedTranslations:
    pack = load_pack(pack_dir)
    resource = TranslatorResource(num_beams=1)
    setup = BuiltOnWorker.of(
        resource, "translator", pack.meta.source_language, pack.meta.target_language
    )
    return ShardedTranslations(
        store, CATEGORY, InProcessEngine(), setup, setup.describe(), resource.settings(),
        GlossaryMatcher.for_pack(pack), SHARDS,
    )  # fmt: skip


def test_sharded_captions_give_the_in_process_rows(store: Storage, ru_pack_copy: Path) -> None:
    whole = _caption(store, ru_pack_copy).table
    assert whole.num_rows >= 3

    captions = _sharded_captions(store, ru_pack_copy)
    sharded = _caption(store, ru_pack_copy, sharded=captions).table
    assert captions.report.count("done") == captions.report.summary()["shards"] > 1
    assert sharded.to_pylist() == whole.to_pylist()
    assert store.read_table(CAPTIONS, CATEGORY).to_pylist() == whole.to_pylist()


def test_sharded_translations_give_the_in_process_rows(store: Storage, ru_pack_copy: Path) -> None:
    _caption(store, ru_pack_copy, policy="human_only")  # every caption a person's, included
    whole_translated = _translate(store, ru_pack_copy).table
    assert whole_translated.num_rows >= 3
    translations = _sharded_translations(store, ru_pack_copy)
    translated = _translate(store, ru_pack_copy, sharded=translations).table
    assert translations.report.count("done") > 1
    assert translated.to_pylist() == whole_translated.to_pylist()
    assert store.read_table(TRANSLATED, CATEGORY).num_rows == whole_translated.num_rows


def test_a_second_run_reuses_every_caption_shard(store: Storage, ru_pack_copy: Path) -> None:
    first = _sharded_captions(store, ru_pack_copy)
    table = _caption(store, ru_pack_copy, sharded=first).table
    built: list[int] = []

    def never() -> object:
        built.append(1)
        raise AssertionError("no shard should need the model")

    again = _sharded_captions(store, ru_pack_copy, setup=never)
    assert _caption(store, ru_pack_copy, sharded=again).table.to_pylist() == table.to_pylist()
    assert again.report.count("reused") == again.report.summary()["shards"]
    assert not built


def test_a_model_that_fails_to_load_fails_the_partition_with_its_reason(
    store: Storage, ru_pack_copy: Path
) -> None:

    def broken() -> object:
        raise OSError("no weights at /models/llava")

    with pytest.raises(RuntimeError, match="every shard failed"):
        _caption(store, ru_pack_copy, sharded=_sharded_captions(store, ru_pack_copy, broken))
    manifest = store.read_file((CAPTION_PARTS, CATEGORY, "manifest.json")).decode()
    assert "no weights at /models/llava" in manifest


def test_rows_of_a_failed_translation_shard_are_kept_not_trainable(
    store: Storage, ru_pack_copy: Path
) -> None:
    _caption(store, ru_pack_copy, policy="human_only")
    rows = [r for r in store.read_table(CAPTIONS, CATEGORY).to_pylist() if r["included"]]
    translations = _sharded_translations(store, ru_pack_copy)
    first_shard = {}

    class FailOneShard(InProcessEngine):
        def run_pooled(self, tasks, setup, *, gpu=True):
            for result in super().run_pooled(tasks, setup, gpu=gpu):
                if not first_shard:
                    first_shard["shard"] = result.shard
                    result = type(result)(result.shard, result.items, 0.0, error="boom: planted")
                yield result

    translations.engine = FailOneShard()
    table = _translate(store, ru_pack_copy, sharded=translations).table.to_pylist()
    failed = [r for r in table if r["excluded_reason"].startswith("translation failed")]
    assert failed and all(
        not r["trainable"] and "boom: planted" in r["excluded_reason"] for r in failed
    )
    assert len(table) == len(rows)
