"""Tests of app/channels/."""
