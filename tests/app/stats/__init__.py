"""Tests of app/stats/."""
