"""Benchmarks of craft_dag's stages (not tests): run each as ``python -m bench.<name>``."""
