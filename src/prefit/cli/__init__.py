"""The console scripts `aug`, `train` and `score`: flags -> options -> library -> print."""
