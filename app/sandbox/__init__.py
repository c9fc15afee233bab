"""Klaviyo sandbox: a local emulator of the parts of Klaviyo's API the sync service uses."""
