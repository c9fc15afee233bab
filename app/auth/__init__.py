"""Admin authentication: Better-Auth sessions, role permissions and the route guards."""
