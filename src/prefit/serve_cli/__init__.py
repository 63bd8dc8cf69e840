"""DailyMed SPL parsing and batch scoring with onnxruntime."""
