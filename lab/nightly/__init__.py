"""The nightly suite: run listed experiments into runs/nightly/<date>/, compare each night's
final metrics with the night before, and keep an index page of every night."""
