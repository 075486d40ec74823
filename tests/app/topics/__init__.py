"""Tests of app/topics/."""
