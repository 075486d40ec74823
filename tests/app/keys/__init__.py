"""Tests of app/keys/."""
