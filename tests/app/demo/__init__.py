"""Tests of app/demo/."""
