"""The HTML report of a run: RUN/report.html and its pictures in RUN/plots/ (writer.py)."""
