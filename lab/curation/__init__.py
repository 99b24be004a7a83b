"""Curation: which of a generation's oversampled draws the next generation trains on."""
