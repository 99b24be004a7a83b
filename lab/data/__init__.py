"""Real image datasets, by name (`data.name` in a config), as in-memory uint8 tensors.

load.py picks a dataset's loader; each loader imports torch and reads its files only when
its dataset is asked for, so a config is validated (CelebA's attribute names included,
celeba_attributes.py) without loading torch.
"""
