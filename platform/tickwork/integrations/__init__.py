"""Clients for the outside services jobs use (Twilio, OpenAI, SMTP), built on their official libraries.

Each module here only configures an official client (base URL, timeouts); it never reimplements
a service's wire protocol, so the code path in tests is the one production runs.
"""
