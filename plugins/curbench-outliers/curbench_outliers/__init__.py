"""curbench-outliers: outlier detectors from scikit-learn as curbench data-stage scorers."""
