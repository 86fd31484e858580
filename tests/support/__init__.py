"""Test helpers: a loopback HTTP server of images for the image downloader's tests."""
