"""Turns the validated model into component arguments, wires the program, and drives the Automation API."""
