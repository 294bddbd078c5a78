"""The bench command's parts: baselines, datasets, measurements, reports, environment."""
