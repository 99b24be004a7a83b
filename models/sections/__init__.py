"""The `model:` sections of the lab's own models, chosen by `kind`: torch-free, so loading an
experiment file never imports torch. Each section's fields are its model's constructor
arguments (models/registry.py builds `Class(**fields, **data keywords)`), and its defaults
are the only ones: the constructors take every argument without a default."""
