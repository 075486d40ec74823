"""Tests of app/alerts/."""
