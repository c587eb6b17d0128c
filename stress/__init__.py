"""Stress toolkit of the flash-sale service: `python -m stress <command>`.

Multi-process load scripts that run simulated shoppers against a running server
(or one they start themselves) and say plainly whether the sale behaved: a
verdict, figures, and a report with charts.
"""
