"""Tests of app/reports/."""
