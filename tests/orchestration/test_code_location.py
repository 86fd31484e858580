"""The whole code location loads, and its jobs and checks are wired as documented."""

from dagster import AssetKey, Definitions

from craft_dag.catalog.pack import bundled_pack_path, load_pack


def test_definitions_load() -> None:
    from craft_dag.definitions import defs

    Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    assert AssetKey("entities") in graph.materializable_asset_keys
    assert AssetKey("raw_images") in graph.materializable_asset_keys
    assert graph.get(AssetKey("raw_images")).parent_keys == {AssetKey("entities")}
    assert AssetKey("pack_files") in graph.observable_asset_keys
    entities = graph.get(AssetKey("entities"))
    assert (
        entities.partitions_def.get_partition_keys() == load_pack(bundled_pack_path()).category_ids
    )
    check_names = {k.name for k in graph.asset_check_keys}
    assert {"entities_unique_ids", "entities_have_queries", "entities_not_empty"} <= check_names
    assert {
        "raw_images_rows_and_blobs",
        "raw_images_provenance",
        "raw_images_coverage",
    } <= check_names
    assert set(defs.resources) >= {"pack", "storage", "image_source", "downloader"}
    assert defs.resolve_job_def("category_job").partitions_def is entities.partitions_def
    assert defs.resolve_job_def("observe_pack_job") is not None
