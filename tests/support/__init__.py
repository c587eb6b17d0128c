"""Helpers shared by the test layers: a real gunicorn server and HTTP helpers."""
