"""Benchmarks behind ``tickwork bench`` and ``make bench``.

Machines here are shared and noisy, so every benchmark times Tickwork's way and a baseline
side by side in the same process and reports the ratio, never a bare absolute figure.
"""
