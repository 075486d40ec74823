"""Tests of app/cases/."""
