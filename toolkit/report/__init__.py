"""Reports: report.json and report.md for tools and people, report.html with plots and images inline."""
