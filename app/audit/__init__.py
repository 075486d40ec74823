"""Audit log: who changed what (models.py), recording it (service.py), reading it (router.py, schemas.py)."""
