"""Executors run a pipeline of stages over items on replicas and yield one Result per item."""
