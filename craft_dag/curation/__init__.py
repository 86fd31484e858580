"""Curation: cheap image-quality metrics and near-duplicate detection before human review."""
