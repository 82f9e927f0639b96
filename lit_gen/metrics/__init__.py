"""torchmetrics ``Metric`` classes and sample-quality metrics."""
