"""Deployment files: Dockerfile, docker-compose.yml and their scripts."""
