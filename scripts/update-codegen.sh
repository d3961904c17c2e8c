#!/usr/bin/env bash
# Regenerate everything derived from the tagged types in apis/.
exec cargo xtask codegen "$@"
