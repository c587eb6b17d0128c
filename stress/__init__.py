"""Stress toolkit of the flash-sale service: `python -m stress <command>`.

Multi-process load scripts that run simulated shoppers against a running server
(or one they start themselves) and say plainly whether the sale behaved: a
verdict, figures, and a report with charts.

By job: client/ runs in the load processes (and starts them), scenarios/ is a
flash run, benchmarks/ the other measurements, verdicts/ the pure checks and
figures, report/ what a run leaves to read, servers/ what the toolkit starts,
commands/ the command line. records.py, api.py, api_client.py, stats.py and
runs.py are shared by them; locustfile.py stands alone, for Locust.
"""
