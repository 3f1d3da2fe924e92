"""Periodic jobs that the server runs in the background and operators can run as their own process."""
