"""Tables of the monitoring app arrive with its issue."""
