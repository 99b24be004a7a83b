"""The HTML report of a run: RUN/report.html and its pictures in RUN/plots/."""

from lab.report.writer import REPORT_FILE, write_report

__all__ = ["REPORT_FILE", "write_report"]
