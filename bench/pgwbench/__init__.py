"""proxygw's benchmark harness (make bench). See bench/README.md."""
