"""Profile surface: the admin view over profile state rows."""
