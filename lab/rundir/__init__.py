"""The run directory: its layout and manifest, atomic writes, the lock, reading a finished
run back, and the named fault points the resume tests kill a run at."""
