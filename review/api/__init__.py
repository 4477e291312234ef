"""The REST API (DRF, token or session auth): queue, leases, answers, adjudication, history.

Permissions are the web pages' own: review.policy (which reads review.roles).
"""
