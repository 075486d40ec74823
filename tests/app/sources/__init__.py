"""Tests of app/sources/."""
