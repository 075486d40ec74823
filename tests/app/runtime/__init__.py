"""Process-level tests: real servers, several processes, faults, migrations, the OpenAPI surface, the CLI."""
