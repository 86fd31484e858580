"""Image bytes: format sniffing, safe decoding, orientation, thumbnails and contact sheets."""
