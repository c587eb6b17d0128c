"""What a run leaves to read: report folders (JSON, CSV, a self-contained HTML page
with inline SVG charts) and the summary printed on the terminal."""
