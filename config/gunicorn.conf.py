"""Gunicorn settings for the web role in docker-compose."""

bind = "0.0.0.0:8000"
workers = 3
worker_class = "sync"
timeout = 30
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = "*"
