"""The generative model of a run, whoever wrote it: named by `kind` (the lab's own models,
models/registry.py) or by `class_path` + `init_args` (any LightningModule, LightningCLI's
convention), built, checked against the contract of docs/models.md, sampled and saved with
what rebuilds it. The engine and the domains reach a model only through this package."""
