"""Collecting images for every entity: sources, the downloader, and the sample set."""
