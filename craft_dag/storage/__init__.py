"""Where craft_dag keeps its data: Parquet tables per asset partition and content-addressed blobs."""

from craft_dag.storage.store import Storage, StorageError, TableRef

__all__ = ["Storage", "StorageError", "TableRef"]
