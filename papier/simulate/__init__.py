"""Simulated filling and scanning of kit pages, with exact truth (tests, benchmark, demo)."""
