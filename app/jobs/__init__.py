"""Background jobs: RQ when WHARFINGER_REDIS_URL is set, an in-process thread otherwise.

Job functions live in ``app.jobs.tasks`` and always run inside an app context created by
the factory (the RQ worker pushes one; the in-process runner pushes one per task).
"""
