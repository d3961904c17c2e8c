#!/usr/bin/env bash
# Fail with a diff when generated files are stale; writes nothing.
exec cargo xtask codegen --check "$@"
