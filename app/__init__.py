"""Klaviyo sync service: keeps Klaviyo in step with the store, with an operator control panel."""
