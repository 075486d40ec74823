"""Tests of app/posts/."""
