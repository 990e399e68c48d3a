"""MLflow adapter: load models by URI or alias, tag versions, log validation runs."""
