"""craft_dag: culturally adapt text-to-image models (the CRAFT methodology) with Dagster."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("craft-dag")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
