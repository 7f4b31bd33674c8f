"""Gunshot location from acoustic sensors' arrival times (TDOA multilateration)."""
